using System.Globalization;
using System.Numerics;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.NonNormality;

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

/// <summary>A measure that cannot be computed in double precision for this matrix; the message is one line, for the user.</summary>
internal sealed class AnalysisException : Exception
{
    public AnalysisException(string message)
        : base(message)
    {
    }

    public AnalysisException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public AnalysisException()
    {
    }
}

/// <summary>
/// Runs the non-normality measures on an <see cref="AssembledMatrix"/> <c>A = 2^p·S</c>: every routine sees the
/// well-scaled <c>S</c>, and the results are scaled back exactly (see <see cref="AssembledMatrix"/>). Answers known in
/// closed form are given without calling a numerical routine: the zero matrix (ρ = 0, κ = 1, ‖Aᵏ‖ = 0, Kreiss 1,
/// W(A) = {0}), and the Kreiss constant when ρ ≥ 1 (+∞) or ‖A‖₂ ≤ 1 (exactly 1). A numerical routine that fails becomes
/// an <see cref="AnalysisException"/>.
/// </summary>
internal static class MatrixAnalysis
{
    /// <summary>Largest n analysed densely by default.</summary>
    public const int DenseLimit = 500;

    /// <summary>
    /// Largest Kreiss constant reported. The resolvent search evaluates (|z| − 1)/σ_min(zI − A) for |z| − 1 ≥ e⁻⁴⁰ ≈ 4e-18
    /// through 1/σ_min², which overflows once σ_min &lt; 1.3e-154; below K = 1e130 every evaluated σ_min is at least
    /// 4e-18/1e130 = 4e-148, safely inside the range. Above it the search may overflow, fail or stop short, so no value is given.
    /// </summary>
    public const double KreissComputableLimit = 1e130;

    /// <summary>The Kreiss search grid: the library default up to n = 100, a coarser one above (each point costs O(n²)).</summary>
    public static KreissOptions KreissOptionsFor(int n) =>
        n <= 100 ? new KreissOptions() : new KreissOptions { RadialPoints = 20, AngularPoints = 40, RefinementStarts = 4 };

    /// <summary>Angles of the numerical-radius grid: 64 up to n = 100, 24 above.</summary>
    public static int NumericalRadiusGridFor(int n) => n <= 100 ? 64 : 24;

    /// <summary>Arnoldi options used by the Krylov method.</summary>
    public static ArnoldiOptions ArnoldiOptionsFor(int k) => new()
    {
        Count = k,
        Which = EigenvalueSelection.LargestMagnitude,
        Tolerance = 1e-8,
        MaxRestarts = 300,
        Seed = 1,
    };

    /// <summary>Dense analysis of every measure.</summary>
    public static AnalysisReport Dense(AssembledMatrix matrix, int horizon, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        int n = matrix.Dimension;
        if (matrix.IsZero)
        {
            return Zero(n, n, "dense");
        }

        var s = matrix.ScaledDense();
        int p = matrix.Exponent;
        var spectrum = Numerically("the eigenvalues", () => Estimators.NonNormality.SpectralRadius.Dense(s));
        var kappa = Numerically("the eigenvector condition number", () => Estimators.NonNormality.EigenvectorCondition.Dense(s));
        var measures = Measures(s, p, spectrum.Value, horizon, cancellationToken);
        return Checked(new AnalysisReport(n, Math.ScaleB(spectrum.Value, p), kappa.Value, kappa.VectorCount, measures.Growth.Max, measures.Growth.Argmax, measures.Kreiss, measures.Abscissa, measures.Radius, 0, true, "dense"));
    }

    /// <summary>Krylov analysis: Arnoldi for the leading k Ritz values, then the dense measures of the projected matrix.</summary>
    public static AnalysisReport Krylov(AssembledMatrix matrix, int k, int horizon, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        int n = matrix.Dimension;
        if (matrix.IsZero)
        {
            // Every vector is an eigenvector of 0: the k leading Ritz pairs are exact (residual 0) and orthonormal.
            return Zero(n, k, "krylov");
        }

        var op = matrix.ScaledOperator();
        int p = matrix.Exponent;
        var options = ArnoldiOptionsFor(k);
        var result = Numerically("the Arnoldi iteration", () => Arnoldi.Solve(op, options, cancellationToken: cancellationToken));
        if (result.Eigenvalues.Count == 0)
        {
            throw new AnalysisException($"the Arnoldi iteration found no Ritz value ({result.Convergence.Status}: {result.Convergence.Reason})");
        }

        var converged = ConvergedColumns(result, options.Tolerance);
        double kappa = converged.Count == 0
            ? double.NaN
            : Numerically("the eigenvector condition number", () => Estimators.NonNormality.EigenvectorCondition.FromRitzCoordinates(result.RitzCoordinates, converged)).Value;
        double rho = Math.ScaleB(result.Eigenvalues.Max(Complex.Abs), p);

        // The projected matrix of S, rescaled once more (its entries can be much smaller than S's).
        var projected = result.ProjectedMatrix;
        int q = AssembledMatrix.LargestExponent(projected.Cast<double>().ToArray());
        Measured measures;
        if (q == int.MinValue)
        {
            measures = new Measured(new PowerGrowthResult(0, 1, 0), 1, 0, 0);
        }
        else
        {
            q -= q & 1;
            var t = new double[projected.GetLength(0), projected.GetLength(1)];
            for (int i = 0; i < t.GetLength(0); i++)
            {
                for (int j = 0; j < t.GetLength(1); j++)
                {
                    t[i, j] = Math.ScaleB(projected[i, j], -q);
                }
            }

            var spectrum = Numerically("the eigenvalues of the projected matrix", () => Estimators.NonNormality.SpectralRadius.Dense(t));
            measures = Measures(t, p + q, spectrum.Value, horizon, cancellationToken);
        }

        return Checked(new AnalysisReport(n, rho, kappa, converged.Count, measures.Growth.Max, measures.Growth.Argmax, measures.Kreiss, measures.Abscissa, measures.Radius, result.Convergence.OperatorApplications, result.Convergence.IsConverged, "krylov"));
    }

    /// <summary>
    /// The Ritz pairs whose residual meets Arnoldi's own criterion <c>‖Ax − λx‖ ≤ tol·max(|λ|, ‖S‖_F·ε)</c>.
    /// </summary>
    public static List<int> ConvergedColumns(ArnoldiResult result, double tolerance)
    {
        ArgumentNullException.ThrowIfNull(result);
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

    private sealed record Measured(PowerGrowthResult Growth, double Kreiss, double Abscissa, double Radius);

    /// <summary>
    /// A NaN is never an answer (κ excepted: NaN is its documented value when no Ritz vector converged); a routine that
    /// returned one failed silently, so the measure is reported as not computable.
    /// </summary>
    private static AnalysisReport Checked(AnalysisReport report)
    {
        (string Name, double Value)[] values =
        [
            ("the spectral radius", report.SpectralRadius),
            ("the transient growth", report.TransientGrowth),
            ("the Kreiss constant", report.KreissConstant),
            ("the numerical abscissa", report.NumericalAbscissa),
            ("the numerical radius", report.NumericalRadius),
        ];
        foreach (var (name, value) in values)
        {
            if (double.IsNaN(value))
            {
                throw new AnalysisException($"{name} could not be computed (the numerical routine returned NaN)");
            }
        }

        if (double.IsNaN(report.EigenvectorCondition) && (report.Method == "dense" || report.RitzCount > 0))
        {
            throw new AnalysisException("the eigenvector condition number could not be computed (the numerical routine returned NaN)");
        }

        return report;
    }

    private static AnalysisReport Zero(int n, int ritzCount, string method) =>
        new(n, 0, 1, ritzCount, 0, 1, 1, 0, 0, 0, true, method);

    /// <summary>Transient growth, Kreiss constant, numerical abscissa and radius of <c>A = 2^p·S</c>.</summary>
    private static Measured Measures(double[,] s, int p, double spectralRadiusOfS, int horizon, CancellationToken cancellationToken)
    {
        int n = s.GetLength(0);
        var growth = Numerically("the transient growth", () => PowerGrowth.Compute(s, p, horizon, cancellationToken));
        double kreiss = Kreiss(s, p, Math.ScaleB(spectralRadiusOfS, p), growth.Norm);
        double abscissa = Numerically("the numerical abscissa", () => NumericalRange.NumericalAbscissa(s));
        double radius = Numerically("the numerical radius", () => NumericalRange.NumericalRadius(s, NumericalRadiusGridFor(n))).Value;
        return new Measured(growth, kreiss, Math.ScaleB(abscissa, p), Math.ScaleB(radius, p));
    }

    /// <summary>
    /// K(A) = sup_{|z|&gt;1} (|z| − 1)‖(zI − A)⁻¹‖₂. Not homogeneous in A, so it is computed on A itself, and only where
    /// no closed form applies: ρ(A) ≥ 1 gives +∞; ‖A‖₂ ≤ 1 gives exactly 1, because then
    /// (|z| − 1)‖(zI − A)⁻¹‖ ≤ (|z| − 1)/(|z| − ‖A‖) ≤ 1 while the limit |z| → ∞ is 1.
    /// </summary>
    private static double Kreiss(double[,] s, int p, double rho, double norm)
    {
        if (rho >= 1)
        {
            return double.PositiveInfinity;
        }

        if (norm <= 1)
        {
            return 1;
        }

        string tooLarge = $"the Kreiss constant cannot be computed in double precision: ρ(A) = {rho.ToString("G6", CultureInfo.InvariantCulture)} < 1, so it is finite, but it exceeds about {KreissComputableLimit:G0} (the resolvent ‖(zI − A)⁻¹‖ near |z| = 1 is beyond the double range; ‖A‖₂ = {norm.ToString("G6", CultureInfo.InvariantCulture)})";
        int n = s.GetLength(0);
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                a[i, j] = Math.ScaleB(s[i, j], p);
                if (!double.IsFinite(a[i, j]))
                {
                    throw new AnalysisException(tooLarge);
                }
            }
        }

        KreissResult result;
        try
        {
            result = KreissConstant.Dense(a, KreissOptionsFor(n));
        }
        catch (Exception e) when (IsNumericalFailure(e))
        {
            throw new AnalysisException(tooLarge, e);
        }

        if (!(result.Value <= KreissComputableLimit))
        {
            throw new AnalysisException(tooLarge);
        }

        return result.Value;
    }

    /// <summary>Runs a numerical routine; its failure (non-convergence, a non-finite intermediate) becomes an <see cref="AnalysisException"/>.</summary>
    private static T Numerically<T>(string what, Func<T> compute)
    {
        try
        {
            return compute();
        }
        catch (Exception e) when (IsNumericalFailure(e))
        {
            throw new AnalysisException($"{what} could not be computed ({ConsoleText.Printable(Innermost(e).Message.ReplaceLineEndings(" "), 200)})", e);
        }
    }

    /// <summary>
    /// The failures a numerical routine can meet on a valid but hostile matrix: MathNet's non-convergence, arithmetic
    /// exceptions, and argument or index errors raised inside MathNet or the estimators when an intermediate became
    /// non-finite (e.g. "Eigenvector entry NaN is not finite"). Anything else is a bug and is not caught here.
    /// </summary>
    private static bool IsNumericalFailure(Exception e)
    {
        e = Innermost(e);
        if (e is MathNet.Numerics.NonConvergenceException or ArithmeticException)
        {
            return true;
        }

        string? origin = e.TargetSite?.DeclaringType?.Namespace;
        return e is ArgumentException or IndexOutOfRangeException
            && origin is not null
            && (origin.StartsWith("MathNet.Numerics", StringComparison.Ordinal) || origin.StartsWith("SpectralMonitor.Estimators", StringComparison.Ordinal));
    }

    private static Exception Innermost(Exception e)
    {
        while (e is AggregateException { InnerExceptions.Count: 1 } aggregate)
        {
            e = aggregate.InnerExceptions[0];
        }

        return e;
    }
}
