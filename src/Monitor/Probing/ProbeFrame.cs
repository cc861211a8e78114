using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Modes;
using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Probing;

/// <summary>
/// One probe as its stages see it: the target's operators at fixed parameters, the operators built from them once
/// (the curvature operator, the optimizer's block form), the HVP account, and the typed readings added so far.
/// </summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
internal sealed class ProbeFrame<TVec> : IDisposable
    where TVec : class
{
    private readonly List<StageReading> _readings = [];
    private readonly long _hvpsBefore;
    private PreconditionedHessianOperator<TVec>? _preconditioned;

    /// <summary>Opens the frame; <see cref="Prepare"/> builds the derived operators (which may throw on an invalid snapshot).</summary>
    public ProbeFrame(IProbeContext<TVec> context, StabilityMonitorOptions options, int probeIndex)
    {
        Context = context;
        Options = options;
        ProbeIndex = probeIndex;
        Hessian = context.Hessian;
        _hvpsBefore = Hessian.TotalApplications;
        Snapshot = context.Optimizer;
        IsAdaptive = Snapshot is AdamSnapshot<TVec> or RmsPropSnapshot<TVec>;
        Path = Snapshot is null ? ProbePath.CurvatureOnly : ProbePath.Structured;
    }

    /// <summary>The target's view of the model for this probe.</summary>
    public IProbeContext<TVec> Context { get; }

    /// <summary>The monitor's options.</summary>
    public StabilityMonitorOptions Options { get; }

    /// <summary>Successful probes before this one (the seed of its random vectors).</summary>
    public int ProbeIndex { get; }

    /// <summary>The Hessian; its application counter is the probe's HVP account.</summary>
    public LinearOperator<TVec> Hessian { get; }

    /// <summary>The optimizer's state, or null when it cannot be linearized.</summary>
    public OptimizerSnapshot<TVec>? Snapshot { get; }

    /// <summary>Whether the curvature operator is preconditioned (Adam, RMSprop).</summary>
    public bool IsAdaptive { get; }

    /// <summary>The optimizer's block form (null without a snapshot).</summary>
    public UpdateBlock? Block { get; private set; }

    /// <summary>P^½H̃P^½ (H̃ for SGD), or null without a snapshot.</summary>
    public PreconditionedHessianOperator<TVec>? Preconditioned => _preconditioned;

    /// <summary>The symmetric operator whose spectrum the curvature stages read: <see cref="Preconditioned"/>, else the Hessian.</summary>
    public LinearOperator<TVec> Curvature => (LinearOperator<TVec>?)_preconditioned ?? Hessian;

    /// <summary>Which path produced the operator measures so far.</summary>
    public ProbePath Path { get; set; }

    /// <summary>
    /// The top unit eigenvector of <see cref="Curvature"/> (set by the sharpness stage; owned by it and valid for this
    /// probe only: read it, do not modify or release it), or null.
    /// </summary>
    public TVec? TopEigenvector { get; set; }

    /// <summary>Quality of the main eigensolve (set by the sharpness stage).</summary>
    public ConvergenceInfo? Convergence { get; set; }

    /// <summary>Hessian-vector products spent by this probe.</summary>
    public long Spent => Hessian.TotalApplications - _hvpsBefore;

    /// <summary>What is left of <see cref="StabilityMonitorOptions.MaxHvpsPerProbe"/>.</summary>
    public long Remaining => Options.MaxHvpsPerProbe - Spent;

    /// <summary>The typed readings added so far, in stage order.</summary>
    public IReadOnlyList<StageReading> Readings => _readings;

    /// <summary>Builds the curvature operator and block form from the snapshot.</summary>
    public void Prepare()
    {
        if (Snapshot is not null)
        {
            _preconditioned = UpdateOperators.CreatePreconditionedHessian(Snapshot, Hessian);
            Block = UpdateBlock.For(Snapshot);
        }
    }

    /// <summary>Adds a stage's reading.</summary>
    public void Add(StageReading reading) => _readings.Add(reading);

    /// <summary>The reading of type <typeparamref name="T"/>, or null when its stage did not run.</summary>
    public T? Get<T>()
        where T : StageReading => _readings.OfType<T>().FirstOrDefault();

    /// <inheritdoc/>
    public void Dispose()
    {
        _preconditioned?.Dispose();
        _preconditioned = null;
    }
}
