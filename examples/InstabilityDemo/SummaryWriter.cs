using System.Globalization;
using System.Text;
using System.Text.Json;
using SpectralMonitor.Examples.Workloads;
using SpectralMonitor.Rules;

namespace SpectralMonitor.Examples.InstabilityDemo;

/// <summary>Everything the demo reports.</summary>
/// <param name="Settings">How it was run.</param>
/// <param name="Results">Every run, in order.</param>
/// <param name="Invariants">The invariants and whether they held.</param>
/// <param name="Elapsed">Wall time of the training (all runs).</param>
internal sealed record DemoReport(DemoSettings Settings, IReadOnlyList<DemoRunResult> Results, IReadOnlyList<InvariantCheck> Invariants, TimeSpan Elapsed)
{
    /// <summary>Every probe indicator measured by any run, sorted.</summary>
    public IReadOnlyList<string> IndicatorNames =>
        [.. Results.SelectMany(r => r.IndicatorNames).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
}

/// <summary>
/// Writes <c>summary.json</c> and the closing text summary. In the JSON, a value that does not exist (no spike, no
/// stable twin, no finite probe value) is <c>null</c>; a measured value that is not finite is one of the strings
/// <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c>.
/// </summary>
internal static class SummaryWriter
{
    /// <summary>The value of the top-level <c>format</c> field.</summary>
    public const string Format = "spectral-monitor-demo-summary/2";

    /// <summary>The summary as indented JSON.</summary>
    public static string ToJson(DemoReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var indicators = report.IndicatorNames;
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("format", Format);
            writer.WriteNumber("seed", report.Settings.Seed);
            writer.WriteBoolean("quick", report.Settings.Quick);
            writer.WriteString("spikeDefinition", LossSpikes.Describe());
            writer.WriteNumber("warningHorizon", DemoRunResult.WarningHorizon);
            writer.WriteString("nonFinite", "absent values are null; non-finite measured values are the strings \"NaN\", \"Infinity\", \"-Infinity\"");
            writer.WriteNumber("elapsedSeconds", Math.Round(report.Elapsed.TotalSeconds, 3));
            writer.WriteBoolean("invariantsHold", report.Invariants.All(i => i.Holds));
            writer.WriteStartArray("invariants");
            foreach (var check in report.Invariants)
            {
                writer.WriteStartObject();
                writer.WriteString("name", check.Name);
                writer.WriteBoolean("holds", check.Holds);
                writer.WriteString("detail", check.Detail);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteStartArray("runs");
            foreach (var result in report.Results)
            {
                WriteRun(writer, result, report.Results, indicators);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>A plain-text table of the runs and the invariants, for the console.</summary>
    public static string ToText(DemoReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"{"run",-13} {"lr",5} {"steps",5} {"spikes",6} {"1st spike",9} {"alerts",6} {"1st alert",9} {"warned",6} {"backoffs",8} {"skipped",7} {"final loss",10} {"probes",6} {"probe s",7} {"train s",7}\n");
        foreach (var r in report.Results)
        {
            var t = r.Trace;
            b.Append(CultureInfo.InvariantCulture, $"{r.Definition.Id,-13} {r.Definition.LearningRate,5:G3} {t.Losses.Count,5} {r.SpikeOnsets.Count,6} {Text(r.FirstSpikeStep),9} {r.RaisedAlerts.Count,6} {Text(r.FirstAlertStep),9} {Text(r.LeadSteps),6} {r.Backoffs.Count,8} {t.SkippedUpdates,7} {t.FinalLoss,10:G3} {t.Probes.Count,6} {t.ProbeTime.TotalSeconds,7:F1} {t.TrainingTime.TotalSeconds,7:F1}{(t.Diverged ? " diverged" : string.Empty)}\n");
        }

        b.Append(CultureInfo.InvariantCulture, $"(warned = steps between the last alert onset within {DemoRunResult.WarningHorizon} steps before the first spike and that spike)\n\n");
        foreach (var check in report.Invariants)
        {
            b.Append(check.Holds ? "  ok    " : "  FAILED ").Append(check.Name).Append(" (").Append(check.Detail).Append(")\n");
        }

        if (report.Invariants.Any(i => !i.Holds))
        {
            b.Append(CultureInfo.InvariantCulture, $"warning: some invariants do not hold; the runs were tuned for --seed {DemoCatalog.DefaultSeed} and the default step counts.\n");
        }

        return b.ToString();
    }

    private static void WriteRun(Utf8JsonWriter writer, DemoRunResult result, IReadOnlyList<DemoRunResult> all, IReadOnlyList<string> indicators)
    {
        var d = result.Definition;
        var t = result.Trace;
        writer.WriteStartObject();
        writer.WriteString("id", d.Id);
        writer.WriteString("group", d.Group);
        writer.WriteString("role", d.Role.ToString().ToLowerInvariant());
        writer.WriteString("model", d.ModelLabel);
        writer.WriteNumber("parameters", t.ParameterCount);
        writer.WriteString("optimizer", d.OptimizerId);
        WriteNumber(writer, "learningRate", d.LearningRate);
        writer.WriteNumber("warmupSteps", d.WarmupSteps);
        writer.WriteNumber("batchSize", d.BatchSize);
        writer.WriteBoolean("backoff", d.Backoff);
        writer.WriteBoolean("spikeGuard", d.SpikeGuard);
        writer.WriteNumber("steps", result.Steps);
        writer.WriteNumber("stepsRun", t.Losses.Count);
        writer.WriteBoolean("diverged", t.Diverged);
        writer.WriteNumber("skippedUpdates", t.SkippedUpdates);
        writer.WriteNumber("spikes", result.SpikeOnsets.Count);
        writer.WriteStartArray("spikeSteps");
        foreach (int onset in result.SpikeOnsets)
        {
            writer.WriteNumberValue(onset);
        }

        writer.WriteEndArray();
        WriteNullable(writer, "firstSpikeStep", result.FirstSpikeStep);
        WriteNullable(writer, "firstAlertStep", result.FirstAlertStep);
        WriteNullable(writer, "warningStep", result.WarningStep);
        WriteNullable(writer, "leadSteps", result.LeadSteps);
        writer.WriteBoolean("alertActiveAtFirstSpike", result.AlertActiveAtFirstSpike);
        writer.WriteNumber("alarmTimeFraction", Math.Round(result.AlarmTimeFraction, 4));
        WriteNumber(writer, "finalLoss", t.FinalLoss);
        WriteNumber(writer, "minLearningRate", t.LearningRates.Count > 0 ? t.LearningRates.Skip(d.WarmupSteps).DefaultIfEmpty(double.NaN).Min() : double.NaN);
        writer.WriteNumber("probeInterval", d.ProbeInterval);
        writer.WriteNumber("probeBatchSize", d.ProbeBatchSize);
        writer.WriteNumber("probes", t.Probes.Count);
        writer.WriteNumber("failedProbes", t.Probes.Count(p => p.Status != ProbeStatus.Succeeded));
        writer.WriteNumber("hessianVectorProducts", t.Probes.Sum(p => p.HvpCount));
        writer.WriteNumber("elapsedSeconds", Math.Round(t.Elapsed.TotalSeconds, 3));
        writer.WriteNumber("probeSeconds", Math.Round(t.ProbeTime.TotalSeconds, 3));
        writer.WriteNumber("meanStepMilliseconds", Math.Round(t.MeanStepTime.TotalMilliseconds, 3));
        WriteNumber(writer, "meanProbeMilliseconds", t.Probes.Count > 0 ? Math.Round(t.Probes.Average(p => p.Duration.TotalMilliseconds), 3) : null);

        writer.WriteStartArray("alerts");
        foreach (var alert in t.AlertChanges)
        {
            writer.WriteStartObject();
            writer.WriteNumber("step", alert.Step);
            writer.WriteString("rule", alert.Rule);
            writer.WriteString("level", alert.Level.ToString().ToLowerInvariant());
            writer.WriteString("previousLevel", alert.PreviousLevel.ToString().ToLowerInvariant());
            writer.WriteBoolean("raised", alert.IsRaised);
            writer.WriteString("indicator", alert.Indicator);
            WriteNumber(writer, "value", alert.Value);
            WriteNumber(writer, "threshold", alert.Threshold);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        // The monitor's level after each step, as [step, level] wherever it changes (0 OK, 1 warning, 2 critical; the
        // level before the first entry is 0). Unlike the alert events, it includes rises within a rule's cooldown.
        writer.WriteStartArray("alertLevelChanges");
        var levels = t.AlertLevels;
        for (int step = 0; step < levels.Count; step++)
        {
            if (levels[step] != (step == 0 ? AlertLevel.Ok : levels[step - 1]))
            {
                writer.WriteStartArray();
                writer.WriteNumberValue(step);
                writer.WriteNumberValue((int)levels[step]);
                writer.WriteEndArray();
            }
        }

        writer.WriteEndArray();
        writer.WriteStartArray("backoffs");
        foreach (var backoff in result.Backoffs)
        {
            writer.WriteStartObject();
            writer.WriteNumber("step", backoff.Step);
            WriteNumber(writer, "fromFactor", backoff.FromFactor);
            WriteNumber(writer, "toFactor", backoff.ToFactor);
            WriteNumber(writer, "learningRate", backoff.LearningRate);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteStartObject("indicators");
        foreach (string name in indicators)
        {
            var stats = result.Statistics(name);
            writer.WriteStartObject(name);
            WriteNumber(writer, "median", stats.Count > 0 ? stats.Median : null);
            WriteNumber(writer, "max", stats.Count > 0 ? stats.Max : null);
            double ratio = DemoComparisons.RatioToStable(result, name, all);
            WriteNumber(writer, "unstableToStableRatio", double.IsNaN(ratio) ? null : ratio);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteNullable(Utf8JsonWriter writer, string name, long? value)
    {
        if (value is long v)
        {
            writer.WriteNumber(name, v);
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    private static void WriteNumber(Utf8JsonWriter writer, string name, double? value)
    {
        switch (value)
        {
            case null:
                writer.WriteNull(name);
                break;
            case double v when double.IsFinite(v):
                writer.WriteNumber(name, v);
                break;
            case double v:
                writer.WriteString(name, double.IsNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
                break;
        }
    }

    private static string Text(long? value) => value is long v ? v.ToString(CultureInfo.InvariantCulture) : "–";
}
