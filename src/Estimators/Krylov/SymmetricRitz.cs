using MathNet.Numerics.LinearAlgebra;

namespace SpectralMonitor.Estimators.Krylov;

/// <summary>
/// The Ritz pairs of a symmetric Krylov–Schur factorization: the symmetric eigendecomposition of the projected matrix
/// <c>S</c>, residual norms <c>|bᵀy|</c>, and which pairs meet the stopping rule (<see cref="LanczosStoppingRule"/>):
/// <c>‖A·x − θ·x‖ ≤ tol·max(|θ|, floor)</c>, or the same bound on the eigenvalue error estimate <c>min(r, r²/δ)</c>.
/// </summary>
/// <param name="Values">Ritz values (unordered).</param>
/// <param name="Vectors">Eigenvectors of <c>S</c>, one per column.</param>
/// <param name="Residuals">Residual norm of each pair.</param>
/// <param name="Converged">Whether each pair met the tolerance.</param>
/// <param name="Order">Indices of the values, most wanted first.</param>
/// <param name="Wanted">The wanted count <c>k</c>.</param>
internal sealed record SymmetricRitz(double[] Values, double[,] Vectors, double[] Residuals, bool[] Converged, int[] Order, int Wanted)
    : IRitzAnalysis
{
    /// <inheritdoc/>
    public int ConvergedCount
    {
        get
        {
            int count = 0;
            for (int i = 0; i < Math.Min(Wanted, Order.Length); i++)
            {
                count += Converged[Order[i]] ? 1 : 0;
            }

            return count;
        }
    }

    /// <inheritdoc/>
    public string? Failure => null;

    /// <summary>
    /// Whether every Ritz pair's residual exceeds <c>√ε_single·max|θ|</c>: then no Ritz vector is close enough to
    /// convergence for local (three-term) Lanczos steps to lose semi-orthogonality towards it
    /// (<see cref="KrylovSchurFactorization{TVec}.AllowLocalOrthogonalization"/>). Single precision is assumed, the
    /// least precise vectors the backends use; for double-precision vectors the test is merely conservative.
    /// </summary>
    public bool AllowsLocalOrthogonalization
    {
        get
        {
            double scale = 0;
            foreach (double value in Values)
            {
                scale = Math.Max(scale, Math.Abs(value));
            }

            double threshold = Math.Sqrt(Precision.SingleEpsilon) * scale;
            foreach (double residual in Residuals)
            {
                if (!(residual > threshold))
                {
                    return false;
                }
            }

            return Values.Length > 0;
        }
    }

    /// <summary>Analyses the current projected problem of <paramref name="factorization"/>.</summary>
    /// <param name="factorization">A symmetric factorization.</param>
    /// <param name="which">Which eigenvalues are wanted.</param>
    /// <param name="wanted">How many.</param>
    /// <param name="tolerance">Relative residual tolerance.</param>
    /// <param name="floor">
    /// The smallest denominator of the relative test: <c>max(floor, ‖S‖·ε)</c>. Zero for a purely relative test; a
    /// bound on ‖A‖ for an absolute one.
    /// </param>
    /// <param name="stoppingRule">What the tolerance bounds: the residual, or the eigenvalue error estimate.</param>
    internal static SymmetricRitz Analyze<TVec>(KrylovSchurFactorization<TVec> factorization, EigenvalueSelection which, int wanted, double tolerance, double floor = 0, LanczosStoppingRule stoppingRule = LanczosStoppingRule.Residual)
        where TVec : class
    {
        int j = factorization.Size;
        if (j == 0)
        {
            return new SymmetricRitz([], new double[0, 0], [], [], [], wanted);
        }

        var evd = Matrix<double>.Build.DenseOfArray(factorization.ProjectedMatrix()).Evd(Symmetricity.Symmetric);
        var values = new double[j];
        var vectors = evd.EigenVectors.ToArray();
        double normT = 0;
        for (int i = 0; i < j; i++)
        {
            values[i] = evd.EigenValues[i].Real;
            normT = Math.Max(normT, Math.Abs(values[i]));
        }

        var b = factorization.ResidualCoupling();
        var residuals = new double[j];
        var converged = new bool[j];
        double smallest = Math.Max(floor, normT * Precision.MachineEpsilon);
        for (int i = 0; i < j; i++)
        {
            double sum = 0;
            for (int t = 0; t < j; t++)
            {
                sum += b[t] * vectors[t, i];
            }

            residuals[i] = Math.Abs(sum);
        }

        for (int i = 0; i < j; i++)
        {
            double error = stoppingRule == LanczosStoppingRule.EigenvalueError ? EigenvalueError(values, residuals, i) : residuals[i];
            converged[i] = error <= tolerance * Math.Max(Math.Abs(values[i]), smallest);
        }

        return new SymmetricRitz(values, vectors, residuals, converged, RitzSelection.RankReal(values, which), wanted);
    }

    /// <summary>
    /// The eigenvalue error estimate of Ritz value <paramref name="index"/>: <c>min(r, r²/δ)</c> with
    /// <c>δ = minⱼ≠ᵢ |θᵢ − θⱼ| − rⱼ</c>, or <c>r</c> when <c>δ</c> is not positive or there is no other Ritz value.
    /// </summary>
    internal static double EigenvalueError(IReadOnlyList<double> values, IReadOnlyList<double> residuals, int index)
    {
        double r = residuals[index];
        double gap = double.PositiveInfinity;
        for (int other = 0; other < values.Count; other++)
        {
            if (other != index)
            {
                gap = Math.Min(gap, Math.Abs(values[index] - values[other]) - residuals[other]);
            }
        }

        return gap > 0 && double.IsFinite(gap) ? Math.Min(r, r * r / gap) : r;
    }

    /// <summary>The thick-restart basis: the eigenvectors of the <paramref name="keep"/> most wanted Ritz values.</summary>
    internal double[,] KeptVectors(int keep)
    {
        int m = Values.Length;
        var u = new double[m, keep];
        for (int c = 0; c < keep; c++)
        {
            int index = Order[c];
            for (int r = 0; r < m; r++)
            {
                u[r, c] = Vectors[r, index];
            }
        }

        return u;
    }

    /// <summary>Coordinates <c>y</c> (a column of <see cref="Vectors"/>) of the Ritz vector <c>Q·y</c> of pair <paramref name="index"/>.</summary>
    internal double[] Coordinates(int index)
    {
        var y = new double[Values.Length];
        for (int t = 0; t < y.Length; t++)
        {
            y[t] = Vectors[t, index];
        }

        return y;
    }
}
