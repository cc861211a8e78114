using System.Diagnostics;
using System.Globalization;
using SpectralMonitor.Reference.Monitoring;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// The short learning-rate sweep behind the fixed rates of <see cref="DetectionBenchmark"/>: unmonitored full-batch
/// runs of every model and optimizer over a grid, reporting spikes, divergence and final loss.
/// <c>dotnet run -c Release --project benchmarks -- detection sweep</c>.
/// </summary>
internal static class DetectionSweep
{
    private static readonly double[] SgdGrid = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0];
    private static readonly double[] AdamGrid = [0.003, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5];

    public static void Run()
    {
        var total = Stopwatch.StartNew();
        Console.WriteLine("model            opt    lr       spikes  first  diverged  final loss   min loss");
        foreach (var model in DetectionSuite.Models)
        {
            foreach (var optimizer in DetectionSuite.Optimizers)
            {
                foreach (double lr in optimizer == DetectionSuite.Sgd ? SgdGrid : AdamGrid)
                {
                    var record = MonitoredRun.Execute(DetectionSuite.Spec(model, optimizer, lr, seed: 1), options: null);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{model.Name,-16} {optimizer.Name,-6} {lr,-8:G3} {record.SpikeOnsets.Count,6}  {record.FirstSpike?.ToString(CultureInfo.InvariantCulture) ?? "-",5}  {record.Diverged,8}  {record.FinalLoss,10:G3} {record.Losses.Where(double.IsFinite).Min(),10:G3}"));
                }
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sweep wall time {total.Elapsed.TotalSeconds:F1} s"));
    }
}
