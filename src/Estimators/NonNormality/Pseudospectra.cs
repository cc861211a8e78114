using System.Numerics;
using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.Dense;

namespace SpectralMonitor.Estimators.NonNormality;

/// <summary>An extremal point of the ε-pseudospectrum <c>Λ_ε(A) = {z : σ_min(zI − A) ≤ ε}</c>.</summary>
/// <param name="Value">The pseudospectral radius <c>max |z|</c> or abscissa <c>max Re z</c> over <c>Λ_ε(A)</c>.</param>
/// <param name="Point">A point of the boundary of <c>Λ_ε(A)</c> where <see cref="Value"/> is attained.</param>
/// <param name="Epsilon">The ε used.</param>
/// <param name="Method">"criss-cross (Burke–Lewis–Overton)" or "criss-cross (Mengi–Overton)".</param>
/// <param name="Convergence">
/// Converged when the last global search certified that no further improvement exists; otherwise the iteration cap
/// ended it. Iterations: criss-cross iterations (one global search plus local searches each); operator applications:
/// <c>σ_min(zI − A)</c> evaluations of the local searches; no residual norms.
/// </param>
public sealed record PseudospectralResult(double Value, Complex Point, double Epsilon, string Method, ConvergenceInfo Convergence)
{
    /// <summary>Criss-cross iterations.</summary>
    public int Iterations => Convergence.Iterations;

    /// <summary>Whether the iteration stopped because no further improvement exists (rather than by the iteration cap).</summary>
    public bool Converged => Convergence.IsConverged;
}

/// <summary>
/// ε-pseudospectral abscissa <c>α_ε(A)</c> and radius <c>ρ_ε(A)</c> of a real dense matrix by criss-cross algorithms.
/// </summary>
/// <remarks>
/// <para>Abscissa: the criss-cross algorithm of Burke, Lewis and Overton (IMA J. Numer. Anal. 23, 2003). A vertical
/// search at <c>x</c> finds every <c>y</c> where ε is a singular value of <c>(x + iy)I − A</c> as the imaginary eigenvalues
/// of the Hamiltonian matrix <c>[[A − xI, εI], [−εI, xI − Aᵀ]]</c>; the intervals inside <c>Λ_ε</c> are kept, and from each
/// midpoint a horizontal search walks right to the boundary (bracketing and bisection on <c>σ_min = ε</c>, each
/// evaluation <c>O(n²)</c>). The iterates increase monotonically; optimality is certified by the last vertical search,
/// which is global (it sees every component of <c>Λ_ε</c> that reaches past the current <c>x</c>).</para>
/// <para>Radius: the criss-cross algorithm of Mengi and Overton (IMA J. Numer. Anal. 25, 2005). A circular search at radius
/// <c>r</c> finds every angle θ where ε is a singular value of <c>re^{iθ}I − A</c> as the unimodular eigenvalues of the
/// real pencil <c>[[A, εI], [0, rI]] − λ[[rI, 0], [εI, Aᵀ]]</c> (solved by shift-and-invert with a real shift); from the
/// midpoints of the arcs inside <c>Λ_ε</c>, radial searches walk outward to the boundary (bracketing and bisection).
/// Every component of <c>Λ_ε</c> contains an eigenvalue and the start radius exceeds <c>ρ(A)</c>, so a circle with no
/// arc inside <c>Λ_ε</c> certifies the maximum.</para>
/// <para>The global steps are dense <c>2n × 2n</c> eigenvalue problems (MathNet), <c>O(n³)</c> each, one per iteration;
/// the local steps use <c>σ_min</c> from <see cref="HessenbergResolvent"/> (<c>O(n²)</c> each) and locate the boundary
/// to about 1e-12 relative (the bisection runs to a few ulps; <c>σ_min</c> is accurate to about 1e-10 relative). A
/// nearly tangent crossing (a double eigenvalue that rounding moved off the axis or circle) can be missed, which ends
/// the iteration within second-order distance of the maximum: accuracy well within 1e-6 relative.</para>
/// </remarks>
public static class Pseudospectra
{
    private const string AbscissaMethod = "criss-cross (Burke–Lewis–Overton)";
    private const string RadiusMethod = "criss-cross (Mengi–Overton)";

    /// <summary>The ε-pseudospectral abscissa <c>α_ε(A) = max{Re z : σ_min(zI − A) ≤ ε}</c>.</summary>
    /// <param name="matrix">A square, finite, real matrix.</param>
    /// <param name="epsilon">ε &gt; 0.</param>
    /// <param name="maxIterations">Criss-cross iteration cap (default 50; convergence is quadratic).</param>
    /// <returns>The abscissa and the boundary point attaining it.</returns>
    /// <exception cref="ArgumentException">The matrix is invalid, ε is not positive and finite, or <paramref name="maxIterations"/> &lt; 1.</exception>
    public static PseudospectralResult Abscissa(double[,] matrix, double epsilon, int maxIterations = 50)
    {
        int n = Validate(matrix, epsilon, maxIterations);
        var eigenvalues = DenseLinearAlgebra.RealEigenvalues(matrix);
        var rightmost = eigenvalues.MaxBy(z => z.Real);
        var resolvent = HessenbergResolvent.FromMatrix(matrix);
        double frobenius = DenseLinearAlgebra.FrobeniusNorm(matrix);
        double scale = Math.Max(1, frobenius + epsilon);
        double bound = frobenius + epsilon;

        double y = rightmost.Imaginary;
        double x = OutwardCrossing(t => resolvent.SmallestSingularValue(new Complex(t, y)), rightmost.Real, epsilon, bound);

        for (int iteration = 1; iteration <= maxIterations; iteration++)
        {
            var crossings = VerticalSearch(matrix, n, x, epsilon, scale);
            double next = x;
            double nextY = y;
            for (int j = 0; j + 1 < crossings.Count; j++)
            {
                double mid = (crossings[j] + crossings[j + 1]) / 2;
                if (resolvent.SmallestSingularValue(new Complex(x, mid)) >= epsilon)
                {
                    continue;
                }

                double candidate = OutwardCrossing(t => resolvent.SmallestSingularValue(new Complex(t, mid)), x, epsilon, bound);
                if (candidate > next)
                {
                    next = candidate;
                    nextY = mid;
                }
            }

            if (next <= x + (1e-14 * Math.Max(1, Math.Abs(x))))
            {
                return Result(Math.Max(x, next), new Complex(Math.Max(x, next), Math.Abs(y)), epsilon, AbscissaMethod, iteration, converged: true, resolvent);
            }

            x = next;
            y = nextY;
        }

        return Result(x, new Complex(x, Math.Abs(y)), epsilon, AbscissaMethod, maxIterations, converged: false, resolvent);
    }

    /// <summary>The ε-pseudospectral radius <c>ρ_ε(A) = max{|z| : σ_min(zI − A) ≤ ε}</c>.</summary>
    /// <param name="matrix">A square, finite, real matrix.</param>
    /// <param name="epsilon">ε &gt; 0.</param>
    /// <param name="maxIterations">Criss-cross iteration cap (default 50; convergence is quadratic).</param>
    /// <returns>The radius and the boundary point attaining it.</returns>
    /// <exception cref="ArgumentException">The matrix is invalid, ε is not positive and finite, or <paramref name="maxIterations"/> &lt; 1.</exception>
    public static PseudospectralResult Radius(double[,] matrix, double epsilon, int maxIterations = 50)
    {
        int n = Validate(matrix, epsilon, maxIterations);
        var eigenvalues = DenseLinearAlgebra.RealEigenvalues(matrix);
        var outermost = eigenvalues.MaxBy(Complex.Abs);
        var resolvent = HessenbergResolvent.FromMatrix(matrix);
        double frobenius = DenseLinearAlgebra.FrobeniusNorm(matrix);
        double bound = frobenius + epsilon;

        double theta = outermost == Complex.Zero ? 0 : outermost.Phase;
        double r = OutwardCrossing(t => resolvent.SmallestSingularValue(Complex.FromPolarCoordinates(t, theta)), Complex.Abs(outermost), epsilon, bound);

        for (int iteration = 1; iteration <= maxIterations; iteration++)
        {
            var angles = CircularSearch(matrix, n, r, epsilon);
            double next = r;
            double nextTheta = theta;
            for (int j = 0; j < angles.Count; j++)
            {
                double start = angles[j];
                double end = j + 1 < angles.Count ? angles[j + 1] : angles[0] + (2 * Math.PI);
                double mid = (start + end) / 2;
                if (resolvent.SmallestSingularValue(Complex.FromPolarCoordinates(r, mid)) >= epsilon)
                {
                    continue;
                }

                double candidate = OutwardCrossing(t => resolvent.SmallestSingularValue(Complex.FromPolarCoordinates(t, mid)), r, epsilon, bound);
                if (candidate > next)
                {
                    next = candidate;
                    nextTheta = mid;
                }
            }

            if (next <= r + (1e-14 * Math.Max(1, r)))
            {
                return Result(r, UpperHalf(Complex.FromPolarCoordinates(r, theta)), epsilon, RadiusMethod, iteration, converged: true, resolvent);
            }

            r = next;
            theta = nextTheta;
        }

        return Result(r, UpperHalf(Complex.FromPolarCoordinates(r, theta)), epsilon, RadiusMethod, maxIterations, converged: false, resolvent);
    }

    private static PseudospectralResult Result(double value, Complex point, double epsilon, string method, int iterations, bool converged, HessenbergResolvent resolvent)
    {
        var info = converged
            ? new ConvergenceInfo(ConvergenceStatus.Converged, "The last global search found no point of the pseudospectrum beyond the current one.", 1, [], iterations, resolvent.Evaluations)
            : new ConvergenceInfo(ConvergenceStatus.MaxIterationsReached, $"Iteration cap {iterations} reached while the iterates were still improving.", 0, [], iterations, resolvent.Evaluations);
        return new PseudospectralResult(value, point, epsilon, method, info);
    }

    private static Complex UpperHalf(Complex z) => z.Imaginary < 0 ? Complex.Conjugate(z) : z;

    private static int Validate(double[,] matrix, double epsilon, int maxIterations)
    {
        int n = DenseLinearAlgebra.CheckSquare(matrix, nameof(matrix));
        if (!(epsilon > 0) || !double.IsFinite(epsilon))
        {
            throw new ArgumentException($"epsilon must be positive and finite; got {epsilon}.", nameof(epsilon));
        }

        if (maxIterations < 1)
        {
            throw new ArgumentException($"maxIterations must be at least 1; got {maxIterations}.", nameof(maxIterations));
        }

        return n;
    }

    // From a point z₀ = start·direction inside Λ_ε (σ_min < ε), walks outward along the ray start + t (t ≥ 0, in the
    // given direction) to a bracket [lo, hi] with σ_min(lo) < ε ≤ σ_min(hi), then bisects to a boundary point. The
    // bracket always exists: σ_min(zI − A) ≥ |z| − ‖A‖₂ > ε beyond ‖A‖_F + ε.
    private static double OutwardCrossing(Func<double, double> smallestSingularValue, double start, double epsilon, double bound)
    {
        double lo = start;
        double step = Math.Max(epsilon, 1e-6 * (1 + Math.Abs(start)));
        double hi = start + step;
        while (smallestSingularValue(hi) < epsilon)
        {
            lo = hi;
            if (hi > bound)
            {
                return hi;
            }

            step *= 2;
            hi = lo + step;
        }

        while (hi - lo > 4 * Precision.MachineEpsilon * Math.Max(1, Math.Abs(hi)))
        {
            double mid = 0.5 * (lo + hi);
            if (smallestSingularValue(mid) < epsilon)
            {
                lo = mid;
            }
            else
            {
                hi = mid;
            }
        }

        return 0.5 * (lo + hi);
    }

    // Every y where ε is a singular value of (x + iy)I − A, sorted.
    private static List<double> VerticalSearch(double[,] a, int n, double x, double epsilon, double scale)
    {
        var h = new double[2 * n, 2 * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                h[i, j] = a[i, j];
                h[n + i, n + j] = -a[j, i];
            }

            h[i, i] -= x;
            h[n + i, n + i] += x;
            h[i, n + i] = epsilon;
            h[n + i, i] = -epsilon;
        }

        var values = DenseLinearAlgebra.RealEigenvalues(h);
        var ys = values.Where(v => Math.Abs(v.Real) <= 1e-6 * scale).Select(v => v.Imaginary).ToList();
        ys.Sort();
        return ys;
    }

    // Every angle θ ∈ [−π, π) where ε is a singular value of re^{iθ}I − A, sorted.
    private static List<double> CircularSearch(double[,] a, int n, double r, double epsilon)
    {
        var p = Matrix<double>.Build.Dense(2 * n, 2 * n);
        var q = Matrix<double>.Build.Dense(2 * n, 2 * n);
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                p[i, j] = a[i, j];
                q[n + i, n + j] = a[j, i];
            }

            p[i, n + i] = epsilon;
            p[n + i, n + i] = r;
            q[i, i] = r;
            q[n + i, i] = epsilon;
        }

        // Pencil P − λQ by shift-and-invert: μ = eig((P − σQ)⁻¹Q), λ = σ + 1/μ, with the first real shift σ
        // that leaves P − σQ well conditioned (σ = 0 needs A nonsingular).
        foreach (double shift in (ReadOnlySpan<double>)[0, 0.5, -0.5, 2, -2, 0.3, -1.7])
        {
            var shifted = p - (shift * q);
            var x = shifted.LU().Solve(q);

            // A (nearly) singular P − σQ shows as a huge or non-finite solution: κ(P − σQ) ≥ ‖P − σQ‖·‖X‖/‖Q‖, so a
            // solution with ‖X‖ > 1e10·‖Q‖/‖P − σQ‖ means an ill-conditioned shift: try the next one.
            double size = x.InfinityNorm();
            if (!double.IsFinite(size) || size * shifted.InfinityNorm() > 1e10 * q.InfinityNorm())
            {
                continue;
            }

            var mus = x.Evd(Symmetricity.Asymmetric).EigenValues;
            var angles = new List<double>();
            foreach (var mu in mus)
            {
                if (mu == Complex.Zero)
                {
                    continue;
                }

                var lambda = shift + (1 / mu);
                if (Math.Abs(Complex.Abs(lambda) - 1) <= 1e-6)
                {
                    angles.Add(lambda.Phase);
                }
            }

            angles.Sort();
            return angles;
        }

        return [];
    }
}
