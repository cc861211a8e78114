using System.Globalization;
using System.Text;
using ScottPlot;
using SpectralMonitor.Examples.Workloads;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// The reactive-save study of issue 15 (<c>detection reactive [--filter TEXT] [--workers N] [--out DIR] [--seeds 1,2,3]</c>):
/// every setting of <see cref="DetectionPlan.Settings"/> trained three times in one worker process: unmonitored, with
/// the monitor with the spike guard at its defaults and no probe (<see cref="MonitorConfigurations.Reactive"/>:
/// skip the onset's update, cut the learning rate), and unmonitored with ZClip-style clipping
/// (<see cref="MonitorConfigurations.ZClipped"/>). Per run it reports material spikes, divergences, the final loss
/// (mean of the last 100 steps) and the guard's skips; per optimizer family and seed role the totals, the final-loss
/// ratios against the unmonitored pass and the CPU overhead. Writes reactive.md and reactive-loss.svg into DIR.
/// </summary>
internal static class ReactiveStudy
{
    /// <summary>An intervention the study measures against the unmonitored pass and ZClip-style clipping.</summary>
    /// <param name="Study">The study's command and output folder ("reactive", "backoff").</param>
    /// <param name="Configuration">Its monitor configuration (<see cref="MonitorConfigurations"/>).</param>
    /// <param name="Label">Its name in the chart.</param>
    /// <param name="Actor">What acts, in "runs where the … fired" ("guard", "backoff").</param>
    /// <param name="Action">What is counted per pass, e.g. "updates skipped".</param>
    /// <param name="Count">That count of a pass.</param>
    /// <param name="CpuNote">What the pass's CPU overhead consists of.</param>
    internal sealed record Treatment(string Study, string Configuration, string Label, string Actor, string Action, Func<PassOutcome, int> Count, string CpuNote);

    /// <summary>The spike guard: skip the onset's update, cut the learning rate (<c>detection reactive</c>).</summary>
    internal static Treatment Guard { get; } = new(
        "reactive",
        MonitorConfigurations.Reactive,
        "reactive save (spike guard: skip + learning-rate cut)",
        "guard",
        "updates skipped",
        o => o.Skipped,
        "the reactive pass runs the monitor without probes: the guard and the monitor's per-step bookkeeping");

    /// <summary>The spike guard without the repeat ceiling: every episode recovers to the full rate (<c>detection reactive-no-ceiling</c>).</summary>
    internal static Treatment GuardWithoutCeiling { get; } = Guard with
    {
        Study = "reactive-no-ceiling",
        Configuration = MonitorConfigurations.ReactiveNoCeiling,
        Label = "reactive save without the repeat ceiling (full recovery after every episode)",
    };

    /// <summary>The default rules' learning-rate backoff at default options (<c>detection backoff</c>).</summary>
    internal static Treatment RuleBackoff { get; } = BackoffTreatment(
        "backoff", MonitorConfigurations.Backoff, "default rules with the learning-rate backoff", "the backoff pass runs the monitor at its default options");

    /// <summary>The backoff and the spike guard together at their defaults (<c>detection backoff-guard</c>).</summary>
    internal static Treatment BackoffAndGuard { get; } = BackoffTreatment(
        "backoff-guard", MonitorConfigurations.BackoffGuard, "default rules with the learning-rate backoff, and the spike guard", "the pass runs the monitor at its default options with the guard") with { Actor = "backoff or guard" };

    /// <summary>The same backoff with a persisting Critical cutting again every 100 steps (<c>detection backoff-escalating</c>).</summary>
    internal static Treatment EscalatingBackoff { get; } = BackoffTreatment(
        "backoff-escalating", MonitorConfigurations.BackoffEscalating, "default rules with the escalating learning-rate backoff", "the backoff pass runs the monitor at its default options");

    /// <summary>Dense probing with the backoff (<c>detection backoff-dense</c>): the edge rules act too.</summary>
    internal static Treatment DenseBackoff { get; } = BackoffTreatment(
        "backoff-dense", MonitorConfigurations.DenseBackoff, "dense probing with the learning-rate backoff", "the pass probes every 10 steps with no budget");

    /// <summary>Dense probing with the escalating backoff (<c>detection backoff-dense-escalating</c>).</summary>
    internal static Treatment DenseEscalatingBackoff { get; } = BackoffTreatment(
        "backoff-dense-escalating", MonitorConfigurations.DenseBackoffEscalating, "dense probing with the escalating learning-rate backoff", "the pass probes every 10 steps with no budget");

    /// <summary>
    /// The backoff acting on the opt-in batch-curvature rule with the sensor read every 5 steps and no probes
    /// (<c>detection backoff-curvature</c>).
    /// </summary>
    internal static Treatment CurvatureBackoff { get; } = BackoffTreatment(
        "backoff-curvature", MonitorConfigurations.CurvatureBackoff, "batch-curvature rule (read every 5 steps) with the learning-rate backoff", "the pass reads the step sensor, with one forward pass on the batch, every 5 steps, without probes");

    /// <summary>
    /// The same at the default 5% budget, probes included (<c>detection backoff-curvature-budget</c>): the sensor is read
    /// when the budget pays for it.
    /// </summary>
    internal static Treatment CurvatureBudgetBackoff { get; } = BackoffTreatment(
        "backoff-curvature-budget", MonitorConfigurations.CurvatureBackoffBudget, "batch-curvature rule (at the default 5% budget) with the learning-rate backoff", "the pass reads the step sensor, with one forward pass on the batch, when the default budget pays for it");

    /// <summary>Every treatment, by its study command.</summary>
    internal static IReadOnlyList<Treatment> Treatments { get; } = [Guard, GuardWithoutCeiling, RuleBackoff, BackoffAndGuard, EscalatingBackoff, DenseBackoff, DenseEscalatingBackoff, CurvatureBackoff, CurvatureBudgetBackoff];

    /// <summary>Steps averaged for the final loss.</summary>
    public const int FinalSteps = 100;

    /// <summary>A run whose final loss is at least this fraction of its first loss failed (it learned nothing, or blew up).</summary>
    public const double FailedFraction = 0.9;

    private static Treatment BackoffTreatment(string study, string configuration, string label, string cpuNote) =>
        new(study, configuration, label, "backoff", "steps at a backed-off learning rate", o => o.ReducedRateSteps, cpuNote);

    public static int Run(IReadOnlyList<string> args, Treatment? treatment = null)
    {
        var t = treatment ?? Guard;
        string[] configurations = [MonitorConfigurations.Unmonitored, t.Configuration, MonitorConfigurations.ZClipped];
        return StudyArguments.Parse(t.Study, t.Study, args) is { } parsed
            ? parsed.TrainAndReport(t.Study, configurations, sensors: false, (runs, elapsed, workers) => Report(t, runs, elapsed, workers), $"{t.Study}.md", runs => ChartRun(runs) is { } run ? Chart(t, run).GetSvgXml(1000, 420) : null, $"{t.Study}-loss.svg")
            : 2;
    }

    /// <summary>What one pass of a run did.</summary>
    /// <param name="Spikes">Material spike onsets of its losses.</param>
    /// <param name="NonFinite">Its loss or gradient went non-finite (a divergence, whether or not the run went on).</param>
    /// <param name="FinalLoss">Mean loss of its last <see cref="FinalSteps"/> steps (NaN when it stopped early, diverged).</param>
    /// <param name="Skipped">Updates it skipped.</param>
    /// <param name="ReducedRateSteps">Steps it trained at a lower learning rate than the unmonitored pass.</param>
    /// <param name="CpuSeconds">Process CPU time.</param>
    /// <param name="Failed">The run failed: it went non-finite, or its final loss is at least <see cref="FailedFraction"/> of its first loss (it ends about where it started or worse: a blow-up, or a collapse to chance, ln 10 ≈ 2.30 on the digits).</param>
    internal sealed record PassOutcome(int Spikes, bool NonFinite, double FinalLoss, int Skipped, int ReducedRateSteps, double CpuSeconds, bool Failed);

    /// <summary>The outcome of <paramref name="configuration"/>'s pass of <paramref name="run"/>, or null when it was not run.</summary>
    internal static PassOutcome? Outcome(RecordedRun run, string configuration)
    {
        var pass = run.Pass(configuration);
        if (pass is null)
        {
            return null;
        }

        double[] losses = pass.Losses ?? run.Losses;
        bool nonFinite = pass.Diverged || losses.Any(l => !double.IsFinite(l));
        double final = losses.Length < run.Setting.Steps || pass.Diverged ? double.NaN : losses.TakeLast(FinalSteps).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average();
        bool failed = nonFinite || !(final < FailedFraction * losses[0]);
        return new PassOutcome(SpikeDefinitions.Material(losses).Count, nonFinite, final, pass.SkippedUpdates, pass.ReducedRateSteps, pass.CpuSeconds, failed);
    }

    private static string Report(Treatment t, RecordedRun[] runs, TimeSpan elapsed, int workers)
    {
        string name = t.Study;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"detection {name}: {runs.Length} runs, {workers} worker(s), wall {elapsed.TotalMinutes:F1} min, load average at end {DetectionBenchmark.LoadAverage()}");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Per run: material spikes (count), non-finite (✗), failed (‼: non-finite, or the final loss is at least 0.9 × the first loss), final loss = mean of the last 100 steps (– when the run stopped on a non-finite step), {t.Action}.");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"| run | role | unmonitored: spikes, final | {name}: spikes, final, {t.Action} | ZClip: spikes, final | final ratio {name} / ZClip (to unmonitored) |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (var run in runs.OrderBy(r => r.Setting.Family).ThenBy(r => r.Name, StringComparer.Ordinal))
        {
            var u = Outcome(run, MonitorConfigurations.Unmonitored)!;
            var r = Outcome(run, t.Configuration)!;
            var z = Outcome(run, MonitorConfigurations.ZClipped)!;
            text.AppendLine(CultureInfo.InvariantCulture, $"| {run.Name} | {run.Role} | {Cell(u)} | {Cell(r)}, {t.Count(r)} | {Cell(z)} | {Ratio(r.FinalLoss, u.FinalLoss)} / {Ratio(z.FinalLoss, u.FinalLoss)} |");
        }

        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Summary (spiking runs: the unmonitored pass has a material spike or goes non-finite; stable runs: neither). Final-loss ratio: median over the runs where both passes finished, of the pass's final loss over the unmonitored pass's. CPU: summed process CPU time of the pass over the unmonitored pass's, minus 1 ({t.CpuNote}).");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"| family | seeds | runs | material spikes: unmonitored → {name} / ZClip | runs non-finite: unmonitored → {name} / ZClip | runs failed: unmonitored → {name} / ZClip | median final-loss ratio: {name} / ZClip | runs where the {t.Actor} fired | {t.Action} | CPU overhead: {name} / ZClip |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var family in runs.GroupBy(r => r.Setting.Family).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            foreach (var role in family.GroupBy(r => r.Role).OrderBy(g => g.Key))
            {
                foreach (bool spiking in new[] { true, false })
                {
                    var group = role.Where(r => IsSpiking(r) == spiking).ToArray();
                    if (group.Length == 0)
                    {
                        continue;
                    }

                    var u = group.Select(r => Outcome(r, MonitorConfigurations.Unmonitored)!).ToArray();
                    var re = group.Select(r => Outcome(r, t.Configuration)!).ToArray();
                    var z = group.Select(r => Outcome(r, MonitorConfigurations.ZClipped)!).ToArray();
                    var numbers = role.Select(r => r.Seed).Distinct().Order().ToArray();
                    string seeds = $"{string.Join(", ", numbers)} ({(role.Key == SeedRole.Tune ? "tune" : "report")})";
                    text.AppendLine(CultureInfo.InvariantCulture, $"| {family.Key} | {seeds} | {group.Length} {(spiking ? "spiking" : "stable")} | {u.Sum(o => o.Spikes)} → {re.Sum(o => o.Spikes)} / {z.Sum(o => o.Spikes)} | {u.Count(o => o.NonFinite)} → {re.Count(o => o.NonFinite)} / {z.Count(o => o.NonFinite)} | {u.Count(o => o.Failed)} → {re.Count(o => o.Failed)} / {z.Count(o => o.Failed)} | {MedianRatio(re, u)} / {MedianRatio(z, u)} | {re.Count(o => t.Count(o) > 0)}/{group.Length} | {re.Sum(t.Count)} | {Overhead(re, u)} / {Overhead(z, u)} |");
                }
            }
        }

        return text.ToString();
    }

    /// <summary>A run whose unmonitored pass has a material spike or goes non-finite.</summary>
    internal static bool IsSpiking(RecordedRun run) => Outcome(run, MonitorConfigurations.Unmonitored) is { } u && (u.Spikes > 0 || u.NonFinite);

    private static string Cell(PassOutcome o) =>
        string.Create(CultureInfo.InvariantCulture, $"{o.Spikes}{(o.NonFinite ? " ✗" : "")}{(o.Failed ? " ‼" : "")}, {(double.IsNaN(o.FinalLoss) ? "–" : o.FinalLoss.ToString("G3", CultureInfo.InvariantCulture))}");

    private static string Ratio(double a, double b) =>
        double.IsFinite(a) && double.IsFinite(b) && b > 0 ? (a / b).ToString("F2", CultureInfo.InvariantCulture) : "–";

    private static string MedianRatio(PassOutcome[] pass, PassOutcome[] unmonitored)
    {
        var ratios = pass.Zip(unmonitored).Where(p => double.IsFinite(p.First.FinalLoss) && double.IsFinite(p.Second.FinalLoss) && p.Second.FinalLoss > 0)
            .Select(p => p.First.FinalLoss / p.Second.FinalLoss).ToArray();
        return ratios.Length == 0 ? "–" : string.Create(CultureInfo.InvariantCulture, $"{DetectionScoring.Median(ratios):F2} ({ratios.Length})");
    }

    private static string Overhead(PassOutcome[] pass, PassOutcome[] unmonitored) =>
        string.Create(CultureInfo.InvariantCulture, $"{(pass.Sum(o => o.CpuSeconds) / unmonitored.Sum(o => o.CpuSeconds)) - 1:P0}");

    /// <summary>The run of the chart: a held-out GPT Adam run that spikes, else any spiking run with the most spikes.</summary>
    private static RecordedRun? ChartRun(RecordedRun[] runs) =>
        runs.Where(IsSpiking)
            .OrderByDescending(r => r.Setting.Workload == WorkloadKind.CharGpt && r.Setting.Optimizer == OptimizerKind.Adam)
            .ThenByDescending(r => r.Role == SeedRole.Report)
            .ThenByDescending(r => Outcome(r, MonitorConfigurations.Unmonitored)!.Spikes)
            .ThenBy(r => r.Name, StringComparer.Ordinal)
            .FirstOrDefault();

    private static Plot Chart(Treatment t, RecordedRun run)
    {
        var plot = new Plot();
        foreach (var (configuration, label, color) in new[]
        {
            (MonitorConfigurations.Unmonitored, "unmonitored", Colors.Gray),
            (MonitorConfigurations.ZClipped, "ZClip-style clipping (α 0.97, mean + 2.5 sd)", Colors.Orange),
            (t.Configuration, t.Label, Colors.Blue),
        })
        {
            var pass = run.Pass(configuration);
            if (pass is null)
            {
                continue;
            }

            double[] losses = pass.Losses ?? run.Losses;
            double[] steps = [.. Enumerable.Range(0, losses.Length).Select(t => (double)t)];
            var line = plot.Add.Scatter(steps, [.. losses.Select(l => double.IsFinite(l) && l > 0 ? Math.Log10(l) : double.NaN)]);
            line.MarkerSize = 0;
            line.LineWidth = 1.2f;
            line.Color = color;
            line.LegendText = pass.SkippedUpdates > 0 ? string.Create(CultureInfo.InvariantCulture, $"{label}: {pass.SkippedUpdates} updates skipped") : label;
        }

        plot.Title(string.Create(CultureInfo.InvariantCulture, $"{run.Name}: mini-batch loss per step"));
        plot.XLabel("step");
        plot.YLabel("log10 loss");
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }
}
