using MathNet.Numerics.LinearAlgebra;

namespace SpectralMonitor.Estimators.Krylov;

/// <summary>The state a <see cref="KrylovSchurFactorization{TVec}"/> operation left the factorization in.</summary>
public enum FactorizationStatus
{
    /// <summary>The requested operation completed; the factorization has the requested size.</summary>
    Completed,

    /// <summary>
    /// The Krylov space became invariant under the operator ("lucky breakdown"): the residual is zero to rounding
    /// level, so the projected matrix holds exact eigenvalues of the operator.
    /// </summary>
    InvariantSubspace,

    /// <summary>The start vector is zero (nothing to build a Krylov space from).</summary>
    ZeroStartVector,

    /// <summary>The operator returned NaN or ±∞ (or the start vector holds one); the factorization kept its last valid state.</summary>
    NonFiniteOperatorOutput,

    /// <summary>The operator-application budget ran out before the requested size was reached.</summary>
    ApplicationLimitReached,

    /// <summary>The caller's token was cancelled before the requested size was reached.</summary>
    Cancelled,
}

/// <summary>
/// A Krylov–Schur factorization <c>A·Q_j = Q_j·S + q_j·bᵀ</c> of an operator: an orthonormal basis
/// <c>Q_j = [q₀ … q_{j−1}]</c> with one more orthonormal residual direction <c>q_j</c>, and the small dense
/// projected matrix <c>S = Q_jᵀ·A·Q_j</c> (<c>j × j</c>, double, CPU) with the residual coupling <c>b</c>.
/// </summary>
/// <remarks>
/// <para>
/// This class only builds and shrinks the factorization (initialize, expand, restart); selecting Ritz values and
/// deciding when to stop belong to the drivers (<see cref="Lanczos"/>, <see cref="Arnoldi"/>,
/// <see cref="StochasticLanczosQuadrature"/>). Arnoldi and Lanczos differ only in <see cref="IsSymmetric"/>: for a
/// symmetric operator the upper part of each new column is taken from the (known) coupling row, so <c>S</c> stays
/// exactly symmetric — tridiagonal after a plain start, diagonal plus an arrowhead row and column after a thick
/// restart — while every new vector is still fully reorthogonalized against the whole basis.
/// </para>
/// <para>
/// Memory: the basis holds at most <see cref="MaxDimension"/> + 1 vectors, plus one work vector unless the basis
/// appends in place (<see cref="IInPlaceAppendBasis{TVec}"/>), in which case each operator output is written straight
/// into the basis's next slot.
/// Residual of a Ritz pair <c>(θ, Q_j·y)</c> with unit <c>y</c>: <c>‖A·Q_j·y − θ·Q_j·y‖ = |bᵀy|</c>.
/// </para>
/// </remarks>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public sealed class KrylovSchurFactorization<TVec> : IDisposable
    where TVec : class
{
    private readonly LinearOperator<TVec> _operator;
    private readonly IVectorSpace<TVec> _space;
    private readonly IBasis<TVec> _basis;

    // (MaxDimension + 1) × MaxDimension: rows 0..Size−1 hold S, row Size holds bᵀ.
    private readonly double[,] _h;
    private readonly double[] _coefficients;
    private TVec? _work;

    // The largest ‖A·q‖ seen: a lower bound on ‖A‖, the scale of the local steps' cancellation test.
    private double _normEstimate;

    // Set after a random direction was added: its first step orthogonalizes fully.
    private bool _fullStepRequired;

    /// <summary>Creates an empty factorization of <paramref name="op"/> able to grow to <paramref name="maxDimension"/>.</summary>
    /// <param name="op">The operator.</param>
    /// <param name="maxDimension">The largest Krylov dimension <c>m</c>, in <c>[1, n]</c>.</param>
    /// <param name="symmetric">Treat the operator as symmetric (Lanczos); the projected matrix is kept symmetric.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDimension"/> is outside <c>[1, n]</c>.</exception>
    public KrylovSchurFactorization(LinearOperator<TVec> op, int maxDimension, bool symmetric)
    {
        ArgumentNullException.ThrowIfNull(op);
        if (maxDimension < 1 || maxDimension > op.Dimension)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDimension), maxDimension, $"maxDimension must be in [1, {op.Dimension}] (the operator dimension).");
        }

        _operator = op;
        _space = op.Space;
        MaxDimension = maxDimension;
        IsSymmetric = symmetric;
        _basis = _space.CreateBasis(maxDimension + 1);
        _h = new double[maxDimension + 1, maxDimension];
        _coefficients = new double[maxDimension + 1];
    }

    /// <summary>The vector space of the operator (and of the basis).</summary>
    public IVectorSpace<TVec> Space => _space;

    /// <summary>The largest size <c>m</c> the factorization can reach.</summary>
    public int MaxDimension { get; }

    /// <summary>Whether the projected matrix is kept symmetric (Lanczos).</summary>
    public bool IsSymmetric { get; }

    /// <summary>The current size <c>j</c> (number of basis vectors, not counting the residual direction).</summary>
    public int Size { get; private set; }

    /// <summary>
    /// Whether the residual is exactly zero (an invariant subspace was found). Then the basis holds only
    /// <see cref="Size"/> vectors and the factorization cannot grow until <see cref="AddRandomDirection"/> is called.
    /// </summary>
    public bool IsInvariant { get; private set; }

    /// <summary>Operator applications made by this factorization since it was created.</summary>
    public long OperatorApplications { get; private set; }

    /// <summary>
    /// Whether a symmetric factorization may orthogonalize the next steps locally (selective orthogonalization): a
    /// Lanczos step then subtracts only its known coupling to <c>q_{j−1}</c> and its component along <c>q_j</c>, reading
    /// two basis vectors instead of the whole basis twice. Off by default (every step is a full CGS2 pass). A solver
    /// turns it on while no Ritz pair is close to convergence: by Paige's theorem the new vector loses orthogonality
    /// only towards Ritz vectors whose residual is small, by about <c>ε·‖A‖/residual</c>, so while every residual
    /// exceeds <c>√ε·‖S‖</c> the basis stays orthogonal to about √ε (semi-orthogonality), enough for the projected
    /// matrix to be exact to rounding level (Simon 1984). Ignored by non-symmetric factorizations.
    /// </summary>
    internal bool AllowLocalOrthogonalization { get; set; }

    /// <summary>How many steps were orthogonalized locally (see <see cref="AllowLocalOrthogonalization"/>).</summary>
    internal int LocalSteps { get; private set; }

    /// <summary>
    /// The basis <c>[q₀ … q_{j−1}]</c> followed by the residual direction <c>q_j</c> (absent when
    /// <see cref="IsInvariant"/>). Read it; do not modify it.
    /// </summary>
    public IBasis<TVec> Basis => _basis;

    /// <summary>A copy of the projected matrix <c>S</c> (<see cref="Size"/> × <see cref="Size"/>).</summary>
    public double[,] ProjectedMatrix()
    {
        var s = new double[Size, Size];
        for (int i = 0; i < Size; i++)
        {
            for (int j = 0; j < Size; j++)
            {
                s[i, j] = _h[i, j];
            }
        }

        return s;
    }

    /// <summary>A copy of the residual coupling <c>b</c> (length <see cref="Size"/>): <c>A·Q = Q·S + q·bᵀ</c>.</summary>
    public double[] ResidualCoupling()
    {
        var b = new double[Size];
        for (int j = 0; j < Size; j++)
        {
            b[j] = _h[Size, j];
        }

        return b;
    }

    /// <summary>Starts over from <paramref name="start"/> (copied and normalized): afterwards <see cref="Size"/> is 0 and the residual direction is the start vector.</summary>
    /// <returns><see cref="FactorizationStatus.Completed"/>, <see cref="FactorizationStatus.ZeroStartVector"/> or <see cref="FactorizationStatus.NonFiniteOperatorOutput"/> (non-finite start entries).</returns>
    /// <exception cref="ArgumentException"><paramref name="start"/> is not a vector of the operator's space.</exception>
    public FactorizationStatus Initialize(TVec start)
    {
        ArgumentNullException.ThrowIfNull(start);
        if (!_space.IsCompatible(start))
        {
            throw new ArgumentException($"The start vector does not belong to the operator's space (dimension {_space.Dimension}).", nameof(start));
        }

        _basis.Truncate(0);
        Array.Clear(_h);
        Size = 0;
        IsInvariant = true;
        double norm = _space.Norm(start);
        if (!double.IsFinite(norm))
        {
            return FactorizationStatus.NonFiniteOperatorOutput;
        }

        if (norm == 0)
        {
            return FactorizationStatus.ZeroStartVector;
        }

        var work = Slot();
        _space.Copy(start, work);
        _space.Scale(work, 1 / norm);
        Commit(work);
        IsInvariant = false;
        return FactorizationStatus.Completed;
    }

    /// <summary>Grows the factorization one operator application at a time until <see cref="Size"/> is <paramref name="targetSize"/>.</summary>
    /// <param name="targetSize">The size to reach, in <c>[Size, MaxDimension]</c>.</param>
    /// <param name="applicationLimit">Stop when <see cref="OperatorApplications"/> reaches this many (0: no limit).</param>
    /// <param name="cancellationToken">Checked before every application.</param>
    /// <returns>
    /// <see cref="FactorizationStatus.Completed"/> when the size was reached; otherwise why it stopped. In every case
    /// the factorization is valid at its current <see cref="Size"/> (a non-finite application is discarded).
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="targetSize"/> is outside <c>[Size, MaxDimension]</c>.</exception>
    /// <exception cref="InvalidOperationException">The factorization was never successfully initialized.</exception>
    public FactorizationStatus Expand(int targetSize, long applicationLimit = 0, CancellationToken cancellationToken = default)
    {
        if (targetSize < Size || targetSize > MaxDimension)
        {
            throw new ArgumentOutOfRangeException(nameof(targetSize), targetSize, $"targetSize must be in [{Size}, {MaxDimension}] (current size, maximum dimension).");
        }

        if (_basis.Count == 0)
        {
            throw new InvalidOperationException("Initialize the factorization with a non-zero start vector before expanding it.");
        }

        while (Size < targetSize)
        {
            if (IsInvariant)
            {
                return FactorizationStatus.InvariantSubspace;
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return FactorizationStatus.Cancelled;
            }

            if (applicationLimit > 0 && OperatorApplications >= applicationLimit)
            {
                return FactorizationStatus.ApplicationLimitReached;
            }

            if (Step() is { } stopped)
            {
                return stopped;
            }
        }

        return FactorizationStatus.Completed;
    }

    /// <summary>
    /// One Arnoldi step: applies the operator to the last basis vector, orthogonalizes, and appends the new column of
    /// <c>S</c> and the new residual direction. Returns why it could not continue, or null.
    /// </summary>
    private FactorizationStatus? Step()
    {
        int j = Size;
        var work = Slot();
        _operator.Apply(_basis[j], work);
        OperatorApplications++;
        var coefficients = _coefficients.AsSpan(0, j + 1);
        double beta;
        OrthogonalizationOutcome outcome;
        if (CanStepLocally(j))
        {
            outcome = Orthogonalization.OrthogonalizeLocally(_space, _basis, work, _normEstimate, coefficients, out beta, out double applied);
            _normEstimate = Math.Max(_normEstimate, applied);
            LocalSteps++;
        }
        else
        {
            outcome = Orthogonalization.Orthogonalize(_space, _basis, work, coefficients, out beta);
        }

        _fullStepRequired = false;
        if (outcome == OrthogonalizationOutcome.NonFinite)
        {
            return FactorizationStatus.NonFiniteOperatorOutput;
        }

        for (int i = 0; i < j; i++)
        {
            // Symmetric: S[i, j] = S[j, i], and row j (the old coupling bᵀ) is already known exactly.
            _h[i, j] = IsSymmetric ? _h[j, i] : coefficients[i];
        }

        _h[j, j] = coefficients[j];
        for (int c = 0; c <= j; c++)
        {
            _h[j + 1, c] = 0;
        }

        Size = j + 1;
        if (outcome == OrthogonalizationOutcome.InvariantSubspace)
        {
            IsInvariant = true;
            return FactorizationStatus.InvariantSubspace;
        }

        _h[j + 1, j] = beta;
        Commit(work);
        return null;
    }

    /// <summary>
    /// Whether step <paramref name="j"/> may orthogonalize locally: the caller allows it, the factorization is symmetric,
    /// no full step was required (after a random direction), and row <c>j</c> of <c>S</c> couples <c>q_j</c> to no basis
    /// vector but <c>q_{j−1}</c> (true of every Lanczos step except the first after a thick restart, whose row holds the
    /// coupling to all kept Ritz vectors).
    /// </summary>
    private bool CanStepLocally(int j)
    {
        if (!IsSymmetric || !AllowLocalOrthogonalization || _fullStepRequired)
        {
            return false;
        }

        for (int i = 0; i < j - 1; i++)
        {
            if (_h[j, i] != 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Shrinks the factorization to the subspace spanned by <c>Q·U</c>: <c>S ← UᵀSU</c>, <c>b ← Uᵀb</c>,
    /// <c>Q ← Q·U</c> (one <see cref="IBasis{TVec}.Transform"/> call, the residual direction kept).
    /// </summary>
    /// <param name="u">
    /// <see cref="Size"/> × <c>p</c> with orthonormal columns spanning an invariant subspace of <c>S</c> (for example
    /// Schur or eigenvectors of the wanted Ritz values); then the result is again an exact Krylov–Schur factorization.
    /// </param>
    /// <exception cref="ArgumentException"><paramref name="u"/> has the wrong number of rows or no columns, or more columns than rows.</exception>
    public void Restart(double[,] u)
    {
        ArgumentNullException.ThrowIfNull(u);
        int rows = u.GetLength(0);
        int p = u.GetLength(1);
        if (rows != Size || p < 1 || p > Size)
        {
            throw new ArgumentException($"u is {rows} × {p}; expected {Size} rows (the current size) and 1 to {Size} columns.", nameof(u));
        }

        var (compressed, coupling) = Compress(u);

        // Q ← Q·U with the residual direction kept as the last column.
        bool hasResidual = !IsInvariant;
        var transform = new double[_basis.Count, p + (hasResidual ? 1 : 0)];
        for (int r = 0; r < Size; r++)
        {
            for (int c = 0; c < p; c++)
            {
                transform[r, c] = u[r, c];
            }
        }

        if (hasResidual)
        {
            transform[Size, p] = 1;
        }

        _basis.Transform(transform);
        Array.Clear(_h);
        for (int r = 0; r < p; r++)
        {
            for (int c = 0; c < p; c++)
            {
                _h[r, c] = compressed[r, c];
            }

            _h[p, r] = coupling[r];
        }

        Size = p;
    }

    /// <summary>
    /// <c>UᵀSU</c> (exactly symmetric for a symmetric factorization) and <c>Uᵀb</c>, in double on the CPU (p, j ≤ ~100).
    /// </summary>
    private (double[,] S, double[] B) Compress(double[,] u)
    {
        int j = Size;
        var build = Matrix<double>.Build;
        var basis = build.DenseOfArray(u);
        var s = basis.TransposeThisAndMultiply(build.Dense(j, j, (r, c) => _h[r, c]) * basis).ToArray();
        int p = s.GetLength(0);
        if (IsSymmetric)
        {
            for (int r = 0; r < p; r++)
            {
                for (int c = r + 1; c < p; c++)
                {
                    double mean = 0.5 * (s[r, c] + s[c, r]);
                    s[r, c] = mean;
                    s[c, r] = mean;
                }
            }
        }

        var b = basis.TransposeThisAndMultiply(build.Dense(j, 1, (r, _) => _h[j, r]));
        return (s, b.Column(0).ToArray());
    }

    /// <summary>
    /// After an invariant subspace was found, appends a random unit vector orthogonal to the basis as the new
    /// residual direction (with zero coupling), so that the factorization can grow into the rest of the space.
    /// </summary>
    /// <param name="seed">Seed of the random vector.</param>
    /// <returns>False when the basis already spans the whole space (or no new direction could be drawn).</returns>
    /// <exception cref="InvalidOperationException">The factorization is not invariant.</exception>
    public bool AddRandomDirection(int seed)
    {
        if (!IsInvariant || _basis.Count != Size)
        {
            throw new InvalidOperationException("A random direction can only be added after an invariant subspace was found.");
        }

        if (Size >= _space.Dimension)
        {
            return false;
        }

        var work = Slot();
        var coefficients = _coefficients.AsSpan(0, Size);
        for (int attempt = 0; attempt < 3; attempt++)
        {
            _space.FillRandom(work, RandomKind.Gaussian, unchecked(seed + (7919 * attempt)));
            if (Orthogonalization.Orthogonalize(_space, _basis, work, coefficients, out _) == OrthogonalizationOutcome.NewDirection)
            {
                Commit(work);
                IsInvariant = false;
                _fullStepRequired = true;
                return true;
            }
        }

        return false;
    }

    /// <summary><c>destination ← Q_j·y</c> for <c>y</c> of length <see cref="Size"/> (a Ritz vector when <c>y</c> is an eigenvector of <c>S</c>).</summary>
    /// <exception cref="ArgumentException"><paramref name="coordinates"/> does not have length <see cref="Size"/>.</exception>
    public void CombineBasis(ReadOnlySpan<double> coordinates, TVec destination)
    {
        if (coordinates.Length != Size)
        {
            throw new ArgumentException($"Expected {Size} coordinates (the current size), got {coordinates.Length}.", nameof(coordinates));
        }

        Span<double> padded = _basis.Count <= 256 ? stackalloc double[_basis.Count] : new double[_basis.Count];
        padded.Clear();
        coordinates.CopyTo(padded);
        _basis.Combine(padded, destination);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _basis.Dispose();
        if (_work is not null)
        {
            _space.Release(_work);
            _work = null;
        }
    }

    /// <summary>
    /// Where the next basis vector is built: the basis's own next slot when it can append in place
    /// (<see cref="IInPlaceAppendBasis{TVec}"/>: no work vector, no copy), else the work vector.
    /// </summary>
    private TVec Slot() => _basis is IInPlaceAppendBasis<TVec> inPlace ? inPlace.NextSlot() : _work ??= _space.CreateVector();

    /// <summary>Makes the vector built in <see cref="Slot"/> the next basis vector.</summary>
    private void Commit(TVec vector)
    {
        if (_basis is IInPlaceAppendBasis<TVec> inPlace)
        {
            inPlace.CommitNext();
        }
        else
        {
            _basis.Append(vector);
        }
    }
}
