using SpectralMonitor.Backoff;
using SpectralMonitor.Examples.Workloads;

namespace SpectralMonitor.Examples.InstabilityDemo;

/// <summary>What a run is there to show.</summary>
internal enum RunRole
{
    /// <summary>A learning rate that trains without a loss spike.</summary>
    Stable,

    /// <summary>A learning rate past the edge: the loss spikes.</summary>
    Unstable,

    /// <summary>The unstable run again, with the monitor's learning-rate backoff enabled.</summary>
    Backoff,

    /// <summary>
    /// The unstable run again, with the monitor's spike guard enabled: a spike onset's update is skipped and the rate
    /// halved (the reactive save).
    /// </summary>
    Guard,
}

/// <summary>One run of the demo.</summary>
/// <param name="Id">Short unique name (also the metrics' <c>run</c> tag), e.g. <c>gpt-unstable</c>.</param>
/// <param name="Group">The group of runs (stable, unstable, backoff, guard) it belongs to: <c>gpt</c> or <c>cnn</c>.</param>
/// <param name="Role">What the run shows.</param>
/// <param name="Workload">Model and data.</param>
/// <param name="Optimizer">Optimizer.</param>
/// <param name="LearningRate">Peak learning rate.</param>
/// <param name="WarmupSteps">Linear warm-up steps (0: none).</param>
/// <param name="BatchSize">Training rows per step.</param>
/// <param name="ProbeBatchSize">Rows of the monitor's fixed probe batch.</param>
/// <param name="ProbeInterval">The monitor's probe interval.</param>
/// <param name="FullSteps">Steps of a full run.</param>
/// <param name="QuickSteps">Steps with <c>--quick</c>.</param>
internal sealed record DemoRunDefinition(
    string Id,
    string Group,
    RunRole Role,
    WorkloadKind Workload,
    OptimizerKind Optimizer,
    double LearningRate,
    int WarmupSteps,
    int BatchSize,
    int ProbeBatchSize,
    int ProbeInterval,
    int FullSteps,
    int QuickSteps)
{
    /// <summary>Whether the monitor may back the learning rate off.</summary>
    public bool Backoff => Role == RunRole.Backoff;

    /// <summary>Whether the monitor's spike guard may skip updates and cut the learning rate.</summary>
    public bool SpikeGuard => Role == RunRole.Guard;

    /// <summary>A human-readable model and data description.</summary>
    public string ModelLabel => Workload switch
    {
        WorkloadKind.CharGpt => "char-GPT (1 pre-LN block, d 64, 4 heads, context 32) on Pride and Prejudice",
        WorkloadKind.DigitsCnn => "CNN (2 conv + 2 linear) on the 8×8 digits",
        _ => "MLP 64→128→64→10 on the 8×8 digits",
    };

    /// <summary>The optimizer as people write it.</summary>
    public string OptimizerLabel => Optimizer switch
    {
        OptimizerKind.SgdMomentum => "SGD momentum 0.9",
        OptimizerKind.Adam => "Adam",
        _ => "AdamW (weight decay 0.01)",
    };

    /// <summary>Short optimizer name for tables and JSON: <c>sgd</c>, <c>adam</c> or <c>adamw</c>.</summary>
    public string OptimizerId => Optimizer switch
    {
        OptimizerKind.SgdMomentum => "sgd",
        OptimizerKind.Adam => "adam",
        _ => "adamw",
    };

    /// <summary>A one-line title for reports.</summary>
    public string Title =>
        FormattableString.Invariant($"{Id}: {ModelLabel}, {OptimizerLabel}, lr {LearningRate:G3}{(WarmupSteps > 0 ? $" after {WarmupSteps} warm-up steps" : string.Empty)}, batch {BatchSize}{(Backoff ? ", backoff on" : string.Empty)}{(SpikeGuard ? ", spike guard on" : string.Empty)}");

    /// <summary>The training run for a seed and step count.</summary>
    /// <param name="seed">Seed of the initial weights, the batch order and the probe batch.</param>
    /// <param name="steps">Training steps.</param>
    public RunSpec ToSpec(int seed, int steps) =>
        new(Id, Workload, Optimizer, LearningRate, steps, seed, BatchSize, WarmupSteps) { ProbeBatchSize = ProbeBatchSize };

    /// <summary>
    /// Monitor options: the default rules and estimators, a probe every <see cref="ProbeInterval"/> steps (halved by
    /// the default bring-forward when an indicator rises), no wall-clock stretching, backoff for the backoff role.
    /// </summary>
    public StabilityMonitorOptions ToMonitorOptions() => new()
    {
        RunName = Id,
        ProbeInterval = ProbeInterval,

        // No stretching of the interval by the overhead budget: the probe schedule, and with it every alert and
        // backoff, must not depend on how fast (or how loaded) the machine is, or the demo would not be reproducible.
        // The cost this buys is measured and reported (probe time against training time, per run).
        OverheadBudget = 1,
        Backoff = Backoff ? new BackoffOptions() : null,
        SpikeGuard = SpikeGuard ? new SpikeGuardOptions() : null,
    };
}

/// <summary>
/// The runs of the demo. Learning rates come from a sweep (600 steps, no monitor, material spikes by
/// <see cref="LossSpikes.Onsets(IReadOnlyList{double})"/>; examples/InstabilityDemo/README.md has the table):
/// <list type="bullet">
/// <item>char-GPT, AdamW, linear warm-up over 50 steps, batch 32: lr 0.003–0.03 learn smoothly to 1.9–2.3 nats
/// without a spike; from lr 0.1 the model no longer gets past the unigram loss (≈ 3.1); at 0.4 and 0.5 it blows up
/// (10-step mean loss up to 180–250) 140–200 steps after the warm-up and comes back to ≈ 3.1 by step 600; at 1.0 it is chaotic
/// from the start. Chosen: stable 0.01, unstable 0.5.</item>
/// <item>digits CNN, SGD momentum 0.9, batch 64: lr 0.05–0.12 train to ≈ 0.001 without a spike; 0.15 is noisy with
/// late bumps; 0.2 learns to ≈ 0.2, spikes from step 77–121 and collapses to chance (2.31) for all three seeds; 0.3
/// collapses within 150 steps. Chosen: stable 0.05, unstable 0.2.</item>
/// </list>
/// Quick runs are exact prefixes of the full ones (the seed fixes everything), long enough to contain the first
/// spike of every unstable run on the default seed.
/// </summary>
internal static class DemoCatalog
{
    /// <summary>The default seed: the one the sweep fixed the runs for.</summary>
    public const int DefaultSeed = 1;

    /// <summary>Steps of a full GPT run.</summary>
    public const int GptFullSteps = 600;

    /// <summary>Steps of a quick GPT run.</summary>
    public const int GptQuickSteps = 220;

    /// <summary>Steps of a full CNN run.</summary>
    public const int CnnFullSteps = 600;

    /// <summary>Steps of a quick CNN run.</summary>
    public const int CnnQuickSteps = 200;

    /// <summary>Every run, in the order they are started.</summary>
    public static IReadOnlyList<DemoRunDefinition> All { get; } =
    [
        Gpt("gpt-stable", RunRole.Stable, 0.01),
        Gpt("gpt-unstable", RunRole.Unstable, 0.5),
        Gpt("gpt-backoff", RunRole.Backoff, 0.5),
        Gpt("gpt-guard", RunRole.Guard, 0.5),
        Cnn("cnn-stable", RunRole.Stable, 0.05),
        Cnn("cnn-unstable", RunRole.Unstable, 0.2),
        Cnn("cnn-backoff", RunRole.Backoff, 0.2),
        Cnn("cnn-guard", RunRole.Guard, 0.2),
    ];

    /// <summary>Names accepted by <c>--runs</c>: every run id, every group name, and <c>all</c>.</summary>
    public static IReadOnlyList<string> Selectors { get; } =
        [.. All.Select(r => r.Id), .. All.Select(r => r.Group).Distinct(), "all"];

    /// <summary>Resolves <c>--runs</c> values (run ids, group names or <c>all</c>) to runs in catalog order.</summary>
    /// <param name="selectors">The values; empty means all.</param>
    /// <param name="unknown">The first value that names nothing, or null.</param>
    public static IReadOnlyList<DemoRunDefinition> Select(IReadOnlyCollection<string> selectors, out string? unknown)
    {
        unknown = null;
        if (selectors.Count == 0)
        {
            return All;
        }

        var chosen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string raw in selectors)
        {
            string selector = raw.Trim().ToLowerInvariant();
            var matches = selector == "all" ? All : All.Where(r => r.Id == selector || r.Group == selector).ToArray();
            if (matches.Count == 0)
            {
                unknown = raw;
                return [];
            }

            chosen.UnionWith(matches.Select(m => m.Id));
        }

        return [.. All.Where(r => chosen.Contains(r.Id))];
    }

    // The GPT: probe batch 16 windows (512 tokens; a Hessian-vector product costs about 4 training steps' worth of
    // compute per token, so a 64-window batch made each probe cost ~60 steps), a probe every 20 steps.
    private static DemoRunDefinition Gpt(string id, RunRole role, double rate) =>
        new(id, "gpt", role, WorkloadKind.CharGpt, OptimizerKind.AdamW, rate, WarmupSteps: 50, BatchSize: 32, ProbeBatchSize: 16, ProbeInterval: 20, GptFullSteps, GptQuickSteps);

    // The CNN: probe batch 64 images (the training batch size), a probe every 10 steps.
    private static DemoRunDefinition Cnn(string id, RunRole role, double rate) =>
        new(id, "cnn", role, WorkloadKind.DigitsCnn, OptimizerKind.SgdMomentum, rate, WarmupSteps: 0, BatchSize: 64, ProbeBatchSize: 64, ProbeInterval: 10, CnnFullSteps, CnnQuickSteps);
}
