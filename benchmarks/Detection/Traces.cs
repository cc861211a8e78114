using SpectralMonitor.Rules;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using SpectralMonitor.Backoff;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>One probe as a trace stores it.</summary>
/// <param name="Step">The step the probe ran after.</param>
/// <param name="Succeeded">Whether it succeeded (failed probes carry no indicators).</param>
/// <param name="Milliseconds">Wall time of the probe.</param>
/// <param name="Hvps">Hessian-vector products it spent.</param>
/// <param name="Indicators">Every indicator it reported (<see cref="ProbeResult.Indicators"/>, all keys).</param>
internal sealed record ProbeRecord(long Step, bool Succeeded, double Milliseconds, long Hvps, IReadOnlyDictionary<string, double> Indicators);

/// <summary>
/// One training pass of a run under one monitor configuration: its cost, its probes and the monitor's alert level
/// at every step (as the monitor ran, rules included).
/// </summary>
/// <param name="Configuration">"unmonitored", "default" or "dense" (see <see cref="MonitorConfigurations"/>).</param>
/// <param name="CpuSeconds">Process CPU time of the pass.</param>
/// <param name="WallSeconds">Wall time of the pass.</param>
/// <param name="ProbeSeconds">Wall time spent in probes.</param>
/// <param name="SensorSeconds">CPU time of the training thread spent in the step sensors attached to this pass (0 when none).</param>
/// <param name="SameLosses">The pass's per-step losses equal the unmonitored pass's bit for bit.</param>
/// <param name="Probes">Every probe.</param>
/// <param name="LevelChanges">The monitor's alert level (0 Ok, 1 Warning, 2 Critical) as [step, level] pairs, one per change; the level holds until the next pair.</param>
internal sealed record PassRecord(
    string Configuration,
    double CpuSeconds,
    double WallSeconds,
    double ProbeSeconds,
    double SensorSeconds,
    bool SameLosses,
    IReadOnlyList<ProbeRecord> Probes,
    IReadOnlyList<long[]> LevelChanges)
{
    /// <summary>The pass's own per-step losses when they may differ from the unmonitored pass's (the reactive and ZClip passes of <c>detection reactive</c>); null otherwise.</summary>
    public double[]? Losses { get; init; }

    /// <summary>Updates the pass skipped (the spike guard's skips; 0 otherwise).</summary>
    public int SkippedUpdates { get; init; }

    /// <summary>Steps whose update used a lower learning rate than the unmonitored pass's (a backoff or the guard's cut in force).</summary>
    public int ReducedRateSteps { get; init; }

    /// <summary>Whether the pass ended because its loss or gradient became non-finite on an applied update.</summary>
    public bool Diverged { get; init; }
}

/// <summary>
/// Everything recorded about one run: the spec, per-step signals (loss, gradient norm, learning rate and every step
/// sensor's values) and one <see cref="PassRecord"/> per monitor configuration. Detectors read only this record, so a
/// new sensor or indicator becomes a detector without touching the harness: step sensors add columns to
/// <see cref="StepSignals"/>, probe indicators arrive in <see cref="ProbeRecord.Indicators"/> by name, and a changed
/// default rule set shows in the monitored passes' <see cref="PassRecord.LevelChanges"/>.
/// </summary>
/// <param name="Name">The run's name.</param>
/// <param name="Setting">The setting.</param>
/// <param name="Seed">The seed.</param>
/// <param name="Role">Tune or report.</param>
/// <param name="ParameterCount">Trainable parameters.</param>
/// <param name="StepsRun">Steps trained (fewer than the setting's when the run diverged).</param>
/// <param name="Diverged">The loss became non-finite (the run stopped there).</param>
/// <param name="StepSignals">Per-step series by name, each <see cref="StepsRun"/> long (NaN where not measured).</param>
/// <param name="Passes">The passes, unmonitored first.</param>
internal sealed record RecordedRun(
    string Name,
    Setting Setting,
    int Seed,
    SeedRole Role,
    long ParameterCount,
    int StepsRun,
    bool Diverged,
    IReadOnlyDictionary<string, double[]> StepSignals,
    IReadOnlyList<PassRecord> Passes)
{
    /// <summary>The per-step losses.</summary>
    [JsonIgnore]
    public double[] Losses => StepSignals[StepSignalNames.Loss];

    /// <summary>The pass of <paramref name="configuration"/>, or null when it was not run.</summary>
    public PassRecord? Pass(string configuration) => Passes.FirstOrDefault(p => p.Configuration == configuration);

    /// <summary>Reads a trace file.</summary>
    public static RecordedRun Read(string path) =>
        JsonSerializer.Deserialize<RecordedRun>(File.ReadAllText(path), TraceJson.Options) ?? throw new InvalidDataException($"{path}: not a run trace.");

    /// <summary>Writes the trace to <paramref name="path"/>.</summary>
    public void Write(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, TraceJson.Options));
}

/// <summary>Names of the step signals every trace has.</summary>
internal static class StepSignalNames
{
    /// <summary>The mini-batch loss of each step (before its update).</summary>
    public const string Loss = "loss";

    /// <summary>The global L2 norm of each step's gradient.</summary>
    public const string GradientNorm = "gradient_norm";

    /// <summary>The learning rate each step's update used.</summary>
    public const string LearningRate = "learning_rate";
}

/// <summary>The monitor configurations each run is trained under, and their options.</summary>
internal static class MonitorConfigurations
{
    /// <summary>No monitor: the cost baseline and the source of the step signals.</summary>
    public const string Unmonitored = "unmonitored";

    /// <summary><c>new StabilityMonitorOptions()</c>: what a user gets.</summary>
    public const string Default = "default";

    /// <summary>Dense probing: every <see cref="DenseInterval"/> steps, budget off, default estimators and rules.</summary>
    public const string Dense = "dense";

    /// <summary>
    /// The default options with the opt-in batch-curvature sensor and its rule (<see cref="DefaultRules.BatchCurvatureRise"/>
    /// beside the default rules; the runner gives the monitor the training batch's loss): what a user who turns it on gets.
    /// </summary>
    public const string Curvature = "curvature";

    /// <summary>
    /// As <see cref="Curvature"/>, with the budget off and no probe, so that the step sensor is read every
    /// <see cref="StabilityMonitorOptions.StepSensorInterval"/> (5) steps: the cadence the offline detectors were scored at.
    /// </summary>
    public const string CurvatureEvery5 = "curvature-every-5";

    /// <summary>As <see cref="CurvatureEvery5"/>, with the learning-rate backoff at its defaults (the <c>detection backoff-curvature</c> study).</summary>
    public const string CurvatureBackoff = "curvature-backoff";

    /// <summary>As <see cref="Curvature"/> (the default 5% budget), with the learning-rate backoff at its defaults (the <c>detection backoff-curvature-budget</c> study).</summary>
    public const string CurvatureBackoffBudget = "curvature-backoff-budget";

    /// <summary>Whether <paramref name="configuration"/> gives the monitor the training batch's loss.</summary>
    /// <param name="configuration">A configuration.</param>
    public static bool ReadsBatchLoss(string configuration) => configuration is Curvature or CurvatureEvery5 or CurvatureBackoff or CurvatureBackoffBudget;

    /// <summary>Probe interval of the dense configuration.</summary>
    public const int DenseInterval = 10;

    /// <summary>
    /// The monitor with the reactive spike guard at its defaults (<see cref="SpikeGuardOptions"/>) and no probe
    /// (first probe past the end of every run), so that its CPU overhead is the guard's and the monitor's per-step
    /// bookkeeping alone (the default probes' cost is the "default" configuration's): the <c>detection reactive</c> study.
    /// </summary>
    public const string Reactive = "reactive";

    /// <summary>
    /// As <see cref="Reactive"/>, with <see cref="SpikeGuardOptions.RepeatCeilingFactor"/> = 1: every episode recovers
    /// to the full rate, as the guard did before the repeat ceiling (the <c>detection reactive-no-ceiling</c> study).
    /// </summary>
    public const string ReactiveNoCeiling = "reactive-no-ceiling";

    /// <summary>
    /// The monitor at its default options with the learning-rate backoff on (<see cref="BackoffOptions"/> at its
    /// defaults): what the default rules' alerts do to a run when they act (the <c>detection backoff</c> study).
    /// </summary>
    public const string Backoff = "backoff";

    /// <summary>
    /// The monitor at its default options with both the learning-rate backoff and the spike guard at their defaults:
    /// the alarms act early where they come, the guard catches the onsets they miss (the <c>detection backoff-guard</c> study).
    /// </summary>
    public const string BackoffGuard = "backoff-guard";

    /// <summary>
    /// As <see cref="Backoff"/>, with <see cref="BackoffOptions.EscalationSteps"/> = <see cref="EscalationSteps"/>: a
    /// Critical that persists cuts again (the <c>detection backoff-escalating</c> study).
    /// </summary>
    public const string BackoffEscalating = "backoff-escalating";

    /// <summary>
    /// Dense probing (<see cref="Dense"/>) with the backoff on: what the backoff does where the edge rules fire in healthy
    /// Adam runs (the <c>detection backoff-dense</c> study).
    /// </summary>
    public const string DenseBackoff = "dense-backoff";

    /// <summary>As <see cref="DenseBackoff"/>, with the escalating backoff (the <c>detection backoff-dense-escalating</c> study).</summary>
    public const string DenseBackoffEscalating = "dense-backoff-escalating";

    /// <summary>The escalating backoff's period: the default cooldown, so a rule still Critical after it cuts again (not tuned).</summary>
    public const int EscalationSteps = 100;

    /// <summary>Unmonitored, with ZClip-style gradient clipping (<see cref="ZClip"/>): the reactive study's baseline.</summary>
    public const string ZClipped = "zclip";

    /// <summary>Whether <paramref name="configuration"/> changes training (its pass keeps its own losses): the spike guard, ZClip-style clipping and the backoff.</summary>
    /// <param name="configuration">A configuration.</param>
    public static bool Intervenes(string configuration) => configuration is Reactive or ReactiveNoCeiling or ZClipped or Backoff or BackoffGuard or BackoffEscalating or DenseBackoff or DenseBackoffEscalating or CurvatureBackoff or CurvatureBackoffBudget;

    /// <summary>Every configuration, in the order a worker trains them.</summary>
    public static IReadOnlyList<string> All { get; } = [Unmonitored, Default, Curvature, CurvatureEvery5, Dense];

    /// <summary>The options of <paramref name="configuration"/> (null: unmonitored).</summary>
    /// <param name="configuration">One of <see cref="All"/>.</param>
    /// <param name="runName">The monitor's run name.</param>
    /// <param name="denseEstimators">The dense pass's estimators (null: the default set); the default pass always runs the defaults.</param>
    public static StabilityMonitorOptions? Options(string configuration, string runName, ProbeEstimators? denseEstimators = null) => configuration switch
    {
        Unmonitored => null,
        Default => new StabilityMonitorOptions { RunName = runName },
        Curvature => new StabilityMonitorOptions { RunName = runName, Rules = [.. DefaultRules.All, DefaultRules.BatchCurvatureRise] },
        CurvatureEvery5 => Options(Curvature, runName)! with { OverheadBudget = 1, FirstProbeStep = 1_000_000 },
        CurvatureBackoff => Options(CurvatureEvery5, runName)! with { Backoff = new BackoffOptions() },
        CurvatureBackoffBudget => Options(Curvature, runName)! with { Backoff = new BackoffOptions() },
        Dense => new StabilityMonitorOptions { RunName = runName, ProbeInterval = DenseInterval, OverheadBudget = 1, Estimators = denseEstimators ?? ProbeEstimators.Default },
        Reactive => new StabilityMonitorOptions { RunName = runName, SpikeGuard = new SpikeGuardOptions(), FirstProbeStep = 1_000_000 },
        ReactiveNoCeiling => Options(Reactive, runName)! with { SpikeGuard = new SpikeGuardOptions { RepeatCeilingFactor = 1 } },
        Backoff => new StabilityMonitorOptions { RunName = runName, Backoff = new BackoffOptions() },
        BackoffGuard => new StabilityMonitorOptions { RunName = runName, Backoff = new BackoffOptions(), SpikeGuard = new SpikeGuardOptions() },
        BackoffEscalating => new StabilityMonitorOptions { RunName = runName, Backoff = new BackoffOptions { EscalationSteps = EscalationSteps } },
        DenseBackoff => Options(Dense, runName)! with { Backoff = new BackoffOptions() },
        DenseBackoffEscalating => Options(Dense, runName)! with { Backoff = new BackoffOptions { EscalationSteps = EscalationSteps } },
        ZClipped => null,
        _ => throw new ArgumentException($"Unknown monitor configuration '{configuration}'.", nameof(configuration)),
    };
}

/// <summary>JSON settings of traces and results: indented, enums by name, NaN and infinities as strings.</summary>
internal static class TraceJson
{
    public static JsonSerializerOptions Options { get; } = new()
    {
        WriteIndented = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    public static JsonSerializerOptions Indented { get; } = new(Options) { WriteIndented = true };
}

/// <summary>What a worker process is asked to do: train one planned run under some configurations and write its trace.</summary>
/// <param name="Run">The run.</param>
/// <param name="Configurations">Configurations to train (<see cref="MonitorConfigurations"/>), unmonitored first.</param>
/// <param name="TracePath">Where the trace goes.</param>
/// <param name="Sensors">Attach the step sensors (to the last configuration's pass).</param>
/// <param name="DenseEstimators">The dense pass's probe estimators (null: <see cref="ProbeEstimators.Default"/>; <c>--dense-estimators</c>).</param>
internal sealed record WorkerJob(PlannedRun Run, IReadOnlyList<string> Configurations, string TracePath, bool Sensors, ProbeEstimators? DenseEstimators = null);
