namespace SpectralMonitor.Estimators;

/// <summary>
/// A linear map <c>A: ℝⁿ → ℝⁿ</c> on the vectors of one <see cref="IVectorSpace{TVec}"/>.
/// The public <see cref="Apply"/> validates and counts; subclasses implement <see cref="ApplyCore"/>.
/// </summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public abstract class LinearOperator<TVec>
    where TVec : class
{
    private long _applications;
    private long _transposeApplications;

    /// <summary>Creates an operator on the vectors of <paramref name="space"/>.</summary>
    /// <param name="space">The vector space the operator acts on.</param>
    protected LinearOperator(IVectorSpace<TVec> space)
    {
        ArgumentNullException.ThrowIfNull(space);
        Space = space;
    }

    /// <summary>The vector space of the operator's domain and range.</summary>
    public IVectorSpace<TVec> Space { get; }

    /// <summary>The dimension <c>n</c>.</summary>
    public int Dimension => Space.Dimension;

    /// <summary>Whether the operator is known to be symmetric (a hint; it is not checked).</summary>
    public virtual bool IsSymmetric => false;

    /// <summary>
    /// Whether the products are approximations far less accurate than the vectors' precision (for example
    /// Hessian-vector products by finite differences of gradients, good to 1e-3–1e-1 in single precision). Lanczos then
    /// orthogonalizes every step against the whole basis, as with <see cref="Krylov.LanczosOptions.FullReorthogonalization"/>:
    /// its selective orthogonalization assumes products accurate to about the working precision. Default false;
    /// operators that wrap another report the wrapped one's.
    /// </summary>
    public virtual bool IsInexact => false;

    /// <summary>Whether <see cref="ApplyTranspose"/> is available.</summary>
    public virtual bool SupportsTranspose => IsSymmetric;

    /// <summary>How many times <see cref="Apply"/> has run.</summary>
    public long Applications => Interlocked.Read(ref _applications);

    /// <summary>How many times <see cref="ApplyTranspose"/> has run.</summary>
    public long TransposeApplications => Interlocked.Read(ref _transposeApplications);

    /// <summary>All applications, forward and transposed.</summary>
    public long TotalApplications => Applications + TransposeApplications;

    /// <summary>Computes <c>y ← A·x</c>.</summary>
    /// <exception cref="ArgumentException">A vector is not of this operator's space, or <paramref name="x"/> and <paramref name="y"/> are the same object.</exception>
    public void Apply(TVec x, TVec y)
    {
        Validate(x, y);
        ApplyCore(x, y);
        Interlocked.Increment(ref _applications);
    }

    /// <summary>Computes <c>y ← Aᵀ·x</c>.</summary>
    /// <exception cref="NotSupportedException">The operator has no transpose (<see cref="SupportsTranspose"/> is false).</exception>
    public void ApplyTranspose(TVec x, TVec y)
    {
        if (!SupportsTranspose)
        {
            throw new NotSupportedException($"{GetType().Name} does not provide ApplyTranspose (SupportsTranspose is false).");
        }

        Validate(x, y);
        if (IsSymmetric)
        {
            ApplyCore(x, y);
        }
        else
        {
            ApplyTransposeCore(x, y);
        }

        Interlocked.Increment(ref _transposeApplications);
    }

    /// <summary>Computes <c>y ← A·x</c> for validated, distinct vectors.</summary>
    /// <param name="x">Input vector.</param>
    /// <param name="y">Output vector (overwritten).</param>
    protected abstract void ApplyCore(TVec x, TVec y);

    /// <summary>Computes <c>y ← Aᵀ·x</c>; override together with <see cref="SupportsTranspose"/>.</summary>
    /// <param name="x">Input vector.</param>
    /// <param name="y">Output vector (overwritten).</param>
    protected virtual void ApplyTransposeCore(TVec x, TVec y) =>
        throw new NotSupportedException($"{GetType().Name} overrides SupportsTranspose but not ApplyTransposeCore.");

    private void Validate(TVec x, TVec y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (!Space.IsCompatible(x))
        {
            throw new ArgumentException($"Input vector does not belong to this operator's space (dimension {Dimension}).", nameof(x));
        }

        if (!Space.IsCompatible(y))
        {
            throw new ArgumentException($"Output vector does not belong to this operator's space (dimension {Dimension}).", nameof(y));
        }

        if (ReferenceEquals(x, y))
        {
            throw new ArgumentException("Input and output must be different vectors (the operator is not applied in place).", nameof(y));
        }
    }
}
