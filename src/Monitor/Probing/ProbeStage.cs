using SpectralMonitor.Estimators;

namespace SpectralMonitor.Probing;

/// <summary>
/// A stage's typed result, added to its probe's <see cref="ProbeFrame{TVec}"/>: later stages read it (the mode analysis
/// reads the sharpness stage's eigenvalues), and it says which numbers it exports and how (<see cref="Readings"/>).
/// </summary>
internal abstract record StageReading
{
    /// <summary>The numbers this reading contributes: indicators for the rules, metrics and tags for the instruments.</summary>
    public abstract IEnumerable<ProbeReading> Readings();
}

/// <summary>The Hessian-vector products a stage may spend: what is left of the probe's budget when it starts.</summary>
/// <param name="Hvps">The cap (a stage that needs more stops at it and reports what it has).</param>
internal readonly record struct StageBudget(long Hvps);

/// <summary>
/// One quantity a probe measures, as one class (Cockpit's one-class-per-quantity): whether it applies to this probe,
/// the fewest Hessian-vector products it is worth running with, and the measurement, which adds a typed
/// <see cref="StageReading"/> to the frame. A new measure is a new stage in <see cref="ProbeStages"/>, not an edit of
/// the runner. Stages run in order, on the training thread, inside the probe's DisposeScope; a stage may keep state
/// across probes (warm starts) and releases it in <see cref="Dispose()"/>.
/// </summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
internal abstract class ProbeStage<TVec> : IDisposable
    where TVec : class
{
    /// <summary>The stage's name in <see cref="ProbeResult.StageDurations"/> (snake case, for example <c>sharpness</c>).</summary>
    public abstract string Name { get; }

    /// <summary>Whether the stage runs in this probe (options, optimizer, the readings of earlier stages).</summary>
    /// <param name="frame">The probe so far.</param>
    public abstract bool Applies(ProbeFrame<TVec> frame);

    /// <summary>The fewest Hessian-vector products worth running with; the stage is skipped when fewer are left.</summary>
    /// <param name="frame">The probe so far.</param>
    public virtual long MinimumHvps(ProbeFrame<TVec> frame) => 0;

    /// <summary>Measures and adds the stage's reading to <paramref name="frame"/>.</summary>
    /// <param name="frame">The probe so far.</param>
    /// <param name="budget">The Hessian-vector products the stage may spend.</param>
    /// <param name="cancellationToken">The probe's token (timeout, disposal).</param>
    /// <returns>Why the whole probe must fail, or null.</returns>
    public abstract string? Run(ProbeFrame<TVec> frame, StageBudget budget, CancellationToken cancellationToken);

    /// <summary>
    /// Why a Krylov solve gives nothing to read, or null when it does: a cancelled solve rethrows the probe's token (the
    /// runner says whether it was the timeout or disposal); a solve that broke down or met a non-finite product, or
    /// returned no value within its budget, is a reason naming <paramref name="solver"/>.
    /// </summary>
    /// <param name="convergence">How the solve ended.</param>
    /// <param name="values">How many eigenvalues (or Ritz values) it returned.</param>
    /// <param name="solver">The solve, as the reason names it ("the eigensolver", "Arnoldi on J").</param>
    /// <param name="cancellationToken">The probe's token.</param>
    protected static string? Unusable(ConvergenceInfo convergence, int values, string solver, CancellationToken cancellationToken)
    {
        if (convergence.Status == ConvergenceStatus.Cancelled)
        {
            cancellationToken.ThrowIfCancellationRequested();
        }

        if (convergence.Status is ConvergenceStatus.NonFiniteOperatorOutput or ConvergenceStatus.Breakdown or ConvergenceStatus.Cancelled)
        {
            return $"{solver} ended with {convergence.Status}: {convergence.Reason}";
        }

        return values == 0 ? $"{solver} returned no value within the HVP budget" : null;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases state kept across probes.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
    }
}

/// <summary>The built-in stages, in the order they run (each reads only what the stages before it added).</summary>
internal static class ProbeStages
{
    internal static ProbeStage<TVec>[] Default<TVec>()
        where TVec : class =>
    [
        new Stages.SharpnessStage<TVec>(),
        new Stages.SpectralDensityStage<TVec>(),
        new Stages.ModesStage<TVec>(),
        new Stages.EpsilonModeStage<TVec>(),
        new Stages.CommutatorStage<TVec>(),
        new Stages.UpdateSpectrumStage<TVec>(),
        new Stages.WeightSpectraStage<TVec>(),
    ];
}
