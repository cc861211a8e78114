using SpectralMonitor.Estimators;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch;

/// <summary>The train/eval mode of the model while the probe's loss is evaluated.</summary>
public enum ProbeModelMode
{
    /// <summary>
    /// <c>model.eval()</c> (the default): dropout off, batch norm uses its running statistics and does not update
    /// them, so the probe is deterministic and leaves no trace in the model. This is what PyHessian does.
    /// </summary>
    Eval,

    /// <summary>
    /// <c>model.train()</c>: the Hessian of the loss exactly as the training step sees it (one dropout mask, fixed
    /// for the whole probe because the graph is built once). Batch-norm running statistics are updated once.
    /// </summary>
    Train,

    /// <summary>Leave the mode as the caller set it.</summary>
    Unchanged,
}

/// <summary>Options of <see cref="HessianVectorProductOperator"/>.</summary>
/// <param name="ModelMode">The model's mode while the loss is evaluated (restored afterwards); used only when a model is given.</param>
public sealed record HessianVectorProductOptions(ProbeModelMode ModelMode = ProbeModelMode.Eval);

/// <summary>
/// The Hessian <c>H = ∇²L(θ)</c> of a loss on a fixed probe batch, applied by double backward (Pearlmutter's trick
/// through autograd): the first-order graph <c>g = ∇L</c> is built ONCE, in the constructor, with
/// <c>create_graph</c> and <c>retain_graph</c>; each application computes <c>Hv = ∇⟨g, v⟩</c> with
/// <c>torch.autograd.grad(…, retain_graph: true)</c>. One application costs about two backward passes.
/// </summary>
/// <remarks>
/// <para>Lifetime: the operator owns the probe's loss and first-order graph; they are freed by <see cref="Dispose"/>.
/// Use it within one probe, before the next optimizer step: changing the parameters in place (an optimizer step,
/// <c>load_state_dict</c>) invalidates the graph, and libtorch then fails inside native code.</para>
/// <para>TorchSharp's <c>autograd.grad</c> does not turn libtorch errors into .NET exceptions: an error there ends the
/// process. So everything that could make it fail is checked in managed code first, and a clear exception is thrown
/// instead: the loss is a one-element floating-point tensor with a <c>grad_fn</c>, every parameter requires grad, the
/// graph is always retained (and never used after disposal), and <c>v</c> has the parameters' dtype and device (checked by
/// the vector space). Parameters the loss does not depend on get zero gradient and zero Hessian rows
/// (<c>allow_unused</c>).</para>
/// <para>Gradients come from <c>torch.autograd.grad</c>, never from <c>Parameter.grad</c>, which the training loop
/// owns (and which is a method in TorchSharp 0.99, a property in current releases).</para>
/// <para>Device memory: the first-order graph (about what one training step holds), plus one parameter-sized output of
/// the second backward per application, freed before <see cref="LinearOperator{TVec}.Apply"/> returns.</para>
/// </remarks>
public sealed class HessianVectorProductOperator : LinearOperator<Tensor>, IDisposable
{
    private readonly FlatParameterView _view;
    private readonly Tensor _loss;
    private readonly Tensor?[] _gradients;
    private bool _disposed;

    /// <summary>Evaluates the probe loss and builds its first-order graph.</summary>
    /// <param name="parameters">The monitored parameters.</param>
    /// <param name="lossClosure">Computes the loss on the fixed probe batch (forward pass only; no <c>backward</c>, no <c>zero_grad</c>).</param>
    /// <param name="model">The model, to set its mode during the forward pass (see <paramref name="options"/>); null leaves the mode alone.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="space">The vector space to act on; null creates one from <paramref name="parameters"/>.</param>
    /// <exception cref="ArgumentException">The loss is not a scalar with a <c>grad_fn</c>, a parameter does not require grad, or <paramref name="space"/> does not match <paramref name="parameters"/>.</exception>
    public HessianVectorProductOperator(
        FlatParameterView parameters,
        Func<Tensor> lossClosure,
        nn.Module? model = null,
        HessianVectorProductOptions? options = null,
        TensorVectorSpace? space = null)
        : base(CheckSpace(parameters, space))
    {
        ArgumentNullException.ThrowIfNull(lossClosure);
        _view = parameters;
        CheckParametersRequireGrad();
        options ??= new HessianVectorProductOptions();

        Tensor? loss;
        using (torch.enable_grad())
        {
            var restore = model is null ? null : SetMode(model, options.ModelMode);
            try
            {
                loss = lossClosure();
            }
            finally
            {
                restore?.Invoke();
            }
        }

        CheckLoss(loss, nameof(lossClosure));
        _loss = loss.DetachFromDisposeScope();
        IList<Tensor> gradients;
        using (torch.enable_grad())
        {
            gradients = torch.autograd.grad(
                new[] { _loss },
                _view.Parameters.Cast<Tensor>().ToArray(),
                retain_graph: true,
                create_graph: true,
                allow_unused: true);
        }

        _gradients = new Tensor?[gradients.Count];
        for (int i = 0; i < gradients.Count; i++)
        {
            var g = gradients[i];
            if (g is null || g.IsInvalid)
            {
                _gradients[i] = null;
                continue;
            }

            _gradients[i] = g.DetachFromDisposeScope();
        }

        using var noGrad = torch.no_grad();
        Loss = _loss.ToDouble();
    }

    /// <inheritdoc/>
    public override bool IsSymmetric => true;

    /// <summary>The value of the probe loss at which the Hessian is taken (NaN or ±∞ when the forward pass diverged).</summary>
    public double Loss { get; }

    /// <summary>The monitored parameters.</summary>
    public FlatParameterView Parameters => _view;

    /// <summary>Writes the probe gradient <c>∇L(θ)</c> into <paramref name="destination"/> (a flat vector of the space).</summary>
    /// <param name="destination">The output vector.</param>
    public void CopyGradientTo(Tensor destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(destination);
        _view.Gather(_gradients, destination);
    }

    /// <summary>Frees the probe's loss and first-order graph. Applying the operator afterwards throws.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        for (int i = 0; i < _gradients.Length; i++)
        {
            _gradients[i]?.Dispose();
            _gradients[i] = null;
        }

        _loss.Dispose();
    }

    /// <inheritdoc/>
    protected override void ApplyCore(Tensor x, Tensor y)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckParametersRequireGrad();

        Tensor? inner = null;
        try
        {
            using (torch.enable_grad())
            {
                inner = InnerProduct(x);
                if (inner is null || !inner.requires_grad)
                {
                    // The gradient does not depend on θ: the Hessian is zero.
                    using var noGrad = torch.no_grad();
                    y.zero_();
                    return;
                }

                Differentiate(inner, y);
            }
        }
        finally
        {
            inner?.Dispose();
        }
    }

    /// <summary>⟨g, v⟩ = Σᵢ ⟨gᵢ, vᵢ⟩, one small dot per parameter (no concatenated copy of g is made); null when no gradient depends on θ.</summary>
    private Tensor? InnerProduct(Tensor x)
    {
        Tensor? inner = null;
        for (int i = 0; i < _gradients.Length; i++)
        {
            var g = _gradients[i];
            if (g is null || !g.requires_grad)
            {
                // No gradient, or one that is constant in θ: it contributes nothing to ∇⟨g, v⟩.
                continue;
            }

            using var flatG = g.reshape(-1);
            using var slice = x.narrow(0, _view.Offsets[i], _view.Lengths[i]);
            var term = flatG.dot(slice);
            if (inner is null)
            {
                inner = term;
            }
            else
            {
                var sum = inner.add(term);
                inner.Dispose();
                term.Dispose();
                inner = sum;
            }
        }

        return inner;
    }

    /// <summary><c>y ← ∇⟨g, v⟩ = H·v</c> (the first-order graph is retained for the next product).</summary>
    private void Differentiate(Tensor inner, Tensor y)
    {
        var products = torch.autograd.grad(
            new[] { inner },
            _view.Parameters.Cast<Tensor>().ToArray(),
            retain_graph: true,
            create_graph: false,
            allow_unused: true);
        try
        {
            _view.Gather(products.ToArray(), y);
        }
        finally
        {
            foreach (var product in products)
            {
                if (product is not null && !product.IsInvalid)
                {
                    product.Dispose();
                }
            }
        }
    }

    private static TensorVectorSpace CheckSpace(FlatParameterView parameters, TensorVectorSpace? space)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (space is null)
        {
            return parameters.CreateVectorSpace();
        }

        if (space.Dimension != parameters.Dimension || space.ScalarType != parameters.ScalarType
            || space.DeviceType != parameters.DeviceType || space.DeviceIndex != parameters.DeviceIndex)
        {
            throw new ArgumentException(
                $"space holds {space.ScalarType} vectors of length {space.Dimension} on {space.DeviceType}:{space.DeviceIndex}; the parameters need {parameters.ScalarType}, length {parameters.Dimension}, on {parameters.DeviceType}:{parameters.DeviceIndex}.",
                nameof(space));
        }

        return space;
    }

    private static void CheckLoss([System.Diagnostics.CodeAnalysis.NotNull] Tensor? loss, string parameterName)
    {
        if (loss is null || loss.IsInvalid)
        {
            throw new ArgumentException("The loss closure returned null or a disposed tensor.", parameterName);
        }

        if (loss.numel() != 1)
        {
            throw new ArgumentException($"The loss closure returned a tensor of shape [{string.Join(", ", loss.shape)}]; a one-element (scalar) loss is required.", parameterName);
        }

        if (loss.dtype != ScalarType.Float32 && loss.dtype != ScalarType.Float64 && loss.dtype != ScalarType.Float16 && loss.dtype != ScalarType.BFloat16)
        {
            throw new ArgumentException($"The loss has dtype {loss.dtype}; a floating-point loss is required.", parameterName);
        }

        if (!loss.requires_grad || loss.is_leaf)
        {
            throw new ArgumentException(
                "The loss has no grad_fn (it does not require grad or is a leaf): compute it from the model's parameters with gradients enabled, and do not detach it.",
                parameterName);
        }
    }

    private static Action? SetMode(nn.Module model, ProbeModelMode mode)
    {
        if (mode == ProbeModelMode.Unchanged)
        {
            return null;
        }

        // Remember every submodule's flag, so that a model whose parts were in different modes is restored exactly.
        var modules = new List<nn.Module> { model };
        modules.AddRange(model.modules());
        var flags = modules.Select(m => m.training).ToArray();
        model.train(mode == ProbeModelMode.Train);
        return () =>
        {
            // train(flag) recurses into children; repeat until every module has its own flag back, whatever the
            // order in which modules() lists parents and children.
            for (int pass = 0; pass < modules.Count; pass++)
            {
                bool changed = false;
                for (int i = 0; i < modules.Count; i++)
                {
                    if (modules[i].training != flags[i])
                    {
                        modules[i].train(flags[i]);
                        changed = true;
                    }
                }

                if (!changed)
                {
                    break;
                }
            }
        };
    }

    private void CheckParametersRequireGrad()
    {
        for (int i = 0; i < _view.Count; i++)
        {
            var parameter = _view.Parameters[i];
            if (parameter.IsInvalid)
            {
                throw new InvalidOperationException($"Parameter '{_view.Names[i]}' has been disposed.");
            }

            if (!parameter.requires_grad)
            {
                throw new InvalidOperationException(
                    $"Parameter '{_view.Names[i]}' no longer requires grad; rebuild the FlatParameterView after freezing or unfreezing parameters.");
            }
        }
    }
}
