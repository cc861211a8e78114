namespace SpectralMonitor.Estimators.Optimizers;

/// <summary>The normalized commutator of the curvature and the diagonal preconditioner, estimated by Hutchinson probes.</summary>
/// <param name="Value">‖[K, P]‖_F / (‖K‖_F·‖P‖₂); 0 when P commutes with K (for example P = c·I).</param>
/// <param name="StandardError">Delta-method standard error of <paramref name="Value"/> from the spread of the probes.</param>
/// <param name="CommutatorFrobeniusSquared">Estimate of ‖[K, P]‖²_F.</param>
/// <param name="CurvatureFrobeniusSquared">Estimate of ‖K‖²_F.</param>
/// <param name="PreconditionerNorm">‖P‖₂ = max Pᵢ (exact).</param>
/// <param name="Probes">Rademacher probes used.</param>
/// <param name="HessianVectorProducts">Hessian-vector products spent (two per probe).</param>
public sealed record PreconditionerCommutatorEstimate(
    double Value,
    double StandardError,
    double CommutatorFrobeniusSquared,
    double CurvatureFrobeniusSquared,
    double PreconditionerNorm,
    int Probes,
    long HessianVectorProducts)
{
    /// <summary>The estimate's quality: finite or not, its standard error as the residual, probes as iterations.</summary>
    public ConvergenceInfo Convergence => ConvergenceInfo.ForSampleMean(Value, StandardError, Probes, HessianVectorProducts);
}

/// <summary>
/// ‖[K, P]‖_F / (‖K‖_F‖P‖₂) for the curvature K = ±H + λI and preconditioner P of an adaptive optimizer
/// (DESIGN.md §1: for Adam the non-normality of J is governed by this commutator). With a Rademacher z,
/// E‖[K, P]z‖² = ‖[K, P]‖²_F and E‖Kz‖² = ‖K‖²_F; each probe costs two HVPs: K(Pz) and Kz.
/// </summary>
public static class PreconditionerCommutator
{
    /// <summary>Estimates the normalized commutator of <paramref name="operator"/>'s curvature and preconditioner.</summary>
    /// <typeparam name="TVec">The backend's vector type.</typeparam>
    /// <param name="operator">The preconditioned curvature S·K·S (S = P^½) of the optimizer.</param>
    /// <param name="probes">Rademacher probes (≥ 1).</param>
    /// <param name="seed">Seed of the first probe.</param>
    /// <param name="cancellationToken">Checked before every probe.</param>
    /// <returns>The estimate; NaN values if an HVP was not finite.</returns>
    public static PreconditionerCommutatorEstimate Estimate<TVec>(PreconditionedHessianOperator<TVec> @operator, int probes, int seed = 1, CancellationToken cancellationToken = default)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(@operator);
        ArgumentOutOfRangeException.ThrowIfLessThan(probes, 1);
        var space = @operator.ElementwiseSpace;
        var k = @operator.Curvature;
        long before = @operator.Hessian.TotalApplications;
        var p = space.CreateVector();
        var z = space.CreateVector();
        var pz = space.CreateVector();
        var kz = space.CreateVector();
        var kpz = space.CreateVector();
        var commutator = new double[probes];
        var curvature = new double[probes];
        try
        {
            space.Multiply(@operator.SquareRoot, @operator.SquareRoot, p);
            double pNorm = space.MaxAbs(p);
            for (int i = 0; i < probes; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                space.FillRandom(z, RandomKind.Rademacher, seed + i);
                space.Multiply(p, z, pz);
                k.Apply(pz, kpz);
                k.Apply(z, kz);

                // [K, P]z = K(Pz) − P(Kz); reuse pz for P(Kz).
                space.Multiply(p, kz, pz);
                space.Axpy(-1, pz, kpz);
                double c = space.Dot(kpz, kpz);
                double f = space.Dot(kz, kz);
                commutator[i] = c;
                curvature[i] = f;
            }

            double meanC = commutator.Average();
            double meanF = curvature.Average();
            double value = meanF > 0 && pNorm > 0 ? Math.Sqrt(meanC / meanF) / pNorm : (meanC == 0 ? 0 : double.NaN);
            double error = DeltaMethodError(commutator, curvature, value);
            return new PreconditionerCommutatorEstimate(value, error, meanC, meanF, pNorm, probes, @operator.Hessian.TotalApplications - before);
        }
        finally
        {
            space.Release(p);
            space.Release(z);
            space.Release(pz);
            space.Release(kz);
            space.Release(kpz);
        }
    }

    /// <summary>Standard error of √(mean c / mean f) by the delta method (NaN with a single probe).</summary>
    private static double DeltaMethodError(double[] c, double[] f, double value)
    {
        int n = c.Length;
        if (n < 2 || !double.IsFinite(value) || value == 0)
        {
            return n < 2 ? double.NaN : 0;
        }

        double mc = c.Average(), mf = f.Average();
        double vc = c.Sum(x => (x - mc) * (x - mc)) / (n - 1);
        double vf = f.Sum(x => (x - mf) * (x - mf)) / (n - 1);
        double cov = c.Zip(f, (x, y) => (x - mc) * (y - mf)).Sum() / (n - 1);

        // Var(log(mc/mf)) ≈ (vc/mc² + vf/mf² − 2cov/(mc·mf)) / n, and value ∝ √(mc/mf).
        double logVariance = Math.Max(0, ((vc / (mc * mc)) + (vf / (mf * mf)) - (2 * cov / (mc * mf))) / n);
        return value * 0.5 * Math.Sqrt(logVariance);
    }
}
