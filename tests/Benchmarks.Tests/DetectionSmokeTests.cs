using System.Text.Json;
using System.Xml.Linq;
using SpectralMonitor.Backoff;
using SpectralMonitor.Benchmarks.Detection;
using SpectralMonitor.Rules;

namespace SpectralMonitor.Benchmarks.Tests;

/// <summary>
/// The detection benchmark end to end on its smoke plan (four 200-step digits-MLP runs and one 40-step GPT run): worker
/// processes train every configuration, the traces are complete and bit-identical across configurations, and the
/// scores in results.json are those recomputed here from the traces.
/// </summary>
public sealed class DetectionSmokeTests : IDisposable
{
    private readonly string _output = Path.Combine(Path.GetTempPath(), "spectralmonitor-detection-smoke-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_output))
        {
            Directory.Delete(_output, recursive: true);
        }
    }

    [Fact]
    public void SmokePlanRunsEndToEndAndResultsMatchTheTraces()
    {
        Assert.Equal(0, DetectionBenchmark.Run(["--smoke", "--out", _output, "--workers", "2"]));

        var plan = DetectionPlan.Smoke();
        var runs = plan.Select(r => RecordedRun.Read(Path.Combine(_output, "traces", r.FileName))).ToArray();
        foreach (var (run, planned) in runs.Zip(plan))
        {
            // Every configuration trained (report runs: all; tune runs: dense probing), monitoring left training
            // bit-identical.
            Assert.Equal(planned.Configurations, run.Passes.Select(p => p.Configuration));
            Assert.Equal(planned.Role == SeedRole.Report ? MonitorConfigurations.All : [MonitorConfigurations.Dense], planned.Configurations);
            Assert.All(run.Passes, p => Assert.True(p.SameLosses, $"{run.Name} {p.Configuration} trained differently"));
            Assert.All(run.Passes, p => Assert.True(p.CpuSeconds > 0));

            // Step signals: the loop's three and every sensor's, one value per step.
            Assert.Equal(run.Setting.Steps, run.StepsRun);
            string[] expected = [StepSignalNames.Loss, StepSignalNames.GradientNorm, StepSignalNames.LearningRate, .. StepSensors.SignalNames()];
            Assert.Equal(expected.Order(), run.StepSignals.Keys.Order());
            Assert.All(run.StepSignals.Values, v => Assert.Equal(run.StepsRun, v.Length));

            // Default options never probe in runs this short: the 5% budget pays for the first probe's estimate (54
            // training steps) only after about 1,200 steps. Dense probing at least every 10 steps.
            Assert.True(run.Pass(MonitorConfigurations.Dense)!.Probes.Count >= (run.StepsRun - 10) / 10);
            if (planned.Role == SeedRole.Report)
            {
                Assert.Empty(run.Pass(MonitorConfigurations.Default)!.Probes);
                Assert.Empty(run.Pass(MonitorConfigurations.Unmonitored)!.Probes);
            }
        }

        // The learning-rate schedule of the GPT run: linear warm-up over its first 10 steps.
        var gpt = runs.Single(r => r.Setting.WarmupSteps > 0);
        Assert.Equal(gpt.Setting.LearningRate / 10, gpt.StepSignals[StepSignalNames.LearningRate][0], 1e-12);
        Assert.Equal(gpt.Setting.LearningRate, gpt.StepSignals[StepSignalNames.LearningRate][^1], 1e-12);

        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(_output, "results.json")));
        var root = results.RootElement;
        Assert.Equal("smoke", root.GetProperty("mode").GetString());

        // Spike counts per run are the definitions applied to the traced losses.
        foreach (var run in root.GetProperty("runs").EnumerateArray())
        {
            var trace = runs.Single(r => r.Name == run.GetProperty("name").GetString());
            Assert.Equal(SpikeDefinitions.Material(trace.Losses), run.GetProperty("material_spikes").EnumerateArray().Select(e => e.GetInt32()));
            Assert.Equal(SpikeDefinitions.Library(trace.Losses).Count, run.GetProperty("library_spikes").GetInt32());
        }

        // A detector's held-out scores are the scoring functions applied to its alarms on the report runs.
        var report = runs.Where(r => r.Role == SeedRole.Report && r.Setting.Family == "SGD-momentum").ToArray();
        foreach (var detector in DetectorCatalog.All.Where(d => d.Threshold is null || d.Family.StartsWith("ZClip", StringComparison.Ordinal)))
        {
            var expected = DetectionScoring.Aggregate([.. report.Select(r => DetectionScoring.Score(detector.Alarm(r), SpikeDefinitions.Material(r.Losses), 100))]);
            var stored = root.GetProperty("detectors").EnumerateArray().Single(d => d.GetProperty("name").GetString() == detector.Name)
                .GetProperty("scores").GetProperty("SGD-momentum").GetProperty("report").GetProperty("material/100");
            Assert.Equal(expected.Spikes, stored.GetProperty("spikes").GetInt32());
            Assert.Equal(expected.WarnedSpikes, stored.GetProperty("warned_spikes").GetInt32());
            Assert.Equal(expected.Onsets, stored.GetProperty("onsets").GetInt32());
            Assert.Equal(expected.TrueOnsets, stored.GetProperty("true_onsets").GetInt32());
            Assert.Equal(expected.StableRunsAlarmed, stored.GetProperty("stable_runs_alarmed").GetInt32());
        }

        // Every chart is well-formed SVG; the report has its tables.
        string[] charts = ["recall-vs-false-alarms.svg", "recall-vs-overhead.svg", "trace-gpt-adam-stable.svg"];
        Assert.All(charts, c => Assert.Equal("svg", XDocument.Load(Path.Combine(_output, c)).Root!.Name.LocalName));
        string markdown = File.ReadAllText(Path.Combine(_output, "report.md"));
        Assert.Contains("### SGD-momentum: held-out seeds, material spikes, H = 100", markdown, StringComparison.Ordinal);
        Assert.Contains("### CPU overhead", markdown, StringComparison.Ordinal);

        // Rescoring the stored traces gives the same scores.
        string before = Scores(root);
        Assert.Equal(0, DetectionBenchmark.Run(["--rescore", "--out", _output]));
        using var again = JsonDocument.Parse(File.ReadAllText(Path.Combine(_output, "results.json")));
        Assert.Equal(before, Scores(again.RootElement));
    }

    [Theory]
    [InlineData("--bogus")]
    [InlineData("--workers", "0")]
    [InlineData("--workers")]
    [InlineData("--out")]
    [InlineData("--smoke", "--rescore")]
    [InlineData("worker", "/no/such/job.json")]
    [InlineData("--dense-estimators")]
    [InlineData("--dense-estimators", "Modes")]
    [InlineData("--dense-estimators", "Sharpness,Bogus")]
    public void BadArgumentsExitTwo(params string[] args)
    {
        Assert.False(DetectionBenchmark.TryParse(args, out _, out string? error));
        Assert.False(string.IsNullOrWhiteSpace(error));
        Assert.DoesNotContain('\n', error);
        Assert.Equal(2, DetectionBenchmark.Run(args));
    }

    [Theory]
    [InlineData("reactive", "--bogus")]
    [InlineData("reactive", "--workers", "0")]
    [InlineData("reactive", "--seeds", "0")]
    [InlineData("reactive", "--out")]
    [InlineData("reactive", "--filter", "no such run")]
    [InlineData("backoff", "--bogus")]
    [InlineData("backoff", "--filter", "no such run")]
    [InlineData("logits", "--bogus")]
    [InlineData("logits", "--workers", "0")]
    [InlineData("logits", "--seeds", "1,x")]
    [InlineData("logits", "--out")]
    [InlineData("logits", "--filter", "no such run")]
    public void BadStudyArgumentsExitTwo(params string[] args) => Assert.Equal(2, DetectionBenchmark.Run(args));

    [Fact]
    public void DenseEstimatorsReachTheDenseOptionsOnly()
    {
        Assert.True(DetectionBenchmark.TryParse(["--dense-estimators", "Default,EpsilonModes"], out var command, out _));
        Assert.Equal(ProbeEstimators.Default | ProbeEstimators.EpsilonModes, command.DenseEstimators);
        Assert.Equal(ProbeEstimators.Default | ProbeEstimators.EpsilonModes, MonitorConfigurations.Options(MonitorConfigurations.Dense, "r", command.DenseEstimators)!.Estimators);
        Assert.Equal(ProbeEstimators.Default, MonitorConfigurations.Options(MonitorConfigurations.Default, "r", command.DenseEstimators)!.Estimators);
        Assert.True(DetectionBenchmark.TryParse([], out var plain, out _));
        Assert.Null(plain.DenseEstimators);
        Assert.Equal(ProbeEstimators.Default, MonitorConfigurations.Options(MonitorConfigurations.Dense, "r")!.Estimators);
    }

    [Fact]
    public void TheBackoffStudyRunsTheDefaultOptionsWithTheBackoffOn()
    {
        var options = MonitorConfigurations.Options(MonitorConfigurations.Backoff, "r")!;
        Assert.NotNull(options.Backoff);
        Assert.Equal(new StabilityMonitorOptions { RunName = "r", Backoff = options.Backoff }, options);
        Assert.Equal(MonitorConfigurations.Backoff, ReactiveStudy.RuleBackoff.Configuration);
        Assert.Equal(MonitorConfigurations.Reactive, ReactiveStudy.Guard.Configuration);
    }

    [Fact]
    public void TheEscalatingBackoffStudyDiffersFromTheBackoffStudyOnlyInEscalationSteps()
    {
        var plain = MonitorConfigurations.Options(MonitorConfigurations.Backoff, "r")!;
        var escalating = MonitorConfigurations.Options(MonitorConfigurations.BackoffEscalating, "r")!;
        Assert.Null(plain.Backoff!.EscalationSteps);
        Assert.Equal(plain with { Backoff = plain.Backoff with { EscalationSteps = MonitorConfigurations.EscalationSteps } }, escalating);
        Assert.Equal(MonitorConfigurations.EscalationSteps, new BackoffOptions().CooldownSteps);
        Assert.True(MonitorConfigurations.Intervenes(MonitorConfigurations.BackoffEscalating));
        Assert.Equal(MonitorConfigurations.BackoffEscalating, ReactiveStudy.EscalatingBackoff.Configuration);
    }

    [Fact]
    public void TheDenseBackoffStudiesAreDenseProbingWithTheBackoffPlainOrEscalating()
    {
        var dense = MonitorConfigurations.Options(MonitorConfigurations.Dense, "r")!;
        var plain = MonitorConfigurations.Options(MonitorConfigurations.DenseBackoff, "r")!;
        var escalating = MonitorConfigurations.Options(MonitorConfigurations.DenseBackoffEscalating, "r")!;
        Assert.Equal(dense with { Backoff = new BackoffOptions() }, plain);
        Assert.Equal(dense with { Backoff = new BackoffOptions { EscalationSteps = MonitorConfigurations.EscalationSteps } }, escalating);
        Assert.True(MonitorConfigurations.Intervenes(MonitorConfigurations.DenseBackoff));
        Assert.True(MonitorConfigurations.Intervenes(MonitorConfigurations.DenseBackoffEscalating));
        Assert.Equal(MonitorConfigurations.DenseBackoff, ReactiveStudy.DenseBackoff.Configuration);
        Assert.Equal(MonitorConfigurations.DenseBackoffEscalating, ReactiveStudy.DenseEscalatingBackoff.Configuration);
    }

    [Fact]
    public void TheGuardStudiesDifferOnlyInTheRepeatCeilingAndTheBackoffGuardStudyAddsTheGuardToTheBackoff()
    {
        var guard = MonitorConfigurations.Options(MonitorConfigurations.Reactive, "r")!;
        var noCeiling = MonitorConfigurations.Options(MonitorConfigurations.ReactiveNoCeiling, "r")!;
        Assert.Equal(new SpikeGuardOptions(), guard.SpikeGuard);
        Assert.Equal(0.5, guard.SpikeGuard!.RepeatCeilingFactor);
        Assert.Equal(guard with { SpikeGuard = guard.SpikeGuard with { RepeatCeilingFactor = 1 } }, noCeiling);

        var backoff = MonitorConfigurations.Options(MonitorConfigurations.Backoff, "r")!;
        var both = MonitorConfigurations.Options(MonitorConfigurations.BackoffGuard, "r")!;
        Assert.Equal(backoff with { SpikeGuard = new SpikeGuardOptions() }, both);

        foreach (var (configuration, treatment) in new[] { (MonitorConfigurations.ReactiveNoCeiling, ReactiveStudy.GuardWithoutCeiling), (MonitorConfigurations.BackoffGuard, ReactiveStudy.BackoffAndGuard) })
        {
            Assert.True(MonitorConfigurations.Intervenes(configuration));
            Assert.Equal(configuration, treatment.Configuration);
            Assert.Contains(treatment, ReactiveStudy.Treatments);
        }
    }

    [Fact]
    public void TheBatchCurvatureBackoffStudiesDifferFromTheirDetectionPassesOnlyInTheBackoff()
    {
        // Every 5 steps: the budget off and no probes; at the budget: the default options with the rule added.
        var every5 = MonitorConfigurations.Options(MonitorConfigurations.CurvatureEvery5, "r")!;
        var budget = MonitorConfigurations.Options(MonitorConfigurations.Curvature, "r")!;
        var every5Backoff = MonitorConfigurations.Options(MonitorConfigurations.CurvatureBackoff, "r")!;
        var budgetBackoff = MonitorConfigurations.Options(MonitorConfigurations.CurvatureBackoffBudget, "r")!;

        // Records compare the rule lists by reference: compare them as sequences, the rest as records.
        Assert.Equal(every5.Rules, every5Backoff.Rules);
        Assert.Equal(budget.Rules, budgetBackoff.Rules);
        Assert.Equal(every5 with { Backoff = new BackoffOptions() }, every5Backoff with { Rules = every5.Rules });
        Assert.Equal(budget with { Backoff = new BackoffOptions() }, budgetBackoff with { Rules = budget.Rules });
        Assert.Equal(new StabilityMonitorOptions().OverheadBudget, budget.OverheadBudget);
        Assert.Contains(DefaultRules.BatchCurvatureRise, budget.Rules);

        foreach (var (configuration, treatment) in new[] { (MonitorConfigurations.CurvatureBackoff, ReactiveStudy.CurvatureBackoff), (MonitorConfigurations.CurvatureBackoffBudget, ReactiveStudy.CurvatureBudgetBackoff) })
        {
            Assert.True(MonitorConfigurations.Intervenes(configuration));
            Assert.True(MonitorConfigurations.ReadsBatchLoss(configuration));
            Assert.Equal(configuration, treatment.Configuration);
            Assert.Contains(treatment, ReactiveStudy.Treatments);
        }
    }

    private static string Scores(JsonElement root) => root.GetProperty("detectors").GetRawText();
}
