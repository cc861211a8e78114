using System.Text.Json;
using SpectralMonitor.Examples.Workloads;

namespace SpectralMonitor.Examples.InstabilityDemo.Tests;

public sealed class SummaryWriterTests
{
    private static DemoRunResult Result(DemoRunDefinition definition, double[] losses, IReadOnlyList<ProbeResult> probes, bool diverged) =>
        new(
            definition,
            losses.Length,
            new RunTrace(definition.ToSpec(1, losses.Length), 1000, losses, [.. losses.Select(_ => definition.LearningRate)], [.. losses.Select(_ => 1.0)], probes, [], [], diverged, Cancelled: false, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(0.5)),
            []);

    private static ProbeResult Probe(long step, double sharpnessToEdge) =>
        new(step, ProbeStatus.Succeeded, null, ProbePath.Structured, TimeSpan.FromMilliseconds(10), 10, new Dictionary<string, double> { [Indicators.SharpnessToEdge] = sharpnessToEdge }, [], null);

    [Fact]
    public void Non_finite_values_are_strings_and_missing_values_are_null()
    {
        var stable = DemoCatalog.All.Single(r => r.Id == "cnn-stable");
        var unstable = DemoCatalog.All.Single(r => r.Id == "cnn-unstable");

        // The unstable run's loss is never finite (FinalLoss = NaN) and its only probe saw +∞; the stable run's
        // median is 0.5, so the ratio of the unstable run has no finite numerator and is absent.
        var results = new[]
        {
            Result(stable, [1.0, 0.9, 0.8], [Probe(0, 0.25), Probe(1, 0.5), Probe(2, 0.75)], diverged: false),
            Result(unstable, [double.NaN], [Probe(0, double.PositiveInfinity)], diverged: true),
        };
        var settings = new DemoSettings(1, null, "out", [stable, unstable], Quick: true, Serve: false, Port: 0);
        var report = new DemoReport(settings, results, DemoComparisons.Invariants(results), TimeSpan.FromSeconds(2));

        using var document = JsonDocument.Parse(SummaryWriter.ToJson(report));
        var runs = document.RootElement.GetProperty("runs");
        var a = runs[0];
        var b = runs[1];
        var edgeA = a.GetProperty("indicators").GetProperty(Indicators.SharpnessToEdge);
        var edgeB = b.GetProperty("indicators").GetProperty(Indicators.SharpnessToEdge);

        // Exact: the median of {0.25, 0.5, 0.75} and the ratio of a number to itself.
        Assert.Equal(0.5, edgeA.GetProperty("median").GetDouble());
        Assert.Equal(0.75, edgeA.GetProperty("max").GetDouble());
        Assert.Equal(1.0, edgeA.GetProperty("unstableToStableRatio").GetDouble());
        Assert.Equal(JsonValueKind.Null, edgeB.GetProperty("median").ValueKind);
        Assert.Equal(JsonValueKind.Null, edgeB.GetProperty("unstableToStableRatio").ValueKind);
        Assert.Equal("NaN", b.GetProperty("finalLoss").GetString());
        Assert.True(b.GetProperty("diverged").GetBoolean());
        Assert.Equal(JsonValueKind.Null, a.GetProperty("firstSpikeStep").ValueKind);
        Assert.Equal(JsonValueKind.Null, a.GetProperty("leadSteps").ValueKind);
        Assert.Equal(10.0, a.GetProperty("meanProbeMilliseconds").GetDouble());

        // The invariant "unstable runs do not diverge" is reported as failed, not hidden.
        Assert.False(document.RootElement.GetProperty("invariantsHold").GetBoolean());
        Assert.Contains(DemoComparisons.Invariants(results), c => !c.Holds && c.Name == "cnn-unstable does not diverge");
    }
}
