using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Probing.Stages;

/// <summary>What the top preconditioned mode carries on the coordinates with √v̂ &lt; c·ε, for one factor c.</summary>
/// <param name="Factor">c.</param>
/// <param name="CoordinateShare">The share of coordinates with √v̂ &lt; c·ε.</param>
/// <param name="CurvatureModeMass">The share of the top eigenvector y of P^½H̃P^½ (unit) on them: Σ_S y² / Σ y².</param>
/// <param name="UpdateModeMass">The same for x = P^½y, the top eigenvector of P·H̃: Σ_S x² / Σ x².</param>
/// <param name="CappedSharpness">λ_max of P^½H̃P^½ with √v̂ floored at c·ε, or null when not measured.</param>
internal sealed record EpsilonFloorReading(int Factor, double CoordinateShare, double CurvatureModeMass, double UpdateModeMass, double? CappedSharpness);

/// <summary>The ε-dominance of the top preconditioned mode, per factor, against the stability edge.</summary>
/// <param name="Floors">One reading per factor c.</param>
/// <param name="Edge">The stability edge of the preconditioned sharpness, or null.</param>
internal sealed record EpsilonModeReading(IReadOnlyList<EpsilonFloorReading> Floors, double? Edge) : StageReading
{
    public override IEnumerable<ProbeReading> Readings()
    {
        foreach (var floor in Floors)
        {
            string factor = floor.Factor.ToString(System.Globalization.CultureInfo.InvariantCulture);
            yield return ProbeReading.Of(Indicators.AtEpsilonFactor(Indicators.EpsilonCoordinateShare, floor.Factor), floor.CoordinateShare, ProbeMetrics.EpsilonCoordinateShare, ("factor", factor));
            yield return ProbeReading.Of(Indicators.AtEpsilonFactor(Indicators.TopModeEpsilonMass, floor.Factor), floor.CurvatureModeMass, ProbeMetrics.EpsilonMass, ("factor", factor), ("vector", "curvature"));
            yield return ProbeReading.Of(Indicators.AtEpsilonFactor(Indicators.UpdateModeEpsilonMass, floor.Factor), floor.UpdateModeMass, ProbeMetrics.EpsilonMass, ("factor", factor), ("vector", "update"));
            if (floor.CappedSharpness is double capped && Edge is double edge)
            {
                yield return ProbeReading.Of(Indicators.AtEpsilonFactor(Indicators.CappedSharpnessToEdge, floor.Factor), capped / edge, ProbeMetrics.CappedSharpnessToEdge, ("factor", factor));
            }
        }
    }
}

/// <summary>
/// Adam's frozen-preconditioner edge, checked against the ε-dominated coordinates (issue: does the top mode of P·H̃
/// live where √v̂ ≲ ε, so that P ≈ 1/ε?). From the sharpness stage's top eigenvector y of P^½H̃P^½ and the snapshot's
/// v̂: the share of coordinates with √v̂ &lt; c·ε and the share of y's and of x = P^½y's squared norm on them (element-wise
/// products and dots, no HVP), for c = 1, 10, 100; then, for c = 10 and 100, the top eigenvalue of the operator with √v̂
/// floored at c·ε (warm-started Lanczos from y, within what is left of the probe's HVP budget).
/// </summary>
internal sealed class EpsilonModeStage<TVec> : ProbeStage<TVec>
    where TVec : class
{
    public override string Name => "epsilon_modes";

    /// <summary>The factors c of the masses.</summary>
    internal static readonly int[] Factors = [1, 10, 100];

    /// <summary>The factors c of the floored operator's sharpness.</summary>
    internal static readonly int[] CappedFactors = [10, 100];

    public override bool Applies(ProbeFrame<TVec> frame) =>
        frame.Options.Estimators.HasFlag(ProbeEstimators.EpsilonModes)
        && frame.Snapshot is AdamSnapshot<TVec>
        && frame.Preconditioned is { IsIdentityPreconditioner: false }
        && frame.TopEigenvector is not null
        && frame.Hessian.Space is IElementwiseVectorSpace<TVec>;

    public override string? Run(ProbeFrame<TVec> frame, StageBudget budget, CancellationToken cancellationToken)
    {
        var adam = (AdamSnapshot<TVec>)frame.Snapshot!;
        var space = (IElementwiseVectorSpace<TVec>)frame.Hessian.Space;
        var y = frame.TopEigenvector!;
        double epsilon = adam.Hyperparameters.Epsilon;
        var vhat = OptimizerPreconditioners.AdamSecondMoment(adam, space);
        var x = space.CreateVector();
        var mask = space.CreateVector();
        var product = space.CreateVector();
        var floors = new List<EpsilonFloorReading>();
        try
        {
            space.Multiply(frame.Preconditioned!.SquareRoot, y, x);
            double yy = space.Dot(y, y);
            double xx = space.Dot(x, x);
            double n = frame.Hessian.Dimension;
            long left = budget.Hvps;
            foreach (int c in Factors)
            {
                cancellationToken.ThrowIfCancellationRequested();
                double floor = c * epsilon;

                // √v̂ < cε ⟺ v̂ < (cε)²; the mask is 0/1, so its squared norm counts the coordinates.
                space.IndicatorBelow(vhat, floor * floor, mask);
                double count = space.Dot(mask, mask);
                space.Multiply(mask, y, product);
                double massY = space.Dot(product, product) / yy;
                space.Multiply(mask, x, product);
                double massX = space.Dot(product, product) / xx;
                double? capped = null;
                if (Array.IndexOf(CappedFactors, c) >= 0 && left >= 2)
                {
                    int remainingSolves = CappedFactors.Count(f => f >= c);
                    long share = Math.Min(left / remainingSolves, 3L * frame.Options.KrylovDimension);
                    var (value, spent) = FlooredSharpness(frame, adam, floor, y, Math.Max(2, share), cancellationToken);
                    left -= spent;
                    capped = value;
                }

                floors.Add(new EpsilonFloorReading(c, count / n, massY, massX, capped));
            }
        }
        finally
        {
            space.Release(product);
            space.Release(mask);
            space.Release(x);
            space.Release(vhat);
        }

        frame.Add(new EpsilonModeReading(floors, frame.Block?.StabilityEdge));
        return null;
    }

    /// <summary>λ_max of the floored operator by Lanczos from <paramref name="start"/>; null when it did not produce one.</summary>
    private static (double? Value, long Spent) FlooredSharpness(ProbeFrame<TVec> frame, AdamSnapshot<TVec> adam, double floor, TVec start, long hvps, CancellationToken cancellationToken)
    {
        using var op = UpdateOperators.CreateFlooredPreconditionedHessian(adam, frame.Hessian, floor);
        int n = op.Dimension;
        var lanczos = new LanczosOptions
        {
            Count = 1,
            Which = EigenvalueSelection.LargestAlgebraic,
            KrylovDimension = Math.Min(n, Math.Max(frame.Options.KrylovDimension, 3)),
            Tolerance = frame.Options.Tolerance,
            StoppingRule = LanczosStoppingRule.EigenvalueError,
            MaxApplications = hvps,
            Seed = frame.ProbeIndex + 7919,
        };
        long before = frame.Hessian.TotalApplications;
        var eigen = Lanczos.Solve(op, lanczos, [start], null, cancellationToken);
        long spent = frame.Hessian.TotalApplications - before;
        if (eigen.Convergence.Status == ConvergenceStatus.Cancelled)
        {
            cancellationToken.ThrowIfCancellationRequested();
        }

        bool usable = eigen.Eigenvalues.Count > 0 && double.IsFinite(eigen.Eigenvalues[0])
            && eigen.Convergence.Status is not (ConvergenceStatus.NonFiniteOperatorOutput or ConvergenceStatus.Breakdown);
        return (usable ? eigen.Eigenvalues[0] : null, spent);
    }
}
