using System.Text.Json;
using SpectralMonitor.Examples.Workloads;

namespace SpectralMonitor.Examples.InstabilityDemo.Tests;

[Collection(QuickRunGroup.Name)]
public sealed class SummaryTests(QuickRun run)
{
    private static readonly string[] TopFields =
    [
        "format", "seed", "quick", "spikeDefinition", "warningHorizon", "nonFinite", "elapsedSeconds", "invariantsHold", "invariants", "runs",
    ];

    private static readonly string[] RunFields =
    [
        "id", "group", "role", "model", "parameters", "optimizer", "learningRate", "warmupSteps", "batchSize", "backoff", "spikeGuard", "steps", "stepsRun",
        "diverged", "skippedUpdates", "spikes", "spikeSteps", "firstSpikeStep", "firstAlertStep", "warningStep", "leadSteps", "alertActiveAtFirstSpike",
        "alarmTimeFraction", "finalLoss", "minLearningRate", "probeInterval", "probeBatchSize", "probes", "failedProbes", "hessianVectorProducts",
        "elapsedSeconds", "probeSeconds", "meanStepMilliseconds", "meanProbeMilliseconds", "alerts", "alertLevelChanges", "backoffs", "indicators",
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
    public void The_summary_has_the_documented_schema()
    {
        var summary = Summary();
        foreach (string field in TopFields)
        {
            Assert.True(summary.TryGetProperty(field, out _), $"summary lacks {field}");
        }

        Assert.Equal(SummaryWriter.Format, summary.GetProperty("format").GetString());
        Assert.Equal(DemoCatalog.DefaultSeed, summary.GetProperty("seed").GetInt32());
        Assert.True(summary.GetProperty("quick").GetBoolean());
        var runs = Runs(summary);
        Assert.Equal(DemoCatalog.All.Select(r => r.Id), runs.Select(r => r.GetProperty("id").GetString()));
        foreach (var r in runs)
        {
            string id = r.GetProperty("id").GetString()!;
            foreach (string field in RunFields)
            {
                Assert.True(r.TryGetProperty(field, out _), $"{id} lacks {field}");
            }

            var definition = DemoCatalog.All.Single(d => d.Id == id);
            Assert.Equal(definition.QuickSteps, r.GetProperty("steps").GetInt32());
            Assert.Equal(definition.OptimizerId, r.GetProperty("optimizer").GetString());
            Assert.Equal(JsonValueKind.Number, r.GetProperty("finalLoss").ValueKind);

            // The parameter counts follow from the architectures (see WorkloadTests for the arithmetic).
            Assert.Equal(definition.Workload == WorkloadKind.CharGpt ? 61_835 : 18_346, r.GetProperty("parameters").GetInt64());
            Assert.True(r.GetProperty("probes").GetInt32() > 0, $"{id}: no probe");
            Assert.Equal(0, r.GetProperty("failedProbes").GetInt32());
            Assert.True(r.GetProperty("hessianVectorProducts").GetInt64() >= r.GetProperty("probes").GetInt32(), $"{id}: fewer HVPs than probes");
            foreach (var alert in r.GetProperty("alerts").EnumerateArray())
            {
                Assert.Contains(alert.GetProperty("level").GetString(), new[] { "ok", "warning", "critical" });
                Assert.Equal(alert.GetProperty("raised").GetBoolean(), Rank(alert.GetProperty("level").GetString()!) > Rank(alert.GetProperty("previousLevel").GetString()!));
            }
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
                    Assert.Equal(r.GetProperty("steps").GetInt32(), r.GetProperty("stepsRun").GetInt32());
                    break;
            }
        }

        Assert.True(summary.GetProperty("invariantsHold").GetBoolean());
    }

    [Fact]
    public void Backoff_runs_spike_less_than_their_twins_and_every_backoff_follows_an_alert()
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
            var raisedAt = r.GetProperty("alerts").EnumerateArray().Where(a => a.GetProperty("raised").GetBoolean()).Select(a => a.GetProperty("step").GetInt64()).ToHashSet();
            foreach (var b in backoffs)
            {
                // The default policy reduces the factor only when a rule raises its level, at that step.
                Assert.True(b.GetProperty("toFactor").GetDouble() < b.GetProperty("fromFactor").GetDouble());
                Assert.Contains(b.GetProperty("step").GetInt64(), raisedAt);
            }

            Assert.True(r.GetProperty("minLearningRate").GetDouble() < r.GetProperty("learningRate").GetDouble());
        }

        // Runs without backoff or spike guard keep the scheduled rate: constant after the warm-up.
        foreach (var r in Runs(summary).Where(r => !r.GetProperty("backoff").GetBoolean() && !r.GetProperty("spikeGuard").GetBoolean()))
        {
            Assert.Empty(r.GetProperty("backoffs").EnumerateArray());
            Assert.Equal(r.GetProperty("learningRate").GetDouble(), r.GetProperty("minLearningRate").GetDouble());
        }
    }

    [Fact]
    public void Guard_runs_skip_updates_halve_the_rate_and_end_below_their_unguarded_twins()
    {
        var summary = Summary();
        var guarded = Runs(summary).Where(r => r.GetProperty("spikeGuard").GetBoolean()).ToArray();
        Assert.NotEmpty(guarded);
        foreach (var r in guarded)
        {
            string group = r.GetProperty("group").GetString()!;
            var twin = Run(summary, $"{group}-unstable");
            Assert.Equal("guard", r.GetProperty("role").GetString());
            Assert.False(r.GetProperty("backoff").GetBoolean(), $"{group}: the guard run also has the alert backoff");
            Assert.Equal(twin.GetProperty("learningRate").GetDouble(), r.GetProperty("learningRate").GetDouble());
            Assert.True(r.GetProperty("skippedUpdates").GetInt32() > 0, $"{group}: the guard skipped nothing");
            Assert.False(r.GetProperty("diverged").GetBoolean());
            Assert.True(
                r.GetProperty("finalLoss").GetDouble() < twin.GetProperty("finalLoss").GetDouble(),
                $"{group}: final loss {r.GetProperty("finalLoss")} with the guard, {twin.GetProperty("finalLoss")} without");

            // Every cut is the guard's: half the factor (the default BackoffFactor), never below the 0.01 floor.
            var backoffs = r.GetProperty("backoffs").EnumerateArray().ToArray();
            Assert.NotEmpty(backoffs);
            foreach (var b in backoffs)
            {
                double from = b.GetProperty("fromFactor").GetDouble(), to = b.GetProperty("toFactor").GetDouble();
                Assert.Equal(Math.Max(from * 0.5, 0.01), to, 12);
            }
        }

        // Only the guard skips updates.
        foreach (var r in Runs(summary).Where(r => !r.GetProperty("spikeGuard").GetBoolean()))
        {
            Assert.Equal(0, r.GetProperty("skippedUpdates").GetInt32());
        }
    }

    [Fact]
    public void Derived_alert_fields_agree_with_the_alert_list()
    {
        var summary = Summary();
        int horizon = summary.GetProperty("warningHorizon").GetInt32();
        foreach (var r in Runs(summary))
        {
            string id = r.GetProperty("id").GetString()!;
            int? spike = NullableInt(r, "firstSpikeStep");
            var spikeSteps = r.GetProperty("spikeSteps").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var alerts = r.GetProperty("alerts").EnumerateArray().ToArray();
            var raised = alerts.Where(a => a.GetProperty("raised").GetBoolean()).Select(a => a.GetProperty("step").GetInt32()).ToArray();

            Assert.Equal(r.GetProperty("spikes").GetInt32(), spikeSteps.Length);
            Assert.Equal(spikeSteps.Length > 0 ? spikeSteps[0] : null, spike);
            Assert.Equal(raised.Length > 0 ? raised[0] : null, NullableInt(r, "firstAlertStep"));

            int? warning = spike is int s ? raised.Where(a => a < s && a >= s - horizon).Select(a => (int?)a).LastOrDefault() : null;
            Assert.Equal(warning, NullableInt(r, "warningStep"));
            Assert.Equal(spike is int s2 && warning is int w ? s2 - w : null, NullableInt(r, "leadSteps"));

            // The monitor's level per step, from its change list: the alarm time is the share of steps above OK.
            int steps = r.GetProperty("stepsRun").GetInt32();
            var level = new int[steps];
            foreach (var change in r.GetProperty("alertLevelChanges").EnumerateArray())
            {
                int from = change[0].GetInt32();
                Array.Fill(level, change[1].GetInt32(), from, steps - from);
            }

            int on = level.Count(l => l > 0);
            Assert.Equal(Math.Round((double)on / steps, 4), r.GetProperty("alarmTimeFraction").GetDouble());
            Assert.Equal(spike is int s3 && s3 > 0 && level[s3 - 1] > 0, r.GetProperty("alertActiveAtFirstSpike").GetBoolean());

            // Every raised alert shows in the level at its step (the level is the highest over the rules).
            foreach (var alert in alerts.Where(a => a.GetProperty("raised").GetBoolean()))
            {
                int step = alert.GetProperty("step").GetInt32();
                Assert.True(level[step] >= Rank(alert.GetProperty("level").GetString()!), $"{id}: {alert} but level {level[step]}");
            }

            // The raised/lowered events alone give a lower bound: a rule that rises again within its cooldown
            // changes its level without an event, but every event's level is real.
            var rules = new Dictionary<string, int>();
            int byEvents = 0, next = 0;
            for (int t = 0; t < steps; t++)
            {
                for (; next < alerts.Length && alerts[next].GetProperty("step").GetInt32() <= t; next++)
                {
                    rules[alerts[next].GetProperty("rule").GetString()!] = Rank(alerts[next].GetProperty("level").GetString()!);
                }

                byEvents += rules.Values.Any(l => l > 0) && level[t] == 0 ? 1 : 0;
            }

            Assert.True(byEvents == 0, $"{id}: {byEvents} steps where an event said 'in force' but the monitor's level was OK");
            Assert.True(raised.Length == 0 || on > 0, $"{id}: alerts raised but never in force");
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
            Assert.True(r.GetProperty("indicators").TryGetProperty(Indicators.SharpnessToEdge, out _), $"{id}: no sharpness_to_edge");
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
    }

    private static int Rank(string level) => level switch
    {
        "ok" => 0,
        "warning" => 1,
        _ => 2,
    };
}
