namespace SpectralMonitor.Estimators.Optimizers;

/// <summary>
/// <c>α·A + σ·I</c> for a symmetric operator <c>A</c>: the L2-regularized Hessian <c>H̃ = H + λ·I</c> (α = 1, σ = λ),
/// or the curvature a maximizing optimizer sees (<c>−H + λ·I</c>). Each application applies <c>A</c> exactly once,
/// so wrapping a Hessian costs no extra Hessian-vector product.
/// </summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public sealed class ShiftedOperator<TVec> : LinearOperator<TVec>
    where TVec : class
{
    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The symmetric operator <c>A</c> (for example a Hessian-vector product).</param>
    /// <param name="shift">σ, finite (the weight decay λ for <c>H̃</c>).</param>
    /// <param name="scale">α, finite and non-zero (−1 for <c>maximize</c>).</param>
    /// <exception cref="ArgumentException"><paramref name="inner"/> is not declared symmetric, or a coefficient is invalid.</exception>
    public ShiftedOperator(LinearOperator<TVec> inner, double shift, double scale = 1)
        : base(inner?.Space!)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (!inner.IsSymmetric)
        {
            throw new ArgumentException($"The wrapped operator ({inner.GetType().Name}) must be declared symmetric (IsSymmetric is false).", nameof(inner));
        }

        if (!double.IsFinite(shift))
        {
            throw new ArgumentException($"shift is {shift}; it must be finite.", nameof(shift));
        }

        if (!double.IsFinite(scale) || scale == 0)
        {
            throw new ArgumentException($"scale is {scale}; it must be finite and non-zero.", nameof(scale));
        }

        Inner = inner;
        Shift = shift;
        ScaleFactor = scale;
    }

    /// <summary>The wrapped operator <c>A</c>; its application counter counts the Hessian-vector products.</summary>
    public LinearOperator<TVec> Inner { get; }

    /// <summary>σ.</summary>
    public double Shift { get; }

    /// <summary>α.</summary>
    public double ScaleFactor { get; }

    /// <inheritdoc/>
    public override bool IsSymmetric => true;

    /// <inheritdoc/>
    public override bool IsInexact => Inner.IsInexact;

    /// <inheritdoc/>
    protected override void ApplyCore(TVec x, TVec y)
    {
        Inner.Apply(x, y);
        if (ScaleFactor != 1)
        {
            Space.Scale(y, ScaleFactor);
        }

        if (Shift != 0)
        {
            Space.Axpy(Shift, x, y);
        }
    }
}
