namespace SpectralMonitor.Estimators.Optimizers;

/// <summary>
/// The symmetric preconditioned curvature <c>S·K·S</c> with <c>S = P^½</c> (diagonal) and <c>K = α·H + σ·I</c>
/// (for example <c>H̃ = H + λI</c>). <c>P·K</c> is similar to it (<c>P·K = S·(S·K·S)·S⁻¹</c>), so its spectrum, which
/// Lanczos finds cheaply, gives the modes of Adam's and RMSprop's frozen-preconditioner update operators.
/// One Hessian-vector product per application. With the identity preconditioner (SGD) it is <c>K</c> itself and holds
/// no vector: no element-wise multiplications, no scratch vector, no ones vector.
/// </summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public sealed class PreconditionedHessianOperator<TVec> : LinearOperator<TVec>, IDisposable
    where TVec : class
{
    private readonly TVec? _scratch;
    private readonly ShiftedOperator<TVec> _curvature;
    private readonly IElementwiseVectorSpace<TVec> _elementwise;
    private TVec? _squareRoot;
    private bool _disposed;

    /// <summary>Creates <c>S·(α·H + σ·I)·S</c> with <c>S = √P</c>.</summary>
    /// <param name="hessian">The symmetric Hessian.</param>
    /// <param name="preconditioner">The diagonal of <c>P</c>: non-negative and finite (copied).</param>
    /// <param name="shift">σ (the L2 weight decay λ for <c>H̃</c>).</param>
    /// <param name="scale">α (−1 for a maximizing optimizer).</param>
    /// <exception cref="ArgumentException">An argument is invalid (the Hessian's space must have element-wise operations); the message names it.</exception>
    public PreconditionedHessianOperator(LinearOperator<TVec> hessian, TVec preconditioner, double shift = 0, double scale = 1)
        : this(hessian, preconditioner, shift, scale, takeOwnership: false)
    {
    }

    /// <summary>
    /// Creates <c>S·(α·H + σ·I)·S</c>; with <paramref name="takeOwnership"/> the square root is taken in place in
    /// <paramref name="preconditioner"/>, which this operator then owns and releases (no copy: one parameter-sized
    /// vector less while it is built).
    /// </summary>
    internal PreconditionedHessianOperator(LinearOperator<TVec> hessian, TVec preconditioner, double shift, double scale, bool takeOwnership)
        : base(CheckHessianSpace(hessian))
    {
        _elementwise = (IElementwiseVectorSpace<TVec>)Space;
        try
        {
            _curvature = new ShiftedOperator<TVec>(hessian, shift, scale);
            SnapshotValidation.Vector(hessian.Space, preconditioner, "preconditioner", required: true, parameterName: nameof(preconditioner));
        }
        catch when (takeOwnership && preconditioner is not null)
        {
            Space.Release(preconditioner);
            throw;
        }

        _squareRoot = takeOwnership ? preconditioner : Space.CreateVector();
        _elementwise.Sqrt(preconditioner, _squareRoot);
        if (!double.IsFinite(Space.Dot(_squareRoot, _squareRoot)))
        {
            Space.Release(_squareRoot);
            throw new ArgumentException("preconditioner has a negative entry; a diagonal preconditioner must be non-negative.", nameof(preconditioner));
        }

        _scratch = Space.CreateVector();
    }

    /// <summary>Creates <c>α·H + σ·I</c> with the identity preconditioner (<c>S = I</c>): no vector is allocated.</summary>
    /// <param name="hessian">The symmetric Hessian.</param>
    /// <param name="shift">σ (the L2 weight decay λ for <c>H̃</c>).</param>
    /// <param name="scale">α (−1 for a maximizing optimizer).</param>
    /// <exception cref="ArgumentException">An argument is invalid (the Hessian's space must have element-wise operations); the message names it.</exception>
    public PreconditionedHessianOperator(LinearOperator<TVec> hessian, double shift = 0, double scale = 1)
        : base(CheckHessianSpace(hessian))
    {
        _elementwise = (IElementwiseVectorSpace<TVec>)Space;
        _curvature = new ShiftedOperator<TVec>(hessian, shift, scale);
        IsIdentityPreconditioner = true;
    }

    /// <summary>Whether <c>P = I</c> (SGD): then the operator is <see cref="Curvature"/> itself.</summary>
    public bool IsIdentityPreconditioner { get; }

    /// <summary>The Hessian; its application counter counts the HVPs spent.</summary>
    public LinearOperator<TVec> Hessian => _curvature.Inner;

    /// <summary>The curvature <c>K = α·H + σ·I</c> (one HVP per application).</summary>
    public LinearOperator<TVec> Curvature => _curvature;

    /// <summary>
    /// <c>S = √P</c> (owned by this operator; do not modify or release). With the identity preconditioner the ones
    /// vector is created on first use only.
    /// </summary>
    public TVec SquareRoot
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_squareRoot is null)
            {
                // 1/(√0 + 1) = 1: the identity with the operations every element-wise backend has.
                _squareRoot = Space.CreateVector();
                _elementwise.InverseSqrtPlusEpsilon(_squareRoot, 1, 1, _squareRoot);
            }

            return _squareRoot;
        }
    }

    /// <inheritdoc/>
    public override bool IsSymmetric => true;

    /// <inheritdoc/>
    public override bool IsInexact => _curvature.IsInexact;

    /// <summary>The element-wise operations of the space (the commutator estimate needs them too).</summary>
    internal IElementwiseVectorSpace<TVec> ElementwiseSpace => _elementwise;

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_scratch is not null)
        {
            Space.Release(_scratch);
        }

        if (_squareRoot is not null)
        {
            Space.Release(_squareRoot);
        }
    }

    /// <inheritdoc/>
    protected override void ApplyCore(TVec x, TVec y)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (IsIdentityPreconditioner)
        {
            _curvature.Apply(x, y);
            return;
        }

        _elementwise.Multiply(_squareRoot!, x, _scratch!);
        _curvature.Apply(_scratch!, y);
        _elementwise.Multiply(_squareRoot!, y, y);
    }

    private static IVectorSpace<TVec> CheckHessianSpace(LinearOperator<TVec> hessian)
    {
        return SnapshotValidation.ElementwiseSpace(hessian);
    }
}
