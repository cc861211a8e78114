namespace SpectralMonitor.Estimators.Operators;

/// <summary>An operator defined by delegates: <c>apply(x, y)</c> writes <c>A·x</c> into <c>y</c>.</summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public sealed class DelegateOperator<TVec> : LinearOperator<TVec>
    where TVec : class
{
    private readonly Action<TVec, TVec> _apply;
    private readonly Action<TVec, TVec>? _applyTranspose;
    private readonly bool _symmetric;

    /// <summary>Creates the operator.</summary>
    /// <param name="space">Domain and range.</param>
    /// <param name="apply">Writes <c>A·x</c> into its second argument.</param>
    /// <param name="applyTranspose">Writes <c>Aᵀ·x</c> into its second argument, or null when unavailable.</param>
    /// <param name="isSymmetric">Declare <c>A = Aᵀ</c> (then <paramref name="applyTranspose"/> is not needed).</param>
    public DelegateOperator(IVectorSpace<TVec> space, Action<TVec, TVec> apply, Action<TVec, TVec>? applyTranspose = null, bool isSymmetric = false)
        : base(space)
    {
        ArgumentNullException.ThrowIfNull(apply);
        _apply = apply;
        _applyTranspose = applyTranspose;
        _symmetric = isSymmetric;
    }

    /// <inheritdoc/>
    public override bool IsSymmetric => _symmetric;

    /// <inheritdoc/>
    public override bool SupportsTranspose => _symmetric || _applyTranspose is not null;

    /// <inheritdoc/>
    protected override void ApplyCore(TVec x, TVec y) => _apply(x, y);

    /// <inheritdoc/>
    protected override void ApplyTransposeCore(TVec x, TVec y) =>
        (_applyTranspose ?? throw new NotSupportedException("No transpose delegate was given."))(x, y);
}
