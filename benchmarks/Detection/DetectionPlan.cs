using System.Globalization;
using SpectralMonitor.Examples.Workloads;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>Whether a run's scores choose thresholds (tune) or are reported (held out).</summary>
internal enum SeedRole
{
    /// <summary>Thresholds and defaults are chosen on these runs.</summary>
    Tune,

    /// <summary>The reported numbers come from these runs only.</summary>
    Report,
}

/// <summary>
/// One setting of the benchmark: a workload, an optimizer, a warm-up and a learning rate, trained for a fixed number
/// of steps. Seeds vary within a setting.
/// </summary>
/// <param name="Workload">Model and data (examples/Workloads).</param>
/// <param name="Optimizer">Optimizer.</param>
/// <param name="WarmupSteps">Linear warm-up steps (0: none).</param>
/// <param name="LearningRate">Peak learning rate.</param>
/// <param name="Steps">Training steps.</param>
/// <param name="ProbeBatchSize">Rows of the monitor's fixed probe batch.</param>
internal sealed record Setting(WorkloadKind Workload, OptimizerKind Optimizer, int WarmupSteps, double LearningRate, int Steps, int ProbeBatchSize)
{
    /// <summary>Short workload name: "gpt", "cnn" or "mlp".</summary>
    public string WorkloadName => Workload switch
    {
        WorkloadKind.CharGpt => "gpt",
        WorkloadKind.DigitsCnn => "cnn",
        _ => "mlp",
    };

    /// <summary>Short optimizer name: "sgdm", "adam" or "adamw".</summary>
    public string OptimizerName => Optimizer switch
    {
        OptimizerKind.SgdMomentum => "sgdm",
        OptimizerKind.Adam => "adam",
        _ => "adamw",
    };

    /// <summary>The optimizer family the targets are stated for: "SGD-momentum" or "Adam/AdamW".</summary>
    public string Family => Optimizer == OptimizerKind.SgdMomentum ? "SGD-momentum" : "Adam/AdamW";

    /// <summary>The setup without its learning rate, e.g. "gpt adamw warm-up 100" (a row group of the per-setup table).</summary>
    public string Setup => WarmupSteps > 0
        ? string.Create(CultureInfo.InvariantCulture, $"{WorkloadName} {OptimizerName} warm-up {WarmupSteps}")
        : $"{WorkloadName} {OptimizerName}";

    /// <summary>The setup and its learning rate, e.g. "gpt adam lr=0.01".</summary>
    public string Name => string.Create(CultureInfo.InvariantCulture, $"{Setup} lr={LearningRate:G3}");

    /// <summary>The run of this setting with <paramref name="seed"/>.</summary>
    public RunSpec Spec(int seed) => new(
        string.Create(CultureInfo.InvariantCulture, $"{Name} seed={seed}"),
        Workload,
        Optimizer,
        LearningRate,
        Steps,
        seed,
        BatchSize: 32,
        WarmupSteps)
    {
        ProbeBatchSize = ProbeBatchSize,
    };
}

/// <summary>One run of a plan: a setting, a seed and its role.</summary>
/// <param name="Setting">The setting.</param>
/// <param name="Seed">The seed (initial weights, batch order, probe batch).</param>
/// <param name="Role">Tune or report.</param>
internal sealed record PlannedRun(Setting Setting, int Seed, SeedRole Role)
{
    /// <summary>The run's spec.</summary>
    public RunSpec Spec => Setting.Spec(Seed);

    /// <summary>
    /// The monitor configurations the run is trained under: all of them on report runs; only dense probing on tune
    /// runs, which choose thresholds of the offline detectors (the monitor's own configurations are not tuned, and
    /// overheads are measured on the report runs).
    /// </summary>
    public IReadOnlyList<string> Configurations => Role == SeedRole.Report ? MonitorConfigurations.All : [MonitorConfigurations.Dense];

    /// <summary>The run's name (unique within a plan).</summary>
    public string Name => Spec.Name;

    /// <summary>A file name for the run's trace.</summary>
    public string FileName => string.Concat(Name.Select(c => char.IsLetterOrDigit(c) || c is '.' or '-' ? c : '_')) + ".json";
}

/// <summary>
/// The runs of the benchmark. Learning rates come from the documented sweep (<c>detection sweep</c>; its table is in
/// benchmarks/RESULTS.md): per setup they go from comfortably stable to just below the rate that diverges within the
/// first 50 steps. Seed 1 of every setting tunes thresholds; seeds 2 and 3 are reported.
/// </summary>
internal static class DetectionPlan
{
    /// <summary>Steps of the GPT runs (a GPT step costs about four digits-CNN steps).</summary>
    public const int GptSteps = 1000;

    /// <summary>Steps of the digits runs.</summary>
    public const int DigitsSteps = 1500;

    /// <summary>The seeds that tune.</summary>
    public static IReadOnlyList<int> TuneSeeds { get; } = [1];

    /// <summary>The held-out seeds that are reported.</summary>
    public static IReadOnlyList<int> ReportSeeds { get; } = [2, 3];

    /// <summary>GPT linear warm-up of the warm-up setups.</summary>
    public const int GptWarmup = 100;

    /// <summary>The longer GPT warm-up, whose blow-ups come about 200 steps into the run instead of 60–90.</summary>
    public const int LongGptWarmup = 300;

    // The probe batch of the GPT equals its training batch (32 windows of 32 characters): probes are the dominant
    // cost of dense probing, and a larger batch only makes the curvature estimate smoother.
    private const int GptProbeBatch = 32;
    private const int DigitsProbeBatch = 64;

    /// <summary>
    /// The learning rates of every setup, from the sweep (seed 1, unmonitored; table in benchmarks/RESULTS.md). Per
    /// setup a comfortably stable rate and the highest rate that spikes without failing at once. The GPT never spiked
    /// with Adam or AdamW at constant rates up to 0.3 (it trains worse and plateaus near the unigram loss instead), and at
    /// 0.5 and 1.0 it blows up within 20 steps without warm-up; with a 100-step warm-up, rate 1.0 blows up during the
    /// warm-up (steps 60–90) and spikes again later; with a 300-step warm-up to 0.5 it blows up later, at steps 210–250,
    /// when the rate passes about 0.36: those are its spiking runs. The digits CNN fails to train at once from
    /// SGD-m 0.3 and Adam 0.05, the MLP with Adam from 0.1.
    /// </summary>
    public static IReadOnlyList<Setting> Settings { get; } =
    [
        .. Rates(WorkloadKind.CharGpt, OptimizerKind.Adam, 0, [3e-3]),
        .. Rates(WorkloadKind.CharGpt, OptimizerKind.Adam, GptWarmup, [1.0]),
        .. Rates(WorkloadKind.CharGpt, OptimizerKind.AdamW, 0, [1e-2]),
        .. Rates(WorkloadKind.CharGpt, OptimizerKind.AdamW, GptWarmup, [1.0]),
        .. Rates(WorkloadKind.CharGpt, OptimizerKind.Adam, LongGptWarmup, [0.5]),
        .. Rates(WorkloadKind.CharGpt, OptimizerKind.AdamW, LongGptWarmup, [0.5]),
        .. Rates(WorkloadKind.DigitsCnn, OptimizerKind.SgdMomentum, 0, [0.03, 0.1]),
        .. Rates(WorkloadKind.DigitsCnn, OptimizerKind.Adam, 0, [3e-3, 2e-2]),
        .. Rates(WorkloadKind.DigitsMlp, OptimizerKind.SgdMomentum, 0, [0.1, 0.3]),
        .. Rates(WorkloadKind.DigitsMlp, OptimizerKind.Adam, 0, [3e-3, 3e-2]),
    ];

    /// <summary>Every run of the full benchmark: each setting with the tune and the report seeds.</summary>
    public static IReadOnlyList<PlannedRun> Full() =>
    [
        .. Settings.SelectMany(s => TuneSeeds.Select(seed => new PlannedRun(s, seed, SeedRole.Tune))
            .Concat(ReportSeeds.Select(seed => new PlannedRun(s, seed, SeedRole.Report)))),
    ];

    /// <summary>
    /// The CI smoke plan: four 200-step digits-MLP runs (a stable and a spiking rate, tune and report seeds each) and one
    /// 40-step GPT run, enough to exercise every pass, the worker processes, the scoring and the outputs in seconds.
    /// </summary>
    public static IReadOnlyList<PlannedRun> Smoke()
    {
        var stable = new Setting(WorkloadKind.DigitsMlp, OptimizerKind.SgdMomentum, 0, 0.05, 200, 32);
        var fast = stable with { LearningRate = 0.8 };
        var gpt = new Setting(WorkloadKind.CharGpt, OptimizerKind.Adam, 10, 3e-3, 40, 8);
        return
        [
            new(stable, 1, SeedRole.Tune), new(fast, 1, SeedRole.Tune),
            new(stable, 2, SeedRole.Report), new(fast, 2, SeedRole.Report),
            new(gpt, 2, SeedRole.Report),
        ];
    }

    /// <summary>
    /// The learning-rate sweep: unmonitored runs, seed 1, of every setup over a grid wide enough to reach immediate
    /// divergence.
    /// </summary>
    public static IReadOnlyList<PlannedRun> Sweep()
    {
        // Grids: wide steps where nothing changes, finer ones where runs start to spike, fail or diverge.
        Setting[] settings =
        [
            .. Rates(WorkloadKind.CharGpt, OptimizerKind.Adam, 0, [1e-3, 3e-3, 1e-2, 2e-2, 3e-2, 5e-2, 0.1, 0.3, 1.0]),
            .. Rates(WorkloadKind.CharGpt, OptimizerKind.Adam, GptWarmup, [1e-3, 3e-3, 0.1, 1.0]),
            .. Rates(WorkloadKind.CharGpt, OptimizerKind.AdamW, 0, [1e-2, 0.1, 1.0]),
            .. Rates(WorkloadKind.CharGpt, OptimizerKind.AdamW, GptWarmup, [0.1, 1.0]),
            .. Rates(WorkloadKind.CharGpt, OptimizerKind.Adam, 0, [0.5]),
            .. Rates(WorkloadKind.CharGpt, OptimizerKind.AdamW, 0, [0.5]),
            .. Rates(WorkloadKind.CharGpt, OptimizerKind.Adam, LongGptWarmup, [0.5, 1.0]),
            .. Rates(WorkloadKind.CharGpt, OptimizerKind.AdamW, LongGptWarmup, [0.5, 1.0]),
            .. Rates(WorkloadKind.CharGpt, OptimizerKind.Adam, 500, [1.0]),
            .. Rates(WorkloadKind.CharGpt, OptimizerKind.AdamW, 500, [1.0]),
            .. Rates(WorkloadKind.DigitsCnn, OptimizerKind.SgdMomentum, 0, [0.01, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 2.0]),
            .. Rates(WorkloadKind.DigitsCnn, OptimizerKind.Adam, 0, [1e-3, 3e-3, 1e-2, 2e-2, 3e-2, 5e-2, 0.1]),
            .. Rates(WorkloadKind.DigitsMlp, OptimizerKind.SgdMomentum, 0, [0.03, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 2.0]),
            .. Rates(WorkloadKind.DigitsMlp, OptimizerKind.Adam, 0, [1e-3, 3e-3, 1e-2, 3e-2, 0.1]),
        ];
        return [.. settings.Select(s => new PlannedRun(s, 1, SeedRole.Tune))];
    }

    private static IEnumerable<Setting> Rates(WorkloadKind workload, OptimizerKind optimizer, int warmup, double[] rates) =>
        rates.Select(lr => workload == WorkloadKind.CharGpt
            ? new Setting(workload, optimizer, warmup, lr, GptSteps, GptProbeBatch)
            : new Setting(workload, optimizer, warmup, lr, DigitsSteps, DigitsProbeBatch));
}
