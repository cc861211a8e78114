using System.Numerics;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.NonNormality;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Cli;

/// <summary>What <c>analyze</c> reports; the JSON output has exactly these fields, in camelCase.</summary>
/// <param name="N">Matrix size.</param>
/// <param name="SpectralRadius">Dense: ρ(A). Krylov: the largest Ritz value modulus.</param>
/// <param name="EigenvectorCondition">Dense: κ(V) over all n unit eigenvectors. Krylov: κ over the converged Ritz vectors. +∞ when (numerically) defective; NaN when no Ritz vector converged.</param>
/// <param name="RitzCount">Dense: n (all eigenvectors). Krylov: the number of converged Ritz vectors used for κ.</param>
/// <param name="TransientGrowth">max_{1≤k≤horizon} ‖Aᵏ‖₂. Dense: exact. Krylov: of the projected matrix (a lower-bound-style estimate).</param>
/// <param name="TransientArgmax">The k of <paramref name="TransientGrowth"/>.</param>
/// <param name="KreissConstant">Kreiss constant (+∞ when ρ ≥ 1). Dense: of A. Krylov: of the projected matrix.</param>
/// <param name="NumericalAbscissa">λ_max((A + Aᵀ)/2). Krylov: of the projected matrix, a lower bound on A's (W(QᵀAQ) ⊆ W(A)).</param>
/// <param name="NumericalRadius">max |xᴴAx|. Krylov: of the projected matrix, a lower bound on A's.</param>
/// <param name="Matvecs">Operator applications (0 for the dense method).</param>
/// <param name="Converged">Dense: true. Krylov: whether Arnoldi converged all k Ritz values.</param>
/// <param name="Method">"dense" or "krylov".</param>
internal sealed record AnalysisReport(
    int N,
    double SpectralRadius,
    double EigenvectorCondition,
    int RitzCount,
    double TransientGrowth,
    int TransientArgmax,
    double KreissConstant,
    double NumericalAbscissa,
    double NumericalRadius,
    long Matvecs,
    bool Converged,
    string Method);

/// <summary>Runs the non-normality measures on a matrix read from a file.</summary>
internal static class MatrixAnalysis
{
    /// <summary>Largest n analysed densely by default.</summary>
    public const int DenseLimit = 500;

    /// <summary>The Kreiss search grid: the library default up to n = 100, a coarser one above (each point costs O(n²)).</summary>
    public static KreissOptions KreissOptionsFor(int n) =>
        n <= 100 ? new KreissOptions() : new KreissOptions { RadialPoints = 20, AngularPoints = 40, RefinementStarts = 4 };

    /// <summary>Angles of the numerical-radius grid: 64 up to n = 100, 24 above.</summary>
    public static int NumericalRadiusGridFor(int n) => n <= 100 ? 64 : 24;

    /// <summary>Dense analysis of every measure.</summary>
    public static AnalysisReport Dense(double[,] a, int horizon)
    {
        int n = a.GetLength(0);
        var rho = Estimators.NonNormality.SpectralRadius.Dense(a);
        var kappa = Estimators.NonNormality.EigenvectorCondition.Dense(a);
        var growth = Estimators.NonNormality.TransientGrowth.Dense(a, horizon);
        var kreiss = Estimators.NonNormality.KreissConstant.Dense(a, KreissOptionsFor(n));
        double abscissa = NumericalRange.NumericalAbscissa(a);
        var radius = NumericalRange.NumericalRadius(a, NumericalRadiusGridFor(n));
        return new AnalysisReport(n, rho.Value, kappa.Value, kappa.VectorCount, growth.Max, growth.Argmax, kreiss.Value, abscissa, radius.Value, 0, true, "dense");
    }

    /// <summary>Arnoldi options used by the Krylov method.</summary>
    public static ArnoldiOptions ArnoldiOptionsFor(int k) => new()
    {
        Count = k,
        Which = EigenvalueSelection.LargestMagnitude,
        Tolerance = 1e-8,
        MaxRestarts = 300,
        Seed = 1,
    };

    /// <summary>Krylov analysis: Arnoldi for the leading k Ritz values, then the dense measures of the projected matrix.</summary>
    public static AnalysisReport Krylov(MatrixMarketMatrix matrix, int k, int horizon, CancellationToken cancellationToken)
    {
        var op = CsrMatrixOperator.FromCoordinates<double>(matrix.Dimension, matrix.Rows, matrix.Columns, matrix.Values, matrix.Symmetry == "symmetric");
        var options = ArnoldiOptionsFor(k);
        var result = Arnoldi.Solve(op, options, cancellationToken: cancellationToken);
        var s = result.ProjectedMatrix;
        var converged = ConvergedColumns(result, options.Tolerance);
        double kappa = converged.Count == 0
            ? double.NaN
            : Estimators.NonNormality.EigenvectorCondition.FromRitzCoordinates(result.RitzCoordinates, converged).Value;
        double rho = result.Eigenvalues.Count == 0 ? double.NaN : result.Eigenvalues.Max(Complex.Abs);
        int m = s.GetLength(0);
        var growth = Estimators.NonNormality.TransientGrowth.FromProjectedMatrix(s, horizon);
        var kreiss = Estimators.NonNormality.KreissConstant.Dense(s, KreissOptionsFor(m));
        double abscissa = NumericalRange.NumericalAbscissa(s);
        var radius = NumericalRange.NumericalRadius(s, NumericalRadiusGridFor(m));
        return new AnalysisReport(matrix.Dimension, rho, kappa, converged.Count, growth.Max, growth.Argmax, kreiss.Value, abscissa, radius.Value, result.Convergence.OperatorApplications, result.Convergence.IsConverged, "krylov");
    }

    /// <summary>
    /// The Ritz pairs whose residual meets Arnoldi's own criterion <c>‖Ax − λx‖ ≤ tol·max(|λ|, ‖S‖_F·ε)</c>.
    /// </summary>
    public static List<int> ConvergedColumns(ArnoldiResult result, double tolerance)
    {
        double frobenius = 0;
        foreach (double v in result.ProjectedMatrix)
        {
            frobenius += v * v;
        }

        frobenius = Math.Sqrt(frobenius);
        var columns = new List<int>();
        int count = Math.Min(result.Eigenvalues.Count, Math.Min(result.RitzCoordinates.GetLength(1), result.Convergence.ResidualNorms.Count));
        for (int i = 0; i < count; i++)
        {
            double scale = Math.Max(Complex.Abs(result.Eigenvalues[i]), frobenius * 2.220446049250313e-16);
            if (result.Convergence.ResidualNorms[i] <= tolerance * scale)
            {
                columns.Add(i);
            }
        }

        return columns;
    }
}
