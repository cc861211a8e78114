namespace SpectralMonitor.Estimators.Optimizers;

/// <summary>
/// What the Adam/AdamW update operators share (frozen preconditioner and full state): the curvature
/// <c>K = ±H + λ·I</c>, the step size η·c₁, β₁, the decoupled decay <c>d</c>, the diagonal preconditioner <c>P</c>, one
/// scratch vector, and the first-moment row <c>δm' = β₁·δm + (1−β₁)·Kδθ</c> of <c>J</c>.
/// </summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public abstract class AdamFamilyUpdateOperator<TVec> : UpdateOperator<TVec>
    where TVec : class
{
    private protected AdamFamilyUpdateOperator(LinearOperator<TVec> hessian, UpdateStateLayout layout, AdamSettings settings)
        : base(hessian, layout)
    {
        StepSize = settings.StepSize;
        Beta1 = settings.Beta1;
        ParameterDecay = settings.Decay;
        Curvature = new ShiftedOperator<TVec>(hessian, settings.L2, settings.Sign);
        Scratch = NewVector();
    }

    /// <summary><c>K = ±H + λ·I</c> (λ = 0 for AdamW): one HVP per application.</summary>
    public ShiftedOperator<TVec> Curvature { get; }

    /// <summary>The diagonal preconditioner <c>P</c> the step divides by (owned by this operator: read it, do not modify or release it).</summary>
    public abstract TVec Preconditioner { get; }

    /// <summary>η·c₁, the bias-corrected step size of the step being linearized.</summary>
    public double StepSize { get; }

    /// <summary>β₁.</summary>
    public double Beta1 { get; }

    /// <summary><c>d = 1 − ηλ</c> for AdamW, 1 for Adam.</summary>
    public double ParameterDecay { get; }

    /// <summary>A parameter-sized work vector.</summary>
    private protected TVec Scratch { get; }

    /// <summary><c>δm' ← β₁·δm + (1−β₁)·Kδθ</c>, with <paramref name="curvatureTimesTheta"/> = <c>K·δθ</c> computed already.</summary>
    private protected void MomentRow(TVec moment, TVec curvatureTimesTheta, TVec result)
    {
        var s = ElementwiseSpace;
        s.Copy(moment, result);
        s.Scale(result, Beta1);
        s.Axpy(1 - Beta1, curvatureTimesTheta, result);
    }
}
