using SpectralMonitor.Benchmarks.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

/// <summary>
/// The documented memory bound of a probe, beyond the first-order graph (and the optimizer-state copies made with it):
/// <c>k + 2</c> parameter-sized vectors for SGD and <c>k + 4</c> for Adam, where <c>k = KrylovDimension + 1</c> is the
/// Krylov basis; the other two are one Hessian-vector product's working memory (its per-parameter output, one vector,
/// and autograd's sum of two contributions to one parameter, at most the largest parameter tensor: half a vector here)
/// and, for Adam, P^½ and one scratch vector. The warm-start vector is freed once the start vector is built and the
/// Ritz vector is written straight into it at the end, so neither adds to the peak. Measured as the peak of the
/// process's live native allocations (PeakMemory in benchmarks/Torch, created before the model so that its malloc
/// settings hold from the first tensor): glibc serves every allocation of 64 KiB or more by its own mapping and fills
/// it at once, so the peak resident set (VmHWM, reset right after the graph build) rises with the live tensor bytes;
/// what else the resident set had gained by the first sample at the peak (the managed heap, BLAS buffers: the resident
/// set less malloc's live bytes) is subtracted.
/// </summary>
[Collection(SerialTorchTests.Name)]
public class ProbeMemoryTests
{
    // The MLP 512-1024-512-10 in float64: 1,055,242 parameters, 8.4 MB per vector. Measured: SGD 10.7 cold and 5.5 warm
    // against k + 2 = 11, Adam 12.5–12.7 against k + 4 = 13 (k = 9), so one more vector (8.4 MB) fails either case
    // (checked by holding one). The noise left is allocations of 64 KiB or more made inside a few HVPs that stay live
    // to the end of the probe (up to 0.2 of a vector seen, in SGD's cold probe; not attributed). Before the growth
    // outside malloc was subtracted, the managed heap and first-touched buffers added another 0.2–0.25 here and more
    // elsewhere (SGD 11.4–11.5 in earlier runs, Adam 13.6 once in CI, against 10.6 and 12.6).
    private const double Noise = 0.5;

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    public void PeakProbeMemoryIsWithinTheDocumentedBound(string optimizerKind)
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
        // live at the peak: k = 9 vectors, bound 11 (SGD) or 13 (Adam).
        var options = new StabilityMonitorOptions { KrylovDimension = 8, Tolerance = 1e-9, MaxHvpsPerProbe = 40, Rules = [] };
        int k = options.KrylovDimension + 1;
        int bound = optimizerKind == "sgd" ? k + 2 : k + 4;

        // One unmeasured probe first: the first Krylov solve in a process makes libtorch and its BLAS allocate buffers
        // they keep for the process's lifetime (up to about half a vector here), which are not the probe's memory.
        using (var warmUp = StabilityMonitor.Create(target, options with { RunName = "warm-up" }))
        {
            Assert.Equal(ProbeStatus.Succeeded, warmUp.ProbeNow(0)!.Status);
        }

        using var monitor = StabilityMonitor.Create(metered, options);
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
            Assert.True(vectors <= bound + Noise, $"probe {probe} ({optimizerKind}): peak {vectors:F2} parameter-sized vectors beyond the first-order graph; the bound is {bound} (k = {k}). Running peak: {trace}");
        }
    }
}
