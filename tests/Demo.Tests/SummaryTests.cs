using System.Text.Json;

namespace SpectralMonitor.Examples.InstabilityDemo.Tests;

[Collection(QuickRunGroup.Name)]
public sealed class SummaryTests(QuickRun run)
{
    private static readonly string[] RunFields =
    [
        "optimizer", "learningRate", "backoff", "steps", "spikes", "firstSpikeStep", "firstAlertStep", "leadSteps", "finalLoss", "indicators",
    ];

    private JsonElement Summary()
    {
        Assert.True(run.ExitCode == 0, $"exit code {run.ExitCode}; stderr: {run.Error}");
        using var document = JsonDocument.Parse(File.ReadAllText(run.SummaryPath));
        return document.RootElement.Clone();
    }

    private static JsonElement[] Runs(JsonElement summary) => [.. summary.GetProperty("runs").EnumerateArray()];

    private static JsonElement Run(JsonElement summary, string id) => Runs(summary).Single(r => r.GetProperty("id").GetString() == id);

    private static int? NullableInt(JsonElement run, string name) =>
        run.GetProperty(name).ValueKind == JsonValueKind.Null ? null : run.GetProperty(name).GetInt32();

    [Fact]
    public void Quick_run_succeeds_and_writes_both_artifacts()
    {
        Assert.True(run.ExitCode == 0, $"exit code {run.ExitCode}; stderr: {run.Error}");
        Assert.True(File.Exists(run.SummaryPath));
        Assert.True(File.Exists(run.ReportPath));

        // Atomic writes leave no temporary files behind.
        Assert.Empty(Directory.GetFiles(run.Folder, "*.tmp"));
        Assert.Contains("Prometheus endpoint off", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_run_is_reported_with_the_documented_fields()
    {
        var summary = Summary();
        var runs = Runs(summary);
        Assert.Equal(DemoCatalog.All.Select(r => r.Id), runs.Select(r => r.GetProperty("id").GetString()));
        foreach (var r in runs)
        {
            foreach (string field in RunFields)
            {
                Assert.True(r.TryGetProperty(field, out _), $"{r.GetProperty("id")} lacks {field}");
            }

            Assert.Equal(DemoCatalog.QuickSteps, r.GetProperty("steps").GetInt32());
            Assert.Equal(JsonValueKind.Number, r.GetProperty("finalLoss").ValueKind);
            Assert.Contains(r.GetProperty("optimizer").GetString(), new[] { "sgd", "adam" });
        }
    }

    [Fact]
    public void Stable_runs_do_not_spike_and_unstable_runs_spike_without_diverging()
    {
        var summary = Summary();
        foreach (var r in Runs(summary))
        {
            string id = r.GetProperty("id").GetString()!;
            int spikes = r.GetProperty("spikes").GetInt32();
            switch (r.GetProperty("role").GetString())
            {
                case "stable":
                    Assert.True(spikes == 0, $"{id}: {spikes} spikes");
                    Assert.Null(NullableInt(r, "firstSpikeStep"));
                    break;
                case "unstable":
                    Assert.True(spikes > 0, $"{id}: no spike");
                    Assert.False(r.GetProperty("diverged").GetBoolean(), $"{id} diverged");
                    Assert.Equal(DemoCatalog.QuickSteps, r.GetProperty("stepsRun").GetInt32());
                    break;
            }
        }

        Assert.True(summary.GetProperty("invariantsHold").GetBoolean());
    }

    [Fact]
    public void Backoff_runs_spike_less_than_their_twins_and_did_back_off()
    {
        var summary = Summary();
        foreach (var r in Runs(summary).Where(r => r.GetProperty("backoff").GetBoolean()))
        {
            string group = r.GetProperty("group").GetString()!;
            var twin = Run(summary, $"{group}-unstable");
            Assert.Equal(twin.GetProperty("learningRate").GetDouble(), r.GetProperty("learningRate").GetDouble());
            Assert.True(
                r.GetProperty("spikes").GetInt32() < twin.GetProperty("spikes").GetInt32(),
                $"{group}: {r.GetProperty("spikes")} spikes with backoff, {twin.GetProperty("spikes")} without");

            var backoffs = r.GetProperty("backoffs").EnumerateArray().ToArray();
            Assert.NotEmpty(backoffs);
            Assert.All(backoffs, b => Assert.True(b.GetProperty("to").GetDouble() < b.GetProperty("from").GetDouble()));
            Assert.True(r.GetProperty("minLearningRate").GetDouble() < r.GetProperty("learningRate").GetDouble());
        }

        // Runs without backoff never change their learning rate.
        foreach (var r in Runs(summary).Where(r => !r.GetProperty("backoff").GetBoolean()))
        {
            Assert.Empty(r.GetProperty("backoffs").EnumerateArray());
            Assert.Equal(r.GetProperty("learningRate").GetDouble(), r.GetProperty("minLearningRate").GetDouble());
        }
    }

    [Fact]
    public void Lead_times_are_consistent_with_the_first_spike_and_the_first_alert()
    {
        var summary = Summary();
        foreach (var r in Runs(summary))
        {
            string id = r.GetProperty("id").GetString()!;
            int? spike = NullableInt(r, "firstSpikeStep");
            int? alert = NullableInt(r, "firstAlertStep");
            int? lead = NullableInt(r, "leadSteps");
            var spikeSteps = r.GetProperty("spikeSteps").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var alertSteps = r.GetProperty("alerts").EnumerateArray().Select(e => e.GetProperty("step").GetInt32()).ToArray();

            Assert.Equal(r.GetProperty("spikes").GetInt32(), spikeSteps.Length);
            Assert.Equal(spikeSteps.Length > 0 ? spikeSteps[0] : null, spike);
            Assert.Equal(alertSteps.Length > 0 ? alertSteps[0] : null, alert);
            if (spike is int s && alert is int a)
            {
                Assert.True(lead == s - a, $"{id}: lead {lead} ≠ {s} − {a}");
            }
            else
            {
                Assert.Null(lead);
            }
        }

        // The point of the demo: on every unstable run the monitor warned before the loss spiked.
        foreach (var r in Runs(summary).Where(r => r.GetProperty("role").GetString() == "unstable"))
        {
            Assert.True(r.GetProperty("leadSteps").GetInt32() > 0, $"{r.GetProperty("id")}: lead {r.GetProperty("leadSteps")}");
        }
    }

    [Fact]
    public void Indicator_statistics_are_ordered_and_ratios_are_relative_to_the_stable_twin()
    {
        var summary = Summary();
        foreach (var r in Runs(summary))
        {
            string id = r.GetProperty("id").GetString()!;
            var stable = Run(summary, $"{r.GetProperty("group").GetString()}-stable");
            foreach (var indicator in r.GetProperty("indicators").EnumerateObject())
            {
                var median = indicator.Value.GetProperty("median");
                var max = indicator.Value.GetProperty("max");
                var ratio = indicator.Value.GetProperty("unstableToStableRatio");
                if (median.ValueKind == JsonValueKind.Null)
                {
                    Assert.Equal(JsonValueKind.Null, max.ValueKind);
                    continue;
                }

                Assert.True(median.GetDouble() <= max.GetDouble(), $"{id}.{indicator.Name}: median {median} > max {max}");
                var stableMedian = stable.GetProperty("indicators").GetProperty(indicator.Name).GetProperty("median");
                if (ratio.ValueKind == JsonValueKind.Number)
                {
                    // The ratio is computed from the same doubles that were written: agreement to a few ulps
                    // (the JSON round trip of a double is exact; one division rounds once).
                    double expected = median.GetDouble() / stableMedian.GetDouble();
                    Assert.Equal(expected, ratio.GetDouble(), Math.Abs(expected) * 1e-14);
                }
                else
                {
                    Assert.Equal(JsonValueKind.Null, ratio.ValueKind);
                    Assert.True(stableMedian.ValueKind == JsonValueKind.Null || stableMedian.GetDouble() == 0, $"{id}.{indicator.Name}: ratio missing");
                }
            }
        }

        // The edge indicator separates the regimes: the unstable runs sit much closer to the edge.
        foreach (string group in new[] { "sgd", "adam", "deep" })
        {
            double ratio = Run(summary, $"{group}-unstable").GetProperty("indicators").GetProperty(Indicators.SharpnessToEdge).GetProperty("unstableToStableRatio").GetDouble();
            Assert.True(ratio > 1.5, $"{group}: sharpness_to_edge ratio {ratio}");
        }
    }
}
