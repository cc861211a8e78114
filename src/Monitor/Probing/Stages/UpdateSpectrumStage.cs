using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Dense;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.NonNormality;
using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Probing.Stages;

/// <summary>What Arnoldi on J itself measured.</summary>
/// <param name="Branches">ρ and its branches over the Ritz values.</param>
/// <param name="OscillatoryEigenvectorCondition">κ over the converged oscillatory Ritz vectors, or null when none converged.</param>
/// <param name="TransientGrowth">max‖Hᵏ‖ of the projected matrix.</param>
/// <param name="KreissConstant">Kreiss constant of the projection's stable part, or null when it has none.</param>
/// <param name="AfterModes">Whether the mode analysis already reported ρ, its branches and the transient growth (exact per mode: kept).</param>
/// <param name="Convergence">Arnoldi's quality.</param>
internal sealed record UpdateSpectrumReading(
    SpectralRadiusBranches Branches,
    double? OscillatoryEigenvectorCondition,
    double TransientGrowth,
    double? KreissConstant,
    bool AfterModes,
    ConvergenceInfo Convergence) : StageReading
{
    public override IEnumerable<ProbeReading> Readings()
    {
        if (!AfterModes)
        {
            yield return ProbeReading.Of(Indicators.SpectralRadius, Branches.Radius, ProbeMetrics.SpectralRadius, ("branch", "all"));
            yield return ProbeReading.Of(Indicators.OscillatoryRadius, Branches.Oscillatory, ProbeMetrics.SpectralRadius, ("branch", "oscillatory"));
            yield return ProbeReading.Of(Indicators.MonotoneRadius, Branches.Monotone, ProbeMetrics.SpectralRadius, ("branch", "monotone"));
            yield return ProbeReading.Of(Indicators.TransientGrowth, TransientGrowth, ProbeMetrics.TransientGrowth);
        }

        if (OscillatoryEigenvectorCondition is double kappa)
        {
            yield return ProbeReading.Of(Indicators.OscillatoryEigenvectorCondition, kappa, ProbeMetrics.EigenvectorCondition, ("scope", "oscillatory"));
        }

        if (KreissConstant is double kreiss)
        {
            yield return ProbeReading.Of(Indicators.KreissConstant, kreiss, ProbeMetrics.KreissConstant);
        }
    }
}

/// <summary>
/// The generic path: Arnoldi on J itself (frozen preconditioner), then ρ and its split from the Ritz values, κ over the
/// converged oscillatory Ritz vectors, and transient growth and the Kreiss constant of the projected matrix restricted
/// to its stable invariant subspace. It serves every update map the mode analysis cannot.
/// </summary>
internal sealed class UpdateSpectrumStage<TVec> : ProbeStage<TVec>
    where TVec : class
{
    public override string Name => "update_spectrum";

    public override bool Applies(ProbeFrame<TVec> frame) =>
        frame.Options.Estimators.HasFlag(ProbeEstimators.Arnoldi) && frame.Snapshot is not null;

    // One Krylov basis of J (of dimension 2n at most for a (θ, m) state).
    public override long MinimumHvps(ProbeFrame<TVec> frame) => Math.Min(frame.Options.KrylovDimension, 2L * frame.Hessian.Dimension);

    public override string? Run(ProbeFrame<TVec> frame, StageBudget budget, CancellationToken cancellationToken)
    {
        bool afterModes = frame.Get<ModeReading>() is not null;
        frame.Path = frame.Path == ProbePath.Structured && afterModes ? ProbePath.StructuredAndGeneric : ProbePath.Generic;
        var options = frame.Options;
        using var update = UpdateOperators.Create(frame.Snapshot!, frame.Hessian);
        int dimension = update.Dimension;
        int k = Math.Min(options.TopModes, Math.Max(1, dimension - 2));
        var arnoldi = new ArnoldiOptions
        {
            Count = k,
            Which = EigenvalueSelection.LargestMagnitude,
            KrylovDimension = Math.Min(dimension, Math.Max(options.KrylovDimension, k + 2)),
            Tolerance = options.Tolerance,
            MaxApplications = Math.Max(1, budget.Hvps),
            Seed = frame.ProbeIndex,
        };
        var result = Arnoldi.Solve(update, arnoldi, cancellationToken: cancellationToken);
        if (Unusable(result.Convergence, result.Eigenvalues.Count, "Arnoldi on J", cancellationToken) is string reason)
        {
            return reason;
        }

        frame.Add(Read(result, options, afterModes));
        return null;
    }

    private static UpdateSpectrumReading Read(ArnoldiResult result, StabilityMonitorOptions options, bool afterModes)
    {
        var values = result.Eigenvalues;
        var residuals = result.Convergence.ResidualNorms;
        var oscillatory = Enumerable.Range(0, values.Count)
            .Where(i => values[i].Real < 0 && i < residuals.Count && residuals[i] <= options.Tolerance * Math.Max(values[i].Magnitude, 1e-300))
            .ToArray();
        double? kappa = oscillatory.Length > 0 ? EigenvectorCondition.FromRitzCoordinates(result.RitzCoordinates, oscillatory).Value : null;
        var projected = result.ProjectedMatrix;
        var stable = ComplexSchur.StablePart(projected);
        double? kreiss = stable is null ? null : KreissConstant.Dense(stable).Value;
        return new UpdateSpectrumReading(
            SpectralRadius.Branches(values),
            kappa,
            TransientGrowth.FromProjectedMatrix(projected, options.Horizon).Max,
            kreiss,
            afterModes,
            result.Convergence);
    }
}
