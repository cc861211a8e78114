using SpectralMonitor.Backoff;
using SpectralMonitor.Rules;

namespace SpectralMonitor;

/// <summary>Which estimators a probe runs.</summary>
[Flags]
public enum ProbeEstimators
{
    /// <summary>None (the monitor then only tracks loss and gradient statistics).</summary>
    None = 0,

    /// <summary>Top eigenvalues of the curvature operator by warm-started Lanczos (sharpness and its edge).</summary>
    Sharpness = 1,

    /// <summary>Mode-resolved analysis of J from the curvature spectrum (ρ and its split, κ per mode, exceptional points, transient growth). Needs <see cref="Sharpness"/>.</summary>
    Modes = 2,

    /// <summary>Stochastic Lanczos quadrature of the curvature spectrum (feeds κ over all modes with bulk nodes).</summary>
    SpectralDensity = 4,

    /// <summary>Normalized commutator ‖[H̃, P]‖_F by Hutchinson probes (adaptive optimizers; two HVPs per probe vector).</summary>
    Commutator = 8,

    /// <summary>Top singular value and stable rank of each weight matrix (no HVP).</summary>
    WeightSingularValues = 16,

    /// <summary>Arnoldi on J itself: ρ, κ over Ritz vectors, transient growth and Kreiss constant of the projection.</summary>
    Arnoldi = 32,

    /// <summary>
    /// Adam family: how much of the top preconditioned mode lies on ε-dominated coordinates (√v̂ &lt; c·ε, c = 1, 10,
    /// 100; no HVP), and the preconditioned sharpness with √v̂ floored at 10ε and 100ε over the edge (a warm-started
    /// Lanczos each, within the probe's HVP budget). Needs <see cref="Sharpness"/>. A diagnostic of the frozen
    /// preconditioner's edge (benchmarks/Detection/WARNINGS.md), not in <see cref="Default"/>.
    /// </summary>
    EpsilonModes = 64,

    /// <summary>The default set: what the detection benchmark supports at low cost.</summary>
    Default = Sharpness | Modes | WeightSingularValues,

    /// <summary>Everything.</summary>
    All = Sharpness | Modes | SpectralDensity | Commutator | WeightSingularValues | Arnoldi | EpsilonModes,
}

/// <summary>Options of a <see cref="StabilityMonitor"/>; validated when the monitor is created.</summary>
public sealed record StabilityMonitorOptions
{
    /// <summary>Name of the run (the <c>run</c> tag of every metric).</summary>
    /// <remarks>
    /// Unique per live monitor in a process: a monitor created while another live one has the name gets
    /// <c>name-2</c> (then <c>-3</c>, …) and logs a Warning, because the two would otherwise export the same series and
    /// hide each other; <see cref="StabilityMonitor.Options"/> holds the name in force. A disposed monitor frees its name.
    /// </remarks>
    public string RunName { get; init; } = "run";

    /// <summary>
    /// Read the target's step sensor (<see cref="Probing.IStepSensor"/>: optimizer-state statistics at dot-product cost,
    /// no Hessian-vector product) at steps divisible by this; 0 turns it off. Range [0, 1 000 000]. Default 5. A read
    /// that would take the sensor past its share (0.45) of <see cref="OverheadBudget"/> (cumulatively, against the training time)
    /// waits for the first later step at which it fits, so on small models, where one read costs a sizeable part of a
    /// training step, reads come less often (see <see cref="StabilityMonitor.Cost"/>). The loss and gradient-norm
    /// statistics are read at every step whatever this is.
    /// </summary>
    public int StepSensorInterval { get; init; } = 5;

    /// <summary>Probe every this many steps (before budget stretching). Range [1, 1 000 000].</summary>
    public int ProbeInterval { get; init; } = 25;

    /// <summary>Steps to wait before the first probe (later when <see cref="OverheadBudget"/> cannot pay for it yet). Range [0, 1 000 000].</summary>
    public int FirstProbeStep { get; init; } = 10;

    /// <summary>
    /// Largest ratio of the monitor's time on the training thread to the training time, cumulatively from the first
    /// step (what the run monitored costs over the run unmonitored, less one). Everything the monitor does inside its
    /// calls counts (step statistics, rules, step-sensor reads, probes); training time is the time between its calls,
    /// on the monitor's clock (<see cref="StabilityMonitor.Cost"/> reports both). A probe runs at the first step at or
    /// after its scheduled one at which its estimated cost fits (the previous probe's duration; before the first,
    /// 3 × (<see cref="KrylovDimension"/> + 2) training steps: 54 at the defaults), so the first probe is not forced at
    /// <see cref="FirstProbeStep"/>. Optional work (probes, step-sensor reads) fills at most nine tenths of the budget,
    /// the rest left for costs the monitor cannot see from inside its calls (garbage collection of its allocations,
    /// cache effects on the training step); step-sensor reads may take half of that, which probes never take from them.
    /// One-off time is reported apart (<see cref="MonitorCost.OneOffSeconds"/>) and not charged: the monitor's creation,
    /// its first call of each kind and its first sensor read (mostly the runtime compiling the monitor's code in a fresh
    /// process), and the part of a read or a call beyond four times the recent median (a rule's first alert, a garbage
    /// collection). Range (0, 1]; 1 turns the budget off (probes and reads on their nominal schedule).
    /// </summary>
    public double OverheadBudget { get; init; } = 0.05;

    /// <summary>
    /// Upper bound of the interval widened after failed probes. Range [<see cref="ProbeInterval"/>, 10 000 000]. The
    /// overhead budget may still defer a probe past it.
    /// </summary>
    public int MaxProbeInterval { get; init; } = 5000;

    /// <summary>Bring the next probe forward (halve the interval) when an indicator rose over the last probes (within <see cref="OverheadBudget"/>).</summary>
    public bool BringForwardOnTrend { get; init; } = true;

    /// <summary>Cap on Hessian-vector products per probe. Range [4, 100 000].</summary>
    public int MaxHvpsPerProbe { get; init; } = 120;

    /// <summary>
    /// Wall-clock limit of one probe; it is cancelled and recorded as failed past it. Range (0, 1 h], or null (the
    /// default): derived from the measured cost, <c>3 × (MaxHvpsPerProbe + 2)</c> times the largest duration per
    /// Hessian-vector product of the last five successful probes (before the first, three training steps per HVP; before
    /// any timed step, 10 minutes), clamped to [30 s, 1 h]. A fixed limit that suits a small model makes every probe of
    /// a large one time out; the derived one scales with the model and the machine.
    /// </summary>
    /// <remarks>
    /// Measured on the monitor's <see cref="TimeProvider"/>. The probe checks it between its stages and before every
    /// Hessian-vector product (the TorchSharp adapter also right after the probe-loss closure returns and after reading
    /// the optimizer state) and fails with a reason that names the limit. A call already running is never interrupted:
    /// the user's probe-loss closure, the first-order backward, one Hessian-vector product, one weight matrix's power
    /// iteration. So a probe ends within the limit plus the longest of those calls (a 4 s probe loss takes 4 s whatever
    /// the limit; nothing runs after it once the limit has passed).
    /// </remarks>
    public TimeSpan? ProbeTimeout { get; init; }

    /// <summary>Which estimators run.</summary>
    public ProbeEstimators Estimators { get; init; } = ProbeEstimators.Default;

    /// <summary>
    /// How many top curvature modes are resolved (Lanczos k). Range [1, 64]. The default rules read only the top
    /// mode (sharpness against its edge, ρ_osc), so the default is 1; raise it for κ over several top modes.
    /// </summary>
    public int TopModes { get; init; } = 1;

    /// <summary>Krylov subspace dimension of the Lanczos and Arnoldi solvers. Range [<see cref="TopModes"/> + 2, 256].</summary>
    public int KrylovDimension { get; init; } = 16;

    /// <summary>
    /// Relative tolerance of the eigensolvers. Range [1e-14, 0.5]. The sharpness Lanczos stops when its eigenvalue
    /// error estimate is below it (<see cref="Estimators.Krylov.LanczosStoppingRule.EigenvalueError"/>: the default
    /// 1e-3 gives the top eigenvalue to about 1e-3 relative, ample for rules that compare ratios with 0.9 and 1); the
    /// Arnoldi path bounds its residuals with it.
    /// </summary>
    public double Tolerance { get; init; } = 1e-3;

    /// <summary>Horizon K of transient growth max‖Jᵏ‖. Range [1, 10 000].</summary>
    public int Horizon { get; init; } = 50;

    /// <summary>Rademacher probes of stochastic Lanczos quadrature. Range [1, 64].</summary>
    public int DensityProbes { get; init; } = 2;

    /// <summary>Lanczos steps per quadrature probe. Range [2, 256].</summary>
    public int DensitySteps { get; init; } = 10;

    /// <summary>Hutchinson probes of the commutator norm. Range [1, 64].</summary>
    public int CommutatorProbes { get; init; } = 2;

    /// <summary>
    /// The most Lanczos steps (products with <c>WᵀW</c>) per weight matrix for its top singular value. Range [1, 1000].
    /// </summary>
    public int SingularValueIterations { get; init; } = 32;

    /// <summary>
    /// The relative residual <c>‖WᵀW·x − σ²x‖/σ²</c> at which a weight matrix's Lanczos stops before
    /// <see cref="SingularValueIterations"/>: σ² is then within that (relative) of an eigenvalue of <c>WᵀW</c>, σ within
    /// about half of it of a singular value. Warm-started from the previous probe, most matrices stop after a few steps.
    /// Range (0, 0.5].
    /// </summary>
    public double SingularValueTolerance { get; init; } = 1e-3;

    /// <summary>The alert rules (data). Defaults: <see cref="DefaultRules.All"/>.</summary>
    public IReadOnlyList<AlertRule> Rules { get; init; } = DefaultRules.All;

    /// <summary>How baselines of <see cref="RuleComparison.RatioToBaseline"/> rules are formed.</summary>
    public BaselineKind BaselineKind { get; init; } = BaselineKind.Median;

    /// <summary>Observations in a median baseline. Range [1, 1000].</summary>
    public int BaselineProbes { get; init; } = 5;

    /// <summary>Weight on the past of an EWMA baseline. Range [0, 1).</summary>
    public double BaselineEwmaAlpha { get; init; } = 0.9;

    /// <summary>Weight on the past of the loss and gradient-norm EMAs behind their z-scores. Range [0, 1).</summary>
    public double StatisticsEwmaAlpha { get; init; } = 0.97;

    /// <summary>Steps before z-scores are reported (the EMAs need to settle). Range [0, 1 000 000].</summary>
    public int StatisticsWarmupSteps { get; init; } = 20;

    /// <summary>Learning-rate backoff; null (the default) leaves the learning rate alone.</summary>
    public BackoffOptions? Backoff { get; init; }

    /// <summary>
    /// The reactive spike guard (skip the update of a spike's onset and cut the learning rate, see
    /// <see cref="SpikeGuardOptions"/> and <see cref="StabilityMonitor.BeforeUpdate"/>); null (the default) for none.
    /// It acts only where the loop calls <see cref="StabilityMonitor.BeforeUpdate"/> (the TorchSharp adapter's
    /// <c>MonitoredOptimizer.Step</c> does). Cutting the learning rate needs a learning-rate controller on the target.
    /// </summary>
    public SpikeGuardOptions? SpikeGuard { get; init; }

    /// <summary>Checks every option; the message names the option, its value and the allowed range.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        Require(!string.IsNullOrWhiteSpace(RunName), nameof(RunName), RunName, "a non-empty name");
        Require(ProbeInterval is >= 1 and <= 1_000_000, nameof(ProbeInterval), ProbeInterval, "[1, 1000000]");
        Require(StepSensorInterval is >= 0 and <= 1_000_000, nameof(StepSensorInterval), StepSensorInterval, "[0, 1000000]");
        Require(FirstProbeStep is >= 0 and <= 1_000_000, nameof(FirstProbeStep), FirstProbeStep, "[0, 1000000]");
        Require(OverheadBudget > 0 && OverheadBudget <= 1, nameof(OverheadBudget), OverheadBudget, "(0, 1]");
        Require(MaxProbeInterval >= ProbeInterval && MaxProbeInterval <= 10_000_000, nameof(MaxProbeInterval), MaxProbeInterval, $"[ProbeInterval = {ProbeInterval}, 10000000]");
        Require(MaxHvpsPerProbe is >= 4 and <= 100_000, nameof(MaxHvpsPerProbe), MaxHvpsPerProbe, "[4, 100000]");
        Require(ProbeTimeout is null || (ProbeTimeout > TimeSpan.Zero && ProbeTimeout <= TimeSpan.FromHours(1)), nameof(ProbeTimeout), ProbeTimeout, "(0, 1 h], or null to derive it from the measured HVP time");
        Require((Estimators & ~ProbeEstimators.All) == 0, nameof(Estimators), Estimators, $"a combination of the defined flags ({ProbeEstimators.All})");
        Require(!Estimators.HasFlag(ProbeEstimators.Modes) || Estimators.HasFlag(ProbeEstimators.Sharpness), nameof(Estimators), Estimators, "Modes only together with Sharpness (it analyses the Lanczos spectrum)");
        Require(TopModes is >= 1 and <= 64, nameof(TopModes), TopModes, "[1, 64]");
        Require(KrylovDimension >= TopModes + 2 && KrylovDimension <= 256, nameof(KrylovDimension), KrylovDimension, $"[TopModes + 2 = {TopModes + 2}, 256]");
        Require(KrylovDimension <= MaxHvpsPerProbe, nameof(KrylovDimension), KrylovDimension, $"at most MaxHvpsPerProbe = {MaxHvpsPerProbe} (one Krylov basis must fit in a probe's HVP budget)");
        Require(Tolerance >= 1e-14 && Tolerance <= 0.5, nameof(Tolerance), Tolerance, "[1e-14, 0.5]");
        Require(Horizon is >= 1 and <= 10_000, nameof(Horizon), Horizon, "[1, 10000]");
        Require(DensityProbes is >= 1 and <= 64, nameof(DensityProbes), DensityProbes, "[1, 64]");
        Require(DensitySteps is >= 2 and <= 256, nameof(DensitySteps), DensitySteps, "[2, 256]");
        Require(CommutatorProbes is >= 1 and <= 64, nameof(CommutatorProbes), CommutatorProbes, "[1, 64]");
        Require(SingularValueIterations is >= 1 and <= 1000, nameof(SingularValueIterations), SingularValueIterations, "[1, 1000]");
        Require(SingularValueTolerance is > 0 and <= 0.5, nameof(SingularValueTolerance), SingularValueTolerance, "(0, 0.5]");
        Require(BaselineProbes is >= 1 and <= 1000, nameof(BaselineProbes), BaselineProbes, "[1, 1000]");
        Require(BaselineEwmaAlpha is >= 0 and < 1, nameof(BaselineEwmaAlpha), BaselineEwmaAlpha, "[0, 1)");
        Require(StatisticsEwmaAlpha is >= 0 and < 1, nameof(StatisticsEwmaAlpha), StatisticsEwmaAlpha, "[0, 1)");
        Require(StatisticsWarmupSteps is >= 0 and <= 1_000_000, nameof(StatisticsWarmupSteps), StatisticsWarmupSteps, "[0, 1000000]");
        Require(Rules is not null, nameof(Rules), "null", "a list of rules (may be empty)");

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var rule in Rules!)
        {
            Require(rule is not null, nameof(Rules), "a null entry", "non-null rules");
            rule!.Validate();
            Require(names.Add(rule.Name), nameof(Rules), rule.Name, "unique rule names");
        }

        Backoff?.Validate();
        SpikeGuard?.Validate();
    }

    private static void Require(bool condition, string option, object? value, string allowed)
    {
        if (!condition)
        {
            throw new ArgumentException($"StabilityMonitorOptions.{option} is {value}; allowed: {allowed}.", option);
        }
    }
}
