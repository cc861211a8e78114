using System.Numerics;
using SpectralMonitor.Estimators.Dense;

namespace SpectralMonitor.Estimators.NonNormality;

/// <summary>The Kreiss constant <c>K(A) = sup_{|z|>1} (|z| − 1)·‖(zI − A)⁻¹‖₂</c> of a dense matrix.</summary>
/// <param name="Value"><c>K(A) ≥ 1</c>; +∞ when <c>ρ(A) ≥ 1</c>.</param>
/// <param name="Maximizer">The point <c>z</c> where the supremum was found (NaN when <see cref="Value"/> is infinite or the supremum is the limit |z| → ∞).</param>
/// <param name="SpectralRadius"><c>ρ(A)</c>.</param>
/// <param name="ResolventEvaluations">How many <c>σ_min(zI − A)</c> evaluations the search used.</param>
/// <param name="Reason">Why <see cref="Value"/> is infinite; null otherwise.</param>
public sealed record KreissResult(double Value, Complex Maximizer, double SpectralRadius, long ResolventEvaluations, string? Reason);

/// <summary>Options of the global Kreiss search.</summary>
public sealed record KreissOptions
{
    /// <summary>Grid points in <c>|z| − 1</c>, log-spaced over [<see cref="MinDistance"/>, <see cref="MaxDistance"/>] (default 32).</summary>
    public int RadialPoints { get; init; } = 32;

    /// <summary>Grid points in the angle over [0, 2π) (default 72; real matrices use the half [0, π] by conjugate symmetry).</summary>
    public int AngularPoints { get; init; } = 72;

    /// <summary>Smallest <c>|z| − 1</c> of the grid (default 1e-6); the local refinement may go below it.</summary>
    public double MinDistance { get; init; } = 1e-6;

    /// <summary>Largest <c>|z| − 1</c> of the grid (default 1e2).</summary>
    public double MaxDistance { get; init; } = 1e2;

    /// <summary>How many of the best, mutually distinct grid points start a local refinement (default 6).</summary>
    public int RefinementStarts { get; init; } = 6;

    /// <summary>Relative tolerance of the local refinement (default 1e-10).</summary>
    public double Tolerance { get; init; } = 1e-10;
}

/// <summary>Kreiss constant of a dense matrix (a dense input, or the projected Hessenberg matrix of an Arnoldi run).</summary>
/// <remarks>
/// Global search: a polar grid in <c>(log(|z| − 1), θ)</c> finds every basin, then Nelder–Mead refinements from the
/// several best distinct grid points climb to the local maxima; the largest is returned. The search never stops at
/// the first local optimum. Every evaluation of <c>σ_min(zI − A)</c> costs <c>O(n²)</c> through
/// <see cref="HessenbergResolvent"/> on the Hessenberg form computed once. Because <c>(|z| − 1)‖(zI − A)⁻¹‖ → 1</c>
/// as <c>|z| → ∞</c>, the result is at least 1 (the value of a normal matrix with <c>ρ &lt; 1</c>).
/// Kreiss matrix theorem: <c>K ≤ sup_k ‖Aᵏ‖ ≤ e·n·K</c>.
/// </remarks>
public static class KreissConstant
{
    /// <summary>Computes the Kreiss constant of <paramref name="matrix"/>.</summary>
    /// <param name="matrix">A square, finite matrix.</param>
    /// <param name="options">Grid and refinement options; null for defaults.</param>
    /// <returns>The constant, where it is attained, and the work done.</returns>
    /// <exception cref="ArgumentException">The matrix is invalid or an option is out of range.</exception>
    public static KreissResult Dense(double[,] matrix, KreissOptions? options = null)
    {
        DenseLinearAlgebra.CheckSquare(matrix, nameof(matrix));
        options ??= new KreissOptions();
        if (options.RadialPoints < 2 || options.AngularPoints < 4 || options.RefinementStarts < 1
            || !(options.MinDistance > 0) || !(options.MaxDistance > options.MinDistance) || !(options.Tolerance > 0))
        {
            throw new ArgumentException($"Invalid Kreiss options: RadialPoints = {options.RadialPoints} (≥ 2), AngularPoints = {options.AngularPoints} (≥ 4), RefinementStarts = {options.RefinementStarts} (≥ 1), 0 < MinDistance = {options.MinDistance} < MaxDistance = {options.MaxDistance}, Tolerance = {options.Tolerance} (> 0).", nameof(options));
        }

        double rho = SpectralRadius.Dense(matrix).Value;
        if (rho >= 1)
        {
            return new KreissResult(double.PositiveInfinity, new Complex(double.NaN, double.NaN), rho, 0, $"ρ(A) = {rho:G6} ≥ 1: the resolvent is unbounded on |z| > 1.");
        }

        var resolvent = HessenbergResolvent.FromMatrix(matrix);
        double Objective(double logDistance, double angle)
        {
            // Beyond these bounds the objective is flat (|z| = 1 to rounding, or ≈ 1 far away): keep z finite.
            double distance = Math.Exp(Math.Clamp(logDistance, -40, 25));
            var z = Complex.FromPolarCoordinates(1 + distance, angle);
            double s = resolvent.SmallestSingularValue(z);
            return s == 0 ? double.PositiveInfinity : distance / s;
        }

        // Real matrices: σ_min(z̄I − A) = σ_min(zI − A), so the upper half-plane suffices.
        int angles = options.AngularPoints;
        double angleStep = Math.PI / (angles / 2);
        int angleCount = (angles / 2) + 1;
        double logMin = Math.Log(options.MinDistance);
        double logMax = Math.Log(options.MaxDistance);
        double logStep = (logMax - logMin) / (options.RadialPoints - 1);
        var grid = new double[options.RadialPoints, angleCount];
        for (int i = 0; i < options.RadialPoints; i++)
        {
            for (int j = 0; j < angleCount; j++)
            {
                grid[i, j] = Objective(logMin + (i * logStep), j * angleStep);
            }
        }

        // Local maxima of the grid (8-neighbourhood, angle periodic), best first.
        var candidates = new List<(double Value, int I, int J)>();
        for (int i = 0; i < options.RadialPoints; i++)
        {
            for (int j = 0; j < angleCount; j++)
            {
                if (IsLocalMax(grid, i, j))
                {
                    candidates.Add((grid[i, j], i, j));
                }
            }
        }

        candidates.Sort((p, q) => q.Value.CompareTo(p.Value));
        double best = 1;
        var bestPoint = new Complex(double.NaN, double.NaN);
        foreach (var (value, i, j) in candidates.Take(options.RefinementStarts))
        {
            if (value > best)
            {
                best = value;
                bestPoint = Complex.FromPolarCoordinates(1 + Math.Exp(logMin + (i * logStep)), j * angleStep);
            }

            if (double.IsPositiveInfinity(value))
            {
                break;
            }

            var (refined, logD, theta) = NelderMead.Maximize(Objective, logMin + (i * logStep), j * angleStep, logStep, angleStep, options.Tolerance);
            if (refined > best)
            {
                best = refined;
                bestPoint = Complex.FromPolarCoordinates(1 + Math.Exp(logD), theta);
            }
        }

        if (bestPoint.Imaginary < 0)
        {
            bestPoint = Complex.Conjugate(bestPoint);
        }

        return new KreissResult(best, bestPoint, rho, resolvent.Evaluations, null);
    }

    private static bool IsLocalMax(double[,] grid, int i, int j)
    {
        int rows = grid.GetLength(0);
        int columns = grid.GetLength(1);
        double v = grid[i, j];
        for (int di = -1; di <= 1; di++)
        {
            for (int dj = -1; dj <= 1; dj++)
            {
                if (di == 0 && dj == 0)
                {
                    continue;
                }

                int ii = i + di;
                int jj = j + dj;
                if (ii < 0 || ii >= rows)
                {
                    continue;
                }

                // The half-grid covers θ ∈ [0, π]; its ends reflect (conjugate symmetry).
                if (jj < 0)
                {
                    jj = 1;
                }
                else if (jj >= columns)
                {
                    jj = columns - 2;
                }

                if (jj < 0 || jj >= columns)
                {
                    continue;
                }

                if (grid[ii, jj] > v)
                {
                    return false;
                }
            }
        }

        return true;
    }
}
