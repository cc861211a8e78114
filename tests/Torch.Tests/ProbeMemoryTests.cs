using SpectralMonitor.Benchmarks.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

/// <summary>
/// The documented memory bound of a probe: at most <c>k + 4</c> parameter-sized vectors beyond the first-order graph
/// (and the optimizer-state copies made with it), where <c>k = KrylovDimension + 1</c> is the Krylov basis, with the
/// default one warm-start vector. Measured as the peak of live allocations on this process: glibc serves every
/// allocation of 64 KiB or more by its own mapping and fills it at once, so the peak resident set (VmHWM, reset right
/// after the graph build) rises exactly with the live tensor bytes (PeakMemory in benchmarks/Torch).
/// </summary>
[Collection(SerialTorchTests.Name)]
public class ProbeMemoryTests
{
    // The MLP 512-1024-512-10 in float64: 1,055,242 parameters, 8.4 MB per vector, so the runtime's own noise (JIT and
    // the managed heap growing between collections, a few megabytes) stays below half a vector.
    private const double Noise = 0.5;

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    public void PeakProbeMemoryIsWithinKPlusFourVectors(string optimizerKind)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "peak memory is read from /proc/self (Linux only)");
        using var memory = PeakMemory.Create(torch.CPU);
        Assert.NotNull(memory);

        using var scope = TensorProbeScope.Begin();
        torch.manual_seed(3);
        using var model = nn.Sequential(("fc1", nn.Linear(512, 1024, dtype: ScalarType.Float64)), ("act1", nn.Tanh()), ("fc2", nn.Linear(1024, 512, dtype: ScalarType.Float64)), ("act2", nn.Tanh()), ("fc3", nn.Linear(512, 10, dtype: ScalarType.Float64)));
        using var inputs = torch.randn(new long[] { 32, 512 }, ScalarType.Float64);
        using var labels = torch.randint(0, 10, new long[] { 32 });
        using var optimizer = optimizerKind == "sgd" ? optim.SGD(model.parameters(), 0.05, momentum: 0.9) : (optim.Optimizer)optim.Adam(model.parameters(), 1e-3);
        for (int step = 0; step < 3; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            optimizer.zero_grad();
            nn.functional.cross_entropy(model.forward(inputs), labels).backward();
            optimizer.step();
        }

        var target = new TorchSharpProbeTarget(model, optimizer, ProbeLoss.OnFirstRows(model, inputs, labels, (p, t) => nn.functional.cross_entropy(p, t), 32));
        long n = target.Parameters.Dimension;
        memory.Tracing = true;
        var metered = new InstrumentedTarget(target, memory);

        // KrylovDimension 8 and a tight tolerance make the cold probe fill the basis and restart, so the whole basis is
        // live at the peak: k = 9 vectors, bound 13.
        var options = new StabilityMonitorOptions { KrylovDimension = 8, Tolerance = 1e-9, MaxHvpsPerProbe = 40, Rules = [] };
        using var monitor = StabilityMonitor.Create(metered, options);
        int k = options.KrylovDimension + 1;
        for (int probe = 0; probe < 2; probe++)
        {
            var result = monitor.ProbeNow(probe);
            Assert.NotNull(result);
            Assert.Equal(ProbeStatus.Succeeded, result.Status);
            if (probe == 0)
            {
                Assert.True(result.Convergence!.Iterations > 0, "the cold probe must restart (fill the basis) for the bound to be tested at its worst");
            }

            double vectors = metered.Last!.PeakBytes / (8.0 * n);
            string trace = string.Join(", ", memory.Trace.Select(t => $"{t.Label} {t.Bytes / (8.0 * n):F1}"));
            memory.Trace.Clear();
            Assert.True(vectors > k / 2.0, $"probe {probe}: the meter saw only {vectors:F2} vectors; it is not measuring the basis");
            Assert.True(vectors <= k + 4 + Noise, $"probe {probe} ({optimizerKind}): peak {vectors:F2} parameter-sized vectors beyond the first-order graph; the bound is k + 4 = {k + 4}. Running peak: {trace}");
        }
    }
}
