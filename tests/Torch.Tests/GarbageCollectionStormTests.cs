using SpectralMonitor.Benchmarks.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

/// <summary>
/// The monitor's own TorchSharp calls while another thread allocates as fast as it can, so that garbage collections
/// (and finalizers) run during every native call: the setting in which TorchSharp's temporary Scalars are freed too
/// early (<see cref="ScalarLifetimeTests"/>). Probes and optimizer-state reads must succeed and give the same bits as a
/// quiet twin. Serial: the storm would hit any other test's TorchSharp optimizer, which converts implicitly.
/// </summary>
[Collection(SerialTorchTests.Name)]
public class GarbageCollectionStormTests
{
    private const int Probes = 12;
    private const int Reads = 6_000;

    // How many collections the storm must cause: on a fast machine the fixed work above gave 41 in one CI run, so the
    // stormy pass goes on reading until it has seen more than this many (or a minute has passed).
    private const int MinimumCollections = 50;

    [Fact]
    public void Probes_and_state_reads_give_the_same_bits_while_another_thread_collects()
    {
        var quiet = Measure(storm: false);
        var stormy = Measure(storm: true);

        Assert.True(stormy.Collections > MinimumCollections, $"the storm must collect during the probes and reads (it collected {stormy.Collections} times)");
        Assert.Equal(quiet.Probes, stormy.Probes);

        // Every read is of the same optimizer state, so every one must give the quiet twin's bits.
        string expected = Assert.Single(quiet.Reads.Distinct());
        Assert.All(stormy.Reads, read => Assert.Equal(expected, read));
    }

    private static (List<string> Probes, List<string> Reads, int Collections) Measure(bool storm)
    {
        using var mlp = new TinyMlp(ScalarType.Float32, seed: 3, inputs: 8, hidden: 24, outputs: 4, batch: 32);
        using var optimizer = torch.optim.AdamW(mlp.Model.parameters(), 0.01);
        using (torch.NewDisposeScope())
        {
            // Adam's moments exist before the storm starts; TorchSharp's own step converts numbers implicitly.
            optimizer.zero_grad();
            mlp.Loss().backward();
            optimizer.step();
        }

        using var monitor = optimizer.AttachSpectralMonitor(mlp.Model, mlp.Loss);
        int before = GC.CollectionCount(0);
        var allocations = AllocationStorm.StartIf(storm);

        var probes = new List<string>();
        var reads = new List<string>();
        try
        {
            for (int i = 0; i < Probes; i++)
            {
                var probe = monitor.ProbeNow(i);
                Assert.NotNull(probe);
                Assert.True(probe.Status == ProbeStatus.Succeeded, $"probe {i} ({(storm ? "storm" : "quiet")}): {probe.Status}: {probe.FailureReason}");
                probes.Add(string.Join(";", probe.Indicators.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={BitConverter.DoubleToInt64Bits(p.Value):x}")));
            }

            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < Reads || (storm && GC.CollectionCount(0) - before <= MinimumCollections && clock.Elapsed < TimeSpan.FromMinutes(1)); i++)
            {
                var statistics = OptimizerStepStatisticsReader.TryRead(optimizer, out string? reason);
                Assert.True(statistics is not null, reason);
                reads.Add(statistics.ToString());
            }
        }
        finally
        {
            allocations?.Dispose();
        }

        return (probes, reads, GC.CollectionCount(0) - before);
    }
}
