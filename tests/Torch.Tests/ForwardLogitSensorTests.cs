using System.Diagnostics.Metrics;
using TorchSharp;
using static TorchSharp.torch;
using ScoresAndLogits = SpectralMonitor.Torch.Tests.ForwardLogitHooksTests.ScoresAndLogits;

namespace SpectralMonitor.Torch.Tests;

/// <summary>
/// <see cref="TorchSharpProbeOptions.ForwardLogits"/>: the monitor's step sensor reads the attention statistics of the
/// training forward of each step it reads (armed one step ahead), never those of a probe's forward, and exports them.
/// </summary>
[Collection(SerialTorchTests.Name)]
public sealed class ForwardLogitSensorTests
{
    [Fact]
    public void TheMonitorExportsTheAttentionOfEachReadStepsOwnTrainingForwardAndNotAProbes()
    {
        const string run = "forward-logit-sensor";
        torch.manual_seed(3);
        using var model = new ScoresAndLogits(trainable: true);
        using var optimizer = torch.optim.SGD(model.parameters(), 0.01);
        using var hooks = new ForwardLogitHooks(model, outputModule: null, [ScoresAndLogits.ProbeName]);
        using var x = torch.tensor(new float[] { 1, -1, 0.5f, 2, 0, -3 }).reshape(1, 2, 3);
        using var probeInputs = x * 100; // a probe forward's scores are 10⁴ times the training ones: unmistakable
        using var targets = torch.tensor(new long[] { 2, 0 });
        Tensor Loss(Tensor logits) => nn.functional.cross_entropy(logits.reshape(-1, 3), targets);
        var options = new TorchSharpMonitorOptions
        {
            // Probes at steps 0, 3, 6, 9; sensor reads due every 2nd step, armed the step before (the one due at 0 is read at 1).
            Monitor = new StabilityMonitorOptions { RunName = run, ProbeInterval = 3, FirstProbeStep = 0, OverheadBudget = 1, StepSensorInterval = 2 },
            Probe = new TorchSharpProbeOptions { ForwardLogits = hooks },
        };
        using var monitor = optimizer.AttachSpectralMonitor(model, () => Loss(model.forward(probeInputs)), options);
        using var gauge = new GaugeReader(Indicators.AttentionLogitMax, run);

        var expected = new List<double>();
        for (int step = 0; step < 12; step++)
        {
            using (var scope = torch.NewDisposeScope())
            {
                var inputs = x * (1 + (0.25 * step));
                optimizer.zero_grad();
                var loss = Loss(model.call(inputs));
                using (torch.no_grad())
                using (var stats = ForwardLogitHooks.AttentionStatistics(ScoresAndLogits.Scores(inputs * model.parameters().Single())))
                {
                    expected.Add(stats.data<double>()[0]);
                }

                loss.backward();
                optimizer.step();
                monitor.OnStep(step, loss.item<float>());
            }

            double? observed = gauge.Read();
            if (step == 0)
            {
                Assert.Null(observed);
                continue;
            }

            // The gauge holds the latest read: this step's at 1 and at even steps, the previous step's otherwise.
            int readStep = step == 1 || step % 2 == 0 ? step : step - 1;
            Assert.NotNull(observed);
            Assert.Equal(expected[readStep], observed.Value, 6);
        }

        Assert.Equal(4, monitor.ProbeCount);
        Assert.True(hooks.CaptureTime > TimeSpan.Zero);
        Assert.True(monitor.Cost.SensorSeconds > 0);
    }

    /// <summary>Reads one gauge of one run through a <see cref="MeterListener"/>.</summary>
    internal sealed class GaugeReader : IDisposable
    {
        private readonly MeterListener _listener = new();
        private double? _value;

        public GaugeReader(string indicator, string run)
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == StabilityMonitor.MeterName && instrument.Name == "stability." + indicator)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "run" && Equals(tag.Value, run))
                    {
                        _value = value;
                    }
                }
            });
            _listener.Start();
        }

        public double? Read()
        {
            _value = null;
            _listener.RecordObservableInstruments();
            return _value;
        }

        public void Dispose() => _listener.Dispose();
    }
}
