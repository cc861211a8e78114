using System.Numerics;
using SpectralMonitor.Estimators.Dense;

namespace SpectralMonitor.Estimators.NonNormality;

/// <summary>The Kreiss constant <c>K(A) = sup_{|z|>1} (|z| − 1)·‖(zI − A)⁻¹‖₂</c> of a dense matrix.</summary>
/// <param name="Value"><c>K(A) ≥ 1</c>; +∞ when <c>ρ(A) ≥ 1</c>.</param>
/// <param name="Maximizer">The point <c>z</c> where the supremum was found (NaN when <see cref="Value"/> is infinite or the supremum is the limit |z| → ∞).</param>
/// <param name="SpectralRadius"><c>ρ(A)</c>.</param>
/// <param name="Convergence">
/// Converged when every local refinement met <see cref="KreissOptions.Tolerance"/> (or <c>ρ(A) ≥ 1</c> makes the
/// value exactly +∞); <see cref="ConvergenceStatus.MaxIterationsReached"/> when a refinement hit its evaluation cap.
/// Iterations: refinements; operator applications: <c>σ_min(zI − A)</c> evaluations; no residual norms.
/// </param>
public sealed record KreissResult(double Value, Complex Maximizer, double SpectralRadius, ConvergenceInfo Convergence)
{
    /// <summary>How many <c>σ_min(zI − A)</c> evaluations the search used.</summary>
    public long ResolventEvaluations => Convergence.OperatorApplications;

    /// <summary>Why <see cref="Value"/> is infinite; null otherwise.</summary>
    public string? Reason => double.IsPositiveInfinity(Value) ? Convergence.Reason : null;
}

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
        Validate(options);
        double rho = SpectralRadius.Dense(matrix).Value;
        if (rho >= 1)
        {
            var unbounded = new ConvergenceInfo(ConvergenceStatus.Converged, $"ρ(A) = {rho:G6} ≥ 1: the resolvent is unbounded on |z| > 1.", 1, [], 0, 0);
            return new KreissResult(double.PositiveInfinity, new Complex(double.NaN, double.NaN), rho, unbounded);
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

        var grid = new PolarGrid(options);
        var values = grid.Evaluate(Objective);
        var (best, bestPoint, refinements, unconverged) = Refine(Objective, grid, values, options);
        if (bestPoint.Imaginary < 0)
        {
            bestPoint = Complex.Conjugate(bestPoint);
        }

        var info = unconverged == 0
            ? new ConvergenceInfo(ConvergenceStatus.Converged, $"{refinements} local refinements met the relative tolerance {options.Tolerance:G3}.", 1, [], refinements, resolvent.Evaluations)
            : new ConvergenceInfo(ConvergenceStatus.MaxIterationsReached, $"{unconverged} of {refinements} local refinements stopped at their evaluation cap before the tolerance {options.Tolerance:G3}.", 0, [], refinements, resolvent.Evaluations);
        return new KreissResult(best, bestPoint, rho, info);
    }

    private static void Validate(KreissOptions options)
    {
        if (options.RadialPoints < 2 || options.AngularPoints < 4 || options.RefinementStarts < 1
            || !(options.MinDistance > 0) || !(options.MaxDistance > options.MinDistance) || !(options.Tolerance > 0))
        {
            throw new ArgumentException($"Invalid Kreiss options: RadialPoints = {options.RadialPoints} (≥ 2), AngularPoints = {options.AngularPoints} (≥ 4), RefinementStarts = {options.RefinementStarts} (≥ 1), 0 < MinDistance = {options.MinDistance} < MaxDistance = {options.MaxDistance}, Tolerance = {options.Tolerance} (> 0).", nameof(options));
        }
    }

    /// <summary>Nelder–Mead refinements from the best distinct local maxima of the grid; the largest value wins.</summary>
    private static (double Best, Complex Point, int Refinements, int Unconverged) Refine(
        Func<double, double, double> objective, PolarGrid grid, double[,] values, KreissOptions options)
    {
        // Local maxima of the grid (8-neighbourhood, angle periodic), best first.
        var candidates = new List<(double Value, int I, int J)>();
        for (int i = 0; i < grid.RadialCount; i++)
        {
            for (int j = 0; j < grid.AngleCount; j++)
            {
                if (IsLocalMax(values, i, j))
                {
                    candidates.Add((values[i, j], i, j));
                }
            }
        }

        candidates.Sort((p, q) => q.Value.CompareTo(p.Value));
        double best = 1;
        var bestPoint = new Complex(double.NaN, double.NaN);
        int refinements = 0;
        int unconverged = 0;
        foreach (var (value, i, j) in candidates.Take(options.RefinementStarts))
        {
            if (value > best)
            {
                best = value;
                bestPoint = Complex.FromPolarCoordinates(1 + Math.Exp(grid.LogDistance(i)), grid.Angle(j));
            }

            if (double.IsPositiveInfinity(value))
            {
                break;
            }

            var (refined, logD, theta, converged) = NelderMead.Maximize(objective, grid.LogDistance(i), grid.Angle(j), grid.LogStep, grid.AngleStep, options.Tolerance);
            refinements++;
            unconverged += converged ? 0 : 1;
            if (refined > best)
            {
                best = refined;
                bestPoint = Complex.FromPolarCoordinates(1 + Math.Exp(logD), theta);
            }
        }

        return (best, bestPoint, refinements, unconverged);
    }

    /// <summary>The polar grid in <c>(log(|z| − 1), θ)</c>; real matrices need only the upper half θ ∈ [0, π].</summary>
    private sealed class PolarGrid(KreissOptions options)
    {
        private readonly double _logMin = Math.Log(options.MinDistance);

        public int RadialCount { get; } = options.RadialPoints;

        // Real matrices: σ_min(z̄I − A) = σ_min(zI − A), so the upper half-plane suffices.
        public int AngleCount { get; } = (options.AngularPoints / 2) + 1;

        public double AngleStep { get; } = Math.PI / (options.AngularPoints / 2);

        public double LogStep { get; } = (Math.Log(options.MaxDistance) - Math.Log(options.MinDistance)) / (options.RadialPoints - 1);

        public double LogDistance(int i) => _logMin + (i * LogStep);

        public double Angle(int j) => j * AngleStep;

        public double[,] Evaluate(Func<double, double, double> objective)
        {
            var values = new double[RadialCount, AngleCount];
            for (int i = 0; i < RadialCount; i++)
            {
                for (int j = 0; j < AngleCount; j++)
                {
                    values[i, j] = objective(LogDistance(i), Angle(j));
                }
            }

            return values;
        }
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
