using System.Numerics;

namespace SpectralMonitor.Estimators.Dense;

/// <summary>
/// Evaluates <c>σ_min(zI − A)</c> (equivalently <c>1/‖(zI − A)⁻¹‖₂</c>) at many complex points <c>z</c> in
/// <c>O(n²)</c> per point, from the Hessenberg form <c>H = QᵀAQ</c> (which has the same singular values of
/// <c>zI − H</c> as <c>zI − A</c>, because <c>Q</c> is orthogonal).
/// </summary>
/// <remarks>
/// Per point: the shifted Hessenberg matrix <c>zI − H</c> is factored as <c>QR</c> by <c>n − 1</c> complex Givens
/// rotations (<c>O(n²)</c>), then Lanczos with full reorthogonalization on the Hermitian <c>(RᴴR)⁻¹</c> (each step two
/// triangular solves, <c>O(n²)</c>) finds its largest eigenvalue <c>1/σ_min²</c> — inverse iteration alone stalls when
/// the two smallest singular values are close. The Ritz value never exceeds the eigenvalue, so the result is an upper
/// bound on <c>σ_min</c> (the resolvent norm is never overestimated); it stops when the Lanczos residual bounds the
/// relative error of <c>1/σ_min²</c> by <see cref="Tolerance"/>. The start vector is the singular vector found at the
/// previous point plus a fixed generic vector, which makes nearby evaluations (grids, local searches) converge in a
/// few steps. Instances hold a workspace: not thread-safe.
/// </remarks>
public sealed class HessenbergResolvent
{
    private const int MaxRestarts = 30;
    private readonly double[,] _h;
    private readonly int _n;
    private readonly Complex[] _r;
    private readonly Complex[] _x;
    private readonly Complex[] _y;
    private readonly Complex[] _generic;
    private readonly Complex[][] _basis;
    private readonly int _m;

    /// <summary>Creates the evaluator for an upper Hessenberg matrix.</summary>
    /// <param name="hessenberg">An upper Hessenberg matrix (zero below the first subdiagonal); copied.</param>
    /// <exception cref="ArgumentException">The matrix is not square, not finite or not upper Hessenberg.</exception>
    public HessenbergResolvent(double[,] hessenberg)
    {
        _n = DenseLinearAlgebra.CheckSquare(hessenberg, nameof(hessenberg));
        if (!HessenbergReduction.IsUpperHessenberg(hessenberg))
        {
            throw new ArgumentException("Matrix is not upper Hessenberg (it has a nonzero entry below the first subdiagonal); reduce it with HessenbergReduction.Reduce or use FromMatrix.", nameof(hessenberg));
        }

        _h = (double[,])hessenberg.Clone();
        _r = new Complex[_n * _n];
        _x = new Complex[_n];
        _y = new Complex[_n];
        _generic = new Complex[_n];
        _m = Math.Min(_n, 24);
        _basis = new Complex[_m + 1][];
        for (int i = 0; i <= _m; i++)
        {
            _basis[i] = new Complex[_n];
        }

        ResetStart();
        Array.Copy(_x, _generic, _n);
    }

    /// <summary>Matrix size <c>n</c>.</summary>
    public int Dimension => _n;

    /// <summary>Relative residual of the Lanczos eigenpair at which the iteration stops (default 1e-10: the eigenvalue
    /// <c>1/σ_min²</c> is then within 1e-10 relative of an exact one, so σ_min within about 5e-11).</summary>
    public double Tolerance { get; init; } = 1e-10;

    /// <summary>Number of resolvent evaluations so far.</summary>
    public long Evaluations { get; private set; }

    /// <summary>Number of Lanczos steps (each two <c>O(n²)</c> triangular solves) over all evaluations so far.</summary>
    public long LanczosSteps { get; private set; }

    /// <summary>Reduces a general matrix to Hessenberg form and creates the evaluator.</summary>
    /// <param name="matrix">A square, finite matrix.</param>
    /// <returns>An evaluator of <c>σ_min(zI − matrix)</c>.</returns>
    public static HessenbergResolvent FromMatrix(double[,] matrix) =>
        new(HessenbergReduction.Reduce(matrix, computeOrthogonal: false).Hessenberg);

    /// <summary>The smallest singular value of <c>zI − A</c>; 0 when <paramref name="z"/> is an eigenvalue to working precision.</summary>
    /// <param name="z">The shift.</param>
    /// <returns><c>σ_min(zI − A) = 1/‖(zI − A)⁻¹‖₂</c>.</returns>
    public double SmallestSingularValue(Complex z)
    {
        Evaluations++;
        if (!Factor(z))
        {
            return 0;
        }

        return InverseLanczos();
    }

    /// <summary>The resolvent norm <c>‖(zI − A)⁻¹‖₂</c> (+∞ at an eigenvalue).</summary>
    /// <param name="z">The shift.</param>
    /// <returns><c>1/σ_min(zI − A)</c>.</returns>
    public double ResolventNorm(Complex z)
    {
        double s = SmallestSingularValue(z);
        return s == 0 ? double.PositiveInfinity : 1 / s;
    }

    /// <summary>
    /// λ_max((RᴴR)⁻¹) = 1/σ_min² by explicitly restarted Lanczos, as 1/√λ. It stays apart from the shared Krylov–Schur
    /// driver (<see cref="Krylov.KrylovSchurDriver"/>) on purpose: the operator is complex Hermitian (the driver's vector
    /// spaces are real), it is applied through two triangular solves on a workspace reused for every point, and each
    /// point needs one eigenvalue warm-started from the previous point, which a restart cycle of a few steps delivers.
    /// </summary>
    private double InverseLanczos()
    {
        int n = _n;
        double best = 0;
        for (int restart = 0; restart < MaxRestarts; restart++)
        {
            var v0 = _basis[0];
            for (int i = 0; i < n; i++)
            {
                v0[i] = restart == 0 ? _x[i] + (0.05 * _generic[i]) : _x[i];
            }

            DenseVector.Normalize(v0);
            if (Cycle() is not { } cycle)
            {
                ResetStart();
                return 0;
            }

            // Ritz vector → warm start of the next cycle and of the next point.
            Array.Clear(_x);
            for (int j = 0; j < cycle.Size; j++)
            {
                double coefficient = cycle.Ritz[j];
                for (int i = 0; i < n; i++)
                {
                    _x[i] += coefficient * _basis[j][i];
                }
            }

            DenseVector.Normalize(_x);
            best = Math.Max(best, cycle.Theta);
            if (cycle.Invariant || cycle.Residual <= Tolerance * cycle.Theta)
            {
                break;
            }
        }

        return best > 0 ? 1 / Math.Sqrt(best) : 0;
    }

    /// <summary>
    /// One Lanczos cycle from <c>_basis[0]</c> with full reorthogonalization; the top Ritz pair is checked every four
    /// steps. Returns null on a non-finite step (the factorization was numerically singular).
    /// </summary>
    private (double Theta, double[] Ritz, int Size, double Residual, bool Invariant)? Cycle()
    {
        var alpha = new double[_m];
        var beta = new double[_m];
        var w = _y;
        int size = 0;
        bool invariant = false;
        double theta = 0;
        double residual = double.PositiveInfinity;
        double[] ritz = [];
        for (int k = 0; k < _m; k++)
        {
            // w = (RᴴR)⁻¹ v_k = R⁻¹(R⁻ᴴ v_k).
            LanczosSteps++;
            SolveConjugateTranspose(_basis[k], _x);
            SolveUpper(_x, w);
            alpha[k] = Reorthogonalize(w, k);
            double b = DenseVector.Norm(w);
            if (!double.IsFinite(b) || !double.IsFinite(alpha[k]))
            {
                return null;
            }

            beta[k] = b;
            size = k + 1;
            invariant = b <= 1e-15 * Math.Abs(alpha[k]) || size == _n;
            if (invariant || size == _m || size % 4 == 0)
            {
                (theta, ritz) = TopRitzPair(alpha, beta, size);
                residual = invariant ? 0 : b * Math.Abs(ritz[size - 1]);
                if (residual <= Tolerance * theta || invariant)
                {
                    break;
                }
            }

            if (size < _m)
            {
                var next = _basis[k + 1];
                for (int i = 0; i < _n; i++)
                {
                    next[i] = w[i] / b;
                }
            }
        }

        return (theta, ritz, size, residual, invariant);
    }

    /// <summary>Orthogonalizes <paramref name="w"/> against <c>_basis[0..k]</c> twice (classical Gram–Schmidt is not enough once); returns the diagonal entry α_k.</summary>
    private double Reorthogonalize(Complex[] w, int k)
    {
        double alpha = 0;
        for (int pass = 0; pass < 2; pass++)
        {
            for (int j = 0; j <= k; j++)
            {
                Complex c = Dot(_basis[j], w);
                if (j == k)
                {
                    alpha += c.Real;
                }

                var basis = _basis[j];
                for (int i = 0; i < _n; i++)
                {
                    w[i] -= c * basis[i];
                }
            }
        }

        return alpha;
    }

    private static (double Value, double[] Vector) TopRitzPair(double[] alpha, double[] beta, int size)
    {
        var t = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(size, size);
        for (int i = 0; i < size; i++)
        {
            t[i, i] = alpha[i];
            if (i + 1 < size)
            {
                t[i, i + 1] = beta[i];
                t[i + 1, i] = beta[i];
            }
        }

        var evd = t.Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric);
        int top = 0;
        for (int i = 1; i < size; i++)
        {
            if (evd.EigenValues[i].Real > evd.EigenValues[top].Real)
            {
                top = i;
            }
        }

        return (evd.EigenValues[top].Real, evd.EigenVectors.Column(top).ToArray());
    }

    private static Complex Dot(Complex[] x, Complex[] y)
    {
        // xᴴy
        Complex sum = Complex.Zero;
        for (int i = 0; i < x.Length; i++)
        {
            sum += Complex.Conjugate(x[i]) * y[i];
        }

        return sum;
    }

    private bool Factor(Complex z)
    {
        int n = _n;
        var r = _r;
        for (int i = 0; i < n; i++)
        {
            int row = i * n;
            for (int j = 0; j < n; j++)
            {
                r[row + j] = j >= i - 1 ? -_h[i, j] : Complex.Zero;
            }

            r[row + i] += z;
        }

        // Givens rotations G_k act on rows k, k+1 and zero r[k+1, k].
        for (int k = 0; k < n - 1; k++)
        {
            Complex a = r[(k * n) + k];
            Complex b = r[((k + 1) * n) + k];
            if (b == Complex.Zero)
            {
                continue;
            }

            Rotate(k, a, b);
        }

        for (int i = 0; i < n; i++)
        {
            if (r[(i * n) + i] == Complex.Zero)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The Givens rotation G_k on rows k, k+1 of R that zeroes r[k+1, k] (<paramref name="a"/> = r[k, k], <paramref name="b"/> = r[k+1, k] ≠ 0).</summary>
    private void Rotate(int k, Complex a, Complex b)
    {
        int n = _n;
        var r = _r;
        double absA = Complex.Abs(a);
        double rho = Hypot(absA, Complex.Abs(b));
        double c;
        Complex s;
        if (absA == 0)
        {
            c = 0;
            s = Complex.One;
        }
        else
        {
            c = absA / rho;
            s = a / absA * Complex.Conjugate(b) / rho;
        }

        var sConj = Complex.Conjugate(s);
        int top = k * n;
        int bottom = (k + 1) * n;
        for (int j = k; j < n; j++)
        {
            Complex u = r[top + j];
            Complex w = r[bottom + j];
            r[top + j] = (c * u) + (s * w);
            r[bottom + j] = (c * w) - (sConj * u);
        }

        r[bottom + k] = Complex.Zero;
    }

    // Solves Rᴴ·y = x (Rᴴ lower triangular), walking rows of R so memory is read contiguously.
    private void SolveConjugateTranspose(Complex[] x, Complex[] y)
    {
        int n = _n;
        var r = _r;
        Array.Copy(x, y, n);
        for (int j = 0; j < n; j++)
        {
            int row = j * n;
            Complex yj = y[j] / Complex.Conjugate(r[row + j]);
            y[j] = yj;
            for (int i = j + 1; i < n; i++)
            {
                y[i] -= Complex.Conjugate(r[row + i]) * yj;
            }
        }
    }

    // Solves R·x = y (back substitution).
    private void SolveUpper(Complex[] y, Complex[] x)
    {
        int n = _n;
        var r = _r;
        for (int i = n - 1; i >= 0; i--)
        {
            int row = i * n;
            Complex sum = y[i];
            for (int j = i + 1; j < n; j++)
            {
                sum -= r[row + j] * x[j];
            }

            x[i] = sum / r[row + i];
        }
    }

    // A fixed, non-structured start vector: no component is likely to vanish for any z.
    private void ResetStart()
    {
        for (int i = 0; i < _n; i++)
        {
            _x[i] = new Complex(1 + (0.37 * Math.Sin(1.3 * (i + 1))), 0.21 * Math.Cos(0.7 * (i + 1)));
        }

        DenseVector.Normalize(_x);
    }

    private static double Hypot(double a, double b)
    {
        double m = Math.Max(a, b);
        if (m == 0)
        {
            return 0;
        }

        double p = a / m;
        double q = b / m;
        return m * Math.Sqrt((p * p) + (q * q));
    }
}
