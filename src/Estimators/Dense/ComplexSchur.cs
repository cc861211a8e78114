using System.Numerics;

namespace SpectralMonitor.Estimators.Dense;

/// <summary>A complex Schur decomposition <c>A = Z·T·Zᴴ</c>: <c>Z</c> unitary, <c>T</c> upper triangular.</summary>
/// <param name="T">The upper triangular factor; its diagonal holds the eigenvalues of <c>A</c>.</param>
/// <param name="Z">The unitary factor (Schur vectors as columns).</param>
/// <param name="Converged">False when the QR iteration hit its limit (30 iterations per eigenvalue); then <see cref="T"/> is not triangular.</param>
/// <param name="Iterations">QR iterations taken.</param>
public sealed record ComplexSchurDecomposition(Complex[,] T, Complex[,] Z, bool Converged, int Iterations)
{
    /// <summary>The QR iteration's record: converged (every eigenvalue deflated) or stopped at its iteration limit.</summary>
    public ConvergenceInfo Convergence => Converged
        ? new(ConvergenceStatus.Converged, "Every subdiagonal entry deflated: T is triangular.", T.GetLength(0), [], Iterations, 0)
        : new(ConvergenceStatus.MaxIterationsReached, $"QR iteration limit reached after {Iterations} iterations; T is not triangular.", 0, [], Iterations, 0);

    /// <summary>The diagonal of <see cref="T"/>: the eigenvalues, in Schur order.</summary>
    public Complex[] Eigenvalues()
    {
        int n = T.GetLength(0);
        var values = new Complex[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = T[i, i];
        }

        return values;
    }
}

/// <summary>
/// Complex Schur decomposition of a small dense matrix: Householder reduction to Hessenberg form, then the shifted QR
/// iteration with Wilkinson shifts, deflation and complex Givens rotations; and reordering of the Schur form.
/// </summary>
/// <remarks>
/// Hand-written because MathNet.Numerics 5 exposes eigenvalues and eigenvectors but neither the Schur vectors nor a
/// way to reorder a Schur form, and the Krylov–Schur restart of <see cref="Krylov.Arnoldi"/> needs both (an orthonormal
/// basis of the invariant subspace of the wanted Ritz values). Cost O(n³); meant for n ≤ a few hundred.
/// </remarks>
public static class ComplexSchur
{

    /// <summary>Decomposes a real square matrix.</summary>
    /// <exception cref="ArgumentException">The matrix is empty, not square or has a non-finite entry.</exception>
    public static ComplexSchurDecomposition Decompose(double[,] matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var a = new Complex[matrix.GetLength(0), matrix.GetLength(1)];
        for (int i = 0; i < a.GetLength(0); i++)
        {
            for (int j = 0; j < a.GetLength(1); j++)
            {
                a[i, j] = matrix[i, j];
            }
        }

        return DecomposeInPlace(a, nameof(matrix));
    }

    /// <summary>Decomposes a complex square matrix (not modified).</summary>
    /// <exception cref="ArgumentException">The matrix is empty, not square or has a non-finite entry.</exception>
    public static ComplexSchurDecomposition Decompose(Complex[,] matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        return DecomposeInPlace((Complex[,])matrix.Clone(), nameof(matrix));
    }

    /// <summary>
    /// An orthonormal REAL basis (n × p) of the invariant subspace of a real matrix belonging to the selected
    /// eigenvalues of its Schur form: reorder them first, then take the <c>p</c> dominant left singular vectors of
    /// <c>[Re Z_p, Im Z_p]</c>. The selection must be closed under complex conjugation, so that this real span has
    /// dimension exactly <c>p</c>; then <c>Uᵀ·A·U</c> is the (real) restriction of <c>A</c> to that subspace.
    /// </summary>
    /// <param name="decomposition">The Schur form of a real matrix.</param>
    /// <param name="selected">One flag per eigenvalue (diagonal entry of T), closed under conjugation.</param>
    /// <exception cref="ArgumentException">The selection has the wrong length or selects nothing.</exception>
    public static double[,] RealInvariantSubspace(ComplexSchurDecomposition decomposition, IReadOnlyList<bool> selected)
    {
        ArgumentNullException.ThrowIfNull(decomposition);
        ArgumentNullException.ThrowIfNull(selected);
        int n = decomposition.T.GetLength(0);
        int keep = selected.Count(s => s);
        if (selected.Count != n || keep == 0)
        {
            throw new ArgumentException($"selected has {selected.Count} flags ({keep} set); expected {n} flags with at least one set.", nameof(selected));
        }

        var reordered = Reorder(decomposition, selected);
        var stacked = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(n, 2 * keep);
        for (int c = 0; c < keep; c++)
        {
            for (int r = 0; r < n; r++)
            {
                stacked[r, c] = reordered.Z[r, c].Real;
                stacked[r, keep + c] = reordered.Z[r, c].Imaginary;
            }
        }

        var svd = stacked.Svd(computeVectors: true);
        var u = new double[n, keep];
        for (int c = 0; c < keep; c++)
        {
            for (int r = 0; r < n; r++)
            {
                u[r, c] = svd.U[r, c];
            }
        }

        return u;
    }

    /// <summary>
    /// The restriction <c>Uᵀ·A·U</c> of a real matrix to the invariant subspace of its eigenvalues inside the open unit
    /// disk (<c>U</c> from <see cref="RealInvariantSubspace"/>): the stable part of an update operator, whose Kreiss
    /// constant is finite even when unstable modes make the whole operator's infinite.
    /// </summary>
    /// <param name="matrix">A square, finite, real matrix (for example an Arnoldi projection).</param>
    /// <returns>The restriction (the matrix itself when every eigenvalue is inside), or null when none is inside.</returns>
    /// <exception cref="ArgumentException">The matrix is empty, not square or not finite.</exception>
    public static double[,]? StablePart(double[,] matrix)
    {
        int n = DenseLinearAlgebra.CheckSquare(matrix, nameof(matrix));
        var schur = Decompose(matrix);
        var selected = new bool[n];
        int count = 0;
        for (int i = 0; i < n; i++)
        {
            selected[i] = schur.T[i, i].Magnitude < 1;
            count += selected[i] ? 1 : 0;
        }

        if (count == 0)
        {
            return null;
        }

        if (count == n)
        {
            return matrix;
        }

        var u = RealInvariantSubspace(schur, selected);
        var au = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfArray(matrix) * MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfArray(u);
        var restricted = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfArray(u).TransposeThisAndMultiply(au);
        return restricted.ToArray();
    }

    /// <summary>
    /// Returns a reordered copy of <paramref name="decomposition"/> in which the eigenvalues at the positions flagged in
    /// <paramref name="selected"/> come first (in their original relative order), so that the leading columns of
    /// <c>Z</c> span their invariant subspace.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="selected"/> does not have one flag per eigenvalue.</exception>
    public static ComplexSchurDecomposition Reorder(ComplexSchurDecomposition decomposition, IReadOnlyList<bool> selected)
    {
        ArgumentNullException.ThrowIfNull(decomposition);
        var t = (Complex[,])decomposition.T.Clone();
        var z = (Complex[,])decomposition.Z.Clone();
        Reorder(t, z, selected);
        return decomposition with { T = t, Z = z };
    }

    /// <summary>
    /// Reorders a Schur form in place (<c>T ← GᴴTG</c>, <c>Z ← Z·G</c>) so that the eigenvalues flagged in
    /// <paramref name="selected"/> come first: adjacent diagonal entries are swapped by a Givens rotation whose first
    /// column is the eigenvector of the lower entry in the 2 × 2 block.
    /// </summary>
    /// <param name="t">Upper triangular <c>n × n</c>.</param>
    /// <param name="z">Unitary <c>n × n</c> (or with <c>n</c> columns and any number of rows).</param>
    /// <param name="selected">One flag per diagonal position.</param>
    /// <returns>The number of selected eigenvalues.</returns>
    /// <exception cref="ArgumentException">Sizes disagree.</exception>
    public static int Reorder(Complex[,] t, Complex[,] z, IReadOnlyList<bool> selected)
    {
        ArgumentNullException.ThrowIfNull(t);
        ArgumentNullException.ThrowIfNull(z);
        ArgumentNullException.ThrowIfNull(selected);
        int n = t.GetLength(0);
        if (t.GetLength(1) != n || z.GetLength(1) != n || selected.Count != n)
        {
            throw new ArgumentException($"T is {t.GetLength(0)} × {t.GetLength(1)}, Z is {z.GetLength(0)} × {z.GetLength(1)} and {selected.Count} flags were given; T must be square, Z must have {n} columns and there must be {n} flags.", nameof(selected));
        }

        var flags = selected.ToArray();
        int destination = 0;
        for (int i = 0; i < n; i++)
        {
            if (!flags[i])
            {
                continue;
            }

            for (int k = i - 1; k >= destination; k--)
            {
                SwapAdjacent(t, z, k);
                (flags[k], flags[k + 1]) = (flags[k + 1], flags[k]);
            }

            destination++;
        }

        return destination;
    }

    private static ComplexSchurDecomposition DecomposeInPlace(Complex[,] h, string parameterName)
    {
        int n = h.GetLength(0);
        if (n == 0 || h.GetLength(1) != n)
        {
            throw new ArgumentException($"The matrix must be square and non-empty; it is {h.GetLength(0)} × {h.GetLength(1)}.", parameterName);
        }

        double norm = 0;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                if (!double.IsFinite(h[i, j].Real) || !double.IsFinite(h[i, j].Imaginary))
                {
                    throw new ArgumentException($"Matrix entry ({i}, {j}) is {h[i, j]}; every entry must be finite.", parameterName);
                }

                norm += (h[i, j].Real * h[i, j].Real) + (h[i, j].Imaginary * h[i, j].Imaginary);
            }
        }

        norm = Math.Sqrt(norm);
        var z = new Complex[n, n];
        for (int i = 0; i < n; i++)
        {
            z[i, i] = Complex.One;
        }

        ReduceToHessenberg(h, z);
        bool converged = QrIterate(h, z, norm, out int iterations);
        if (converged)
        {
            for (int i = 1; i < n; i++)
            {
                for (int j = 0; j < i; j++)
                {
                    h[i, j] = Complex.Zero;
                }
            }
        }

        return new ComplexSchurDecomposition(h, z, converged, iterations);
    }

    /// <summary>Householder reduction <c>A ← HᴴAH</c> to upper Hessenberg form, accumulating <c>Z ← Z·H</c>.</summary>
    private static void ReduceToHessenberg(Complex[,] a, Complex[,] z)
    {
        int n = a.GetLength(0);
        var v = new Complex[n];
        var w = new Complex[n];
        for (int k = 0; k < n - 2; k++)
        {
            double xNorm = 0;
            for (int i = k + 1; i < n; i++)
            {
                xNorm += Abs2(a[i, k]);
            }

            xNorm = Math.Sqrt(xNorm);
            double tail = xNorm * xNorm - Abs2(a[k + 1, k]);
            if (xNorm == 0 || tail <= 0)
            {
                continue;
            }

            var (alpha, tau) = Reflector(a, k, xNorm, v);
            ApplyReflectorLeft(a, v, tau, k);

            // Right: A[:, k+1:] −= τ·(A[:, k+1:]·v)·vᴴ, and the same on Z.
            ApplyReflectorRight(a, v, tau, k + 1, w);
            ApplyReflectorRight(z, v, tau, k + 1, w);
            a[k + 1, k] = alpha;
            for (int i = k + 2; i < n; i++)
            {
                a[i, k] = Complex.Zero;
            }
        }
    }

    /// <summary>v = x − α·e₁ with α = −e^{i·arg x₀}·‖x‖ (no cancellation) for x = A[k+1:, k]; H = I − τvvᴴ with τ = 2/‖v‖².</summary>
    private static (Complex Alpha, double Tau) Reflector(Complex[,] a, int k, double xNorm, Complex[] v)
    {
        int n = a.GetLength(0);
        var x0 = a[k + 1, k];
        double x0Abs = Complex.Abs(x0);
        var phase = x0Abs == 0 ? Complex.One : x0 / x0Abs;
        var alpha = -phase * xNorm;
        for (int i = k + 1; i < n; i++)
        {
            v[i] = a[i, k];
        }

        v[k + 1] -= alpha;
        double vNorm2 = 0;
        for (int i = k + 1; i < n; i++)
        {
            vNorm2 += Abs2(v[i]);
        }

        return (alpha, 2 / vNorm2);
    }

    /// <summary>A[k+1:, k:] −= τ·v·(vᴴ·A[k+1:, k:]).</summary>
    private static void ApplyReflectorLeft(Complex[,] a, Complex[] v, double tau, int k)
    {
        int n = a.GetLength(0);
        for (int j = k; j < n; j++)
        {
            Complex dot = Complex.Zero;
            for (int i = k + 1; i < n; i++)
            {
                dot += Complex.Conjugate(v[i]) * a[i, j];
            }

            dot *= tau;
            for (int i = k + 1; i < n; i++)
            {
                a[i, j] -= v[i] * dot;
            }
        }
    }

    private static void ApplyReflectorRight(Complex[,] m, Complex[] v, double tau, int from, Complex[] w)
    {
        int rows = m.GetLength(0);
        int n = m.GetLength(1);
        for (int r = 0; r < rows; r++)
        {
            Complex dot = Complex.Zero;
            for (int j = from; j < n; j++)
            {
                dot += m[r, j] * v[j];
            }

            w[r] = dot * tau;
        }

        for (int r = 0; r < rows; r++)
        {
            var wr = w[r];
            for (int j = from; j < n; j++)
            {
                m[r, j] -= wr * Complex.Conjugate(v[j]);
            }
        }
    }

    /// <summary>Single-shift complex QR on an upper Hessenberg matrix until it is triangular.</summary>
    private static bool QrIterate(Complex[,] h, Complex[,] z, double norm, out int iterations)
    {
        int n = h.GetLength(0);
        int maxIterations = 30 * Math.Max(n, 10);
        iterations = 0;
        int sinceDeflation = 0;
        int hi = n - 1;
        var cosines = new double[n];
        var sines = new Complex[n];
        while (hi > 0)
        {
            int lo = hi;
            while (lo > 0 && !IsNegligible(h, lo, norm))
            {
                lo--;
            }

            if (lo > 0)
            {
                h[lo, lo - 1] = Complex.Zero;
            }

            if (lo == hi)
            {
                hi--;
                sinceDeflation = 0;
                continue;
            }

            if (iterations >= maxIterations)
            {
                return false;
            }

            var shift = Shift(h, hi, sinceDeflation);
            Sweep(h, z, lo, hi, shift, cosines, sines);
            iterations++;
            sinceDeflation++;
        }

        return true;
    }

    private static Complex Shift(Complex[,] h, int hi, int sinceDeflation)
    {
        if (sinceDeflation > 0 && sinceDeflation % 10 == 0)
        {
            // Exceptional shift (as in LAPACK's zlahqr) to break a cycle of the Wilkinson shift.
            return h[hi, hi] + (0.75 * Math.Abs(h[hi, hi - 1].Real)) + (0.75 * Math.Abs(h[hi, hi - 1].Imaginary));
        }

        return WilkinsonShift(h[hi - 1, hi - 1], h[hi - 1, hi], h[hi, hi - 1], h[hi, hi]);
    }

    /// <summary>
    /// One explicit shifted QR step on the active block lo..hi: H − μI = QR, H ← RQ + μI, applied to the whole matrix
    /// (rows to the right of the block and columns above it) so that H stays a similarity of A, and accumulated in Z.
    /// </summary>
    private static void Sweep(Complex[,] h, Complex[,] z, int lo, int hi, Complex shift, double[] cosines, Complex[] sines)
    {
        for (int i = lo; i <= hi; i++)
        {
            h[i, i] -= shift;
        }

        for (int k = lo; k < hi; k++)
        {
            Givens(h[k, k], h[k + 1, k], out double c, out var s);
            cosines[k] = c;
            sines[k] = s;
            RotateRows(h, k, c, s, k);
            h[k + 1, k] = Complex.Zero;
        }

        for (int k = lo; k < hi; k++)
        {
            RotateColumns(h, k, cosines[k], sines[k], k + 1);
            RotateColumns(z, k, cosines[k], sines[k], z.GetLength(0) - 1);
        }

        for (int i = lo; i <= hi; i++)
        {
            h[i, i] += shift;
        }
    }

    private static bool IsNegligible(Complex[,] h, int i, double norm)
    {
        double sub = Abs1(h[i, i - 1]);
        double diagonal = Abs1(h[i, i]) + Abs1(h[i - 1, i - 1]);
        if (diagonal == 0)
        {
            diagonal = norm;
        }

        return sub <= Precision.MachineEpsilon * diagonal;
    }

    private static Complex WilkinsonShift(Complex a, Complex b, Complex c, Complex d)
    {
        // Eigenvalue of [[a, b], [c, d]] closest to d.
        var half = (a - d) / 2;
        var root = Complex.Sqrt((half * half) + (b * c));
        var mean = (a + d) / 2;
        var first = mean + root;
        var second = mean - root;
        return Complex.Abs(first - d) <= Complex.Abs(second - d) ? first : second;
    }

    /// <summary>
    /// Rotation <c>G = [[c, s], [−s̄, c]]</c> (c real) with <c>G·[f; g] = [r; 0]</c>.
    /// </summary>
    private static void Givens(Complex f, Complex g, out double c, out Complex s)
    {
        double gAbs = Complex.Abs(g);
        if (gAbs == 0)
        {
            c = 1;
            s = Complex.Zero;
            return;
        }

        double fAbs = Complex.Abs(f);
        if (fAbs == 0)
        {
            c = 0;
            s = Complex.Conjugate(g) / gAbs;
            return;
        }

        double r = Hypot(fAbs, gAbs);
        c = fAbs / r;
        s = f / fAbs * Complex.Conjugate(g) / r;
    }

    /// <summary>Rows k, k+1 ← G·rows, over columns <paramref name="fromColumn"/> to the end.</summary>
    private static void RotateRows(Complex[,] m, int k, double c, Complex s, int fromColumn)
    {
        int n = m.GetLength(1);
        var sBar = Complex.Conjugate(s);
        for (int j = fromColumn; j < n; j++)
        {
            var x = m[k, j];
            var y = m[k + 1, j];
            m[k, j] = (c * x) + (s * y);
            m[k + 1, j] = (c * y) - (sBar * x);
        }
    }

    /// <summary>Columns k, k+1 ← columns·Gᴴ, over rows 0 to <paramref name="toRow"/>.</summary>
    private static void RotateColumns(Complex[,] m, int k, double c, Complex s, int toRow)
    {
        var sBar = Complex.Conjugate(s);
        for (int i = 0; i <= toRow; i++)
        {
            var x = m[i, k];
            var y = m[i, k + 1];
            m[i, k] = (c * x) + (sBar * y);
            m[i, k + 1] = (c * y) - (s * x);
        }
    }

    /// <summary>Swaps the diagonal entries k and k+1 of an upper triangular <paramref name="t"/> by a unitary similarity.</summary>
    private static void SwapAdjacent(Complex[,] t, Complex[,] z, int k)
    {
        var a = t[k, k];
        var c = t[k + 1, k + 1];
        if (a == c)
        {
            return;
        }

        // The eigenvector of [[a, b], [0, c]] for c is (b, c − a); the rotation maps it to e₁.
        Givens(t[k, k + 1], c - a, out double cs, out var sn);
        RotateRows(t, k, cs, sn, k);
        RotateColumns(t, k, cs, sn, k + 1);
        RotateColumns(z, k, cs, sn, z.GetLength(0) - 1);
        t[k + 1, k] = Complex.Zero;
        t[k, k] = c;
        t[k + 1, k + 1] = a;
    }

    private static double Abs1(Complex x) => Math.Abs(x.Real) + Math.Abs(x.Imaginary);

    private static double Abs2(Complex x) => (x.Real * x.Real) + (x.Imaginary * x.Imaginary);

    private static double Hypot(double x, double y)
    {
        double big = Math.Max(x, y);
        double small = Math.Min(x, y);
        double ratio = small / big;
        return big * Math.Sqrt(1 + (ratio * ratio));
    }
}
