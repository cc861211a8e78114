using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Optimizers;

/// <summary>How an update operator linearizes the optimizer step.</summary>
public enum UpdateLinearization
{
    /// <summary>
    /// The adaptive preconditioner P (Adam, RMSprop) is held at the value the next step divides by when the gradient is
    /// zero, and the second-moment state is not part of the perturbed state. Exact at a stationary point (zero effective
    /// gradient); an approximation elsewhere. For SGD there is no preconditioner and the operator is always exact.
    /// </summary>
    FrozenPreconditioner,

    /// <summary>The exact Jacobian of the next step over the whole state, including the second moment (Adam: (θ, m, v)).</summary>
    FullState,
}

/// <summary>One block of an optimizer's augmented state vector.</summary>
public enum StateBlock
{
    /// <summary>The parameters θ (<c>param</c>).</summary>
    Parameters,

    /// <summary>SGD or RMSprop <c>momentum_buffer</c>.</summary>
    MomentumBuffer,

    /// <summary>Adam <c>exp_avg</c> (first moment m).</summary>
    ExpAvg,

    /// <summary>Adam <c>exp_avg_sq</c> (second moment v).</summary>
    ExpAvgSq,
}

/// <summary>Which blocks an update operator's state vector holds, in which order, and what the operator is.</summary>
/// <param name="Blocks">The blocks of the state vector, in order (block <c>i</c> of a <see cref="BlockVector{TVec}"/>).</param>
/// <param name="Linearization">Whether P is frozen or the full state is linearized.</param>
/// <param name="Description">A one-line human-readable description, for example <c>"Adam (frozen P, t = 11): (param, exp_avg)"</c>.</param>
public sealed record UpdateStateLayout(IReadOnlyList<StateBlock> Blocks, UpdateLinearization Linearization, string Description)
{
    /// <summary>The PyTorch state name of each block (<c>param</c>, <c>momentum_buffer</c>, <c>exp_avg</c>, <c>exp_avg_sq</c>).</summary>
    public IReadOnlyList<string> TorchNames => Blocks.Select(TorchName).ToArray();

    /// <summary>Position of <paramref name="block"/> in the state vector, or −1 when it is not part of it.</summary>
    /// <param name="block">The block to look for.</param>
    public int IndexOf(StateBlock block)
    {
        for (int i = 0; i < Blocks.Count; i++)
        {
            if (Blocks[i] == block)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The PyTorch state name of <paramref name="block"/>.</summary>
    /// <param name="block">A state block.</param>
    public static string TorchName(StateBlock block) => block switch
    {
        StateBlock.Parameters => "param",
        StateBlock.MomentumBuffer => "momentum_buffer",
        StateBlock.ExpAvg => "exp_avg",
        StateBlock.ExpAvgSq => "exp_avg_sq",
        _ => throw new ArgumentOutOfRangeException(nameof(block), block, "Unknown state block."),
    };

    internal static string Format(string head, IReadOnlyList<StateBlock> blocks) =>
        $"{head}: ({string.Join(", ", blocks.Select(TorchName))})";
}

/// <summary>
/// The linearized update map <c>J</c> of one optimizer step on the augmented state (a <see cref="BlockVector{TVec}"/> whose
/// blocks are given by <see cref="Layout"/>). Every application of <c>J</c> or <c>Jᵀ</c> costs exactly one application of
/// <see cref="Hessian"/> (one Hessian-vector product).
/// </summary>
/// <remarks>An instance holds scratch vectors of the backend and is not safe for concurrent use. Dispose it to release them
/// (and the derived diagonal vectors) at once on device backends.</remarks>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public abstract class UpdateOperator<TVec> : LinearOperator<BlockVector<TVec>>, IDisposable
    where TVec : class
{
    private readonly List<TVec> _owned = [];
    private bool _disposed;

    /// <summary>Creates the operator over <paramref name="layout"/>'s blocks of the Hessian's space.</summary>
    /// <param name="hessian">The symmetric Hessian of the training loss.</param>
    /// <param name="layout">The state layout.</param>
    private protected UpdateOperator(LinearOperator<TVec> hessian, UpdateStateLayout layout)
        : base(new BlockVectorSpace<TVec>(hessian.Space, layout.Blocks.Count))
    {
        Hessian = hessian;
        Layout = layout;
    }

    /// <summary>Which blocks the state holds, in which order.</summary>
    public UpdateStateLayout Layout { get; }

    /// <summary>The Hessian operator; its <see cref="LinearOperator{TVec}.TotalApplications"/> counts the HVPs spent.</summary>
    public LinearOperator<TVec> Hessian { get; }

    /// <summary>The state space (blocks of the Hessian's space).</summary>
    public BlockVectorSpace<TVec> StateSpace => (BlockVectorSpace<TVec>)Space;

    /// <summary>The parameter-space vector operations.</summary>
    protected IVectorSpace<TVec> ParameterSpace => Hessian.Space;

    /// <summary>The parameter space's element-wise operations (adaptive operators only: checked by <see cref="CheckElementwiseHessian"/>).</summary>
    private protected IElementwiseVectorSpace<TVec> ElementwiseSpace => (IElementwiseVectorSpace<TVec>)Hessian.Space;

    /// <inheritdoc/>
    public override bool SupportsTranspose => true;

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the scratch and derived vectors.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (disposing)
        {
            foreach (var vector in _owned)
            {
                ParameterSpace.Release(vector);
            }

            _owned.Clear();
        }
    }

    /// <summary>Registers a vector this operator created, to be released on dispose.</summary>
    private protected TVec Own(TVec vector)
    {
        _owned.Add(vector);
        return vector;
    }

    /// <summary>Creates and registers a new zero parameter-space vector.</summary>
    private protected TVec NewVector() => Own(ParameterSpace.CreateVector());

    /// <summary>Throws when the operator was disposed.</summary>
    private protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Validates the Hessian before any base-class work (used in constructor chains).</summary>
    private protected static LinearOperator<TVec> CheckHessian(LinearOperator<TVec> hessian)
    {
        SnapshotValidation.Hessian(hessian);
        return hessian;
    }

    /// <summary>As <see cref="CheckHessian"/>, and checks that its space has element-wise operations (adaptive optimizers).</summary>
    private protected static LinearOperator<TVec> CheckElementwiseHessian(LinearOperator<TVec> hessian)
    {
        SnapshotValidation.ElementwiseSpace(hessian);
        return hessian;
    }
}
