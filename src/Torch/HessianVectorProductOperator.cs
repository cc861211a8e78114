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

/// <summary>How <see cref="HessianVectorProductOperator"/> applies the Hessian.</summary>
public enum HessianVectorProductMethod
{
    /// <summary>
    /// Double backward (the default): the first-order graph <c>g = ∇L</c> is built once with <c>create_graph</c>, and
    /// each product is <c>∇(gᵀv)</c> by one more backward through it, with <c>v</c> passed as <c>grad_outputs</c>. Exact
    /// to rounding; costs about two backward passes per product and holds the first-order graph for the whole probe.
    /// </summary>
    DoubleBackward,

    /// <summary>
    /// Forward difference of gradients: <c>Hv ≈ (∇L(θ + h·v̂) − ∇L(θ))·‖v‖/h</c> with <c>v̂ = v/‖v‖</c>, one extra gradient (a forward and a
    /// backward pass) per product and no retained graph, so it also serves models whose operations have no double
    /// backward. Truncation error O(h), rounding error O(ε/h) (float32: see the probe-cost benchmark). The loss must be
    /// deterministic: evaluate it in eval mode (<see cref="ProbeModelMode.Train"/> is rejected).
    /// </summary>
    ForwardDifference,

    /// <summary>
    /// Central difference of gradients: <c>Hv ≈ (∇L(θ + h·v̂) − ∇L(θ − h·v̂))·‖v‖/(2h)</c>, two gradients per product,
    /// truncation error O(h²). Otherwise as <see cref="ForwardDifference"/>.
    /// </summary>
    CentralDifference,
}

/// <summary>Options of <see cref="HessianVectorProductOperator"/>.</summary>
/// <param name="ModelMode">The model's mode while the loss is evaluated (restored afterwards); used only when a model is given.</param>
public sealed record HessianVectorProductOptions(ProbeModelMode ModelMode = ProbeModelMode.Eval)
{
    /// <summary>How products are computed. Default <see cref="HessianVectorProductMethod.DoubleBackward"/>.</summary>
    public HessianVectorProductMethod Method { get; init; } = HessianVectorProductMethod.DoubleBackward;

    /// <summary>
    /// Step <c>h</c> of the finite-difference methods: the parameters move by <c>h</c> along the unit direction
    /// <c>v/‖v‖</c>. 0 (the default) chooses √ε of the parameters' dtype for
    /// <see cref="HessianVectorProductMethod.ForwardDifference"/> and ∛ε for
    /// <see cref="HessianVectorProductMethod.CentralDifference"/> (float32: 3.5e-4 and 4.9e-3), the steps that balance
    /// truncation and rounding error for parameters of order one; the probe-cost benchmark measures the accuracy at
    /// several steps. Must be below 1. Ignored by <see cref="HessianVectorProductMethod.DoubleBackward"/>.
    /// </summary>
    public double FiniteDifferenceStep { get; init; }
}

/// <summary>
/// The Hessian <c>H = ∇²L(θ)</c> of a loss on a fixed probe batch, applied by double backward (Pearlmutter's trick
/// through autograd, the default) or by finite differences of gradients (<see cref="HessianVectorProductOptions.Method"/>).
/// Double backward builds the first-order graph <c>g = ∇L</c> ONCE, in the constructor, with <c>create_graph</c> and
/// <c>retain_graph</c>; each application computes <c>Hv = ∇(gᵀv)</c> with <c>torch.autograd.grad(g, θ,
/// grad_outputs: v, retain_graph: true)</c>, about two backward passes.
/// </summary>
/// <remarks>
/// <para>Lifetime: the operator owns the probe's loss and first-order graph; they are freed by <see cref="Dispose"/>.
/// Use it within one probe, before the next optimizer step: changing the parameters in place (an optimizer step,
/// <c>load_state_dict</c>) invalidates the graph.</para>
/// <para>libtorch errors inside <c>autograd.grad</c> are not always turned into .NET exceptions: some end the process
/// (a differentiated parameter that no longer requires grad does). So everything that could make it fail is checked
/// in managed code: the loss is a one-element floating-point tensor with a <c>grad_fn</c> and the graph is always
/// retained (both checked once, in the constructor), and at each application every parameter is still alive and
/// requires grad (a flag read per parameter, nothing else) and <c>v</c> has the parameters' dtype and device (checked
/// by the vector space). Parameters the loss does not depend on get zero gradient and zero Hessian rows
/// (<c>allow_unused</c>).</para>
/// <para>Gradients come from <c>torch.autograd.grad</c>, never from <c>Parameter.grad</c>, which the training loop
/// owns. The finite-difference methods move the parameters in place under <c>no_grad</c> and always put back the exact
/// values they had (a copy taken in the constructor), also when a gradient evaluation throws. Moving them bumps their
/// version counters, so any autograd graph that saved them (another operator's first-order graph, a training step's
/// forward pass not yet differentiated) can no longer be differentiated: libtorch then ends the process. Apply a
/// finite-difference operator only while no such graph is alive.</para>
/// <para>Device memory (parameter-sized vectors <c>n</c>): double backward holds the first-order graph (about what one
/// training step holds) plus, per application, the per-parameter products (one vector, copied into the output and
/// freed before <see cref="LinearOperator{TVec}.Apply"/> returns). The finite-difference methods hold no graph between
/// applications but keep <c>θ</c> and <c>∇L(θ)</c> (two vectors) and use, per application, one perturbation vector and
/// one gradient besides what a training step's forward and backward pass take.</para>
/// </remarks>
public sealed class HessianVectorProductOperator : LinearOperator<Tensor>, IDisposable
{
    private readonly FlatParameterView _view;
    private readonly TensorVectorSpace _space;
    private readonly Tensor[] _parameters;
    private readonly HessianVectorProductMethod _method;

    // Double backward: the loss and the gradients that depend on θ (with their parameter indices).
    private readonly Tensor? _loss;
    private readonly Tensor[] _gradientsWithGraph = [];
    private readonly int[] _graphIndices = [];
    private readonly Tensor?[] _gradients;

    // Finite differences: θ and ∇L(θ), flat, the step h, and what the closure needs.
    private readonly Tensor? _theta;
    private readonly Tensor? _gradientAtTheta;
    private readonly double _step;
    private readonly Func<Tensor>? _lossClosure;
    private readonly nn.Module? _model;
    private readonly ProbeModelMode _modelMode;
    private bool _disposed;

    /// <summary>Evaluates the probe loss and builds its first-order graph (or, for finite differences, its gradient).</summary>
    /// <param name="parameters">The monitored parameters.</param>
    /// <param name="lossClosure">Computes the loss on the fixed probe batch (forward pass only; no <c>backward</c>, no <c>zero_grad</c>).</param>
    /// <param name="model">The model, to set its mode during the forward pass (see <paramref name="options"/>); null leaves the mode alone.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="space">The vector space to act on; null creates one from <paramref name="parameters"/>.</param>
    /// <exception cref="ArgumentException">The loss is not a scalar with a <c>grad_fn</c>, a parameter does not require grad, <paramref name="space"/> does not match <paramref name="parameters"/>, or a finite-difference method was asked for with <see cref="ProbeModelMode.Train"/> or an invalid step.</exception>
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
        _space = (TensorVectorSpace)Space;
        _parameters = _view.Parameters.Cast<Tensor>().ToArray();
        CheckParametersRequireGrad();
        options ??= new HessianVectorProductOptions();
        _method = CheckOptions(options, model);
        _gradients = new Tensor?[_parameters.Length];
        if (_method == HessianVectorProductMethod.DoubleBackward)
        {
            var loss = EvaluateLoss(lossClosure, model, options.ModelMode);
            _loss = loss.DetachFromDisposeScope();
            IList<Tensor> gradients;
            using (torch.enable_grad())
            {
                gradients = torch.autograd.grad(new[] { _loss }, _parameters, retain_graph: true, create_graph: true, allow_unused: true);
            }

            var withGraph = new List<Tensor>();
            var indices = new List<int>();
            for (int i = 0; i < gradients.Count; i++)
            {
                var g = gradients[i];
                if (g is null || g.IsInvalid)
                {
                    continue;
                }

                _gradients[i] = g.DetachFromDisposeScope();
                if (g.requires_grad)
                {
                    // Only gradients that depend on θ contribute to ∇(gᵀv); a constant one (a linear term) has zero Hessian.
                    withGraph.Add(g);
                    indices.Add(i);
                }
            }

            _gradientsWithGraph = [.. withGraph];
            _graphIndices = [.. indices];
            using var noGrad = torch.no_grad();
            Loss = _space.ReadScalar(_loss);
            return;
        }

        _lossClosure = lossClosure;
        _model = model;
        _modelMode = options.ModelMode;
        _theta = _space.CreateVector().DetachFromDisposeScope();
        _view.CopyParametersTo(_theta);
        _gradientAtTheta = _space.CreateVector().DetachFromDisposeScope();
        Loss = GradientAt(_gradientAtTheta);
        _step = options.FiniteDifferenceStep > 0
            ? options.FiniteDifferenceStep
            : Math.Pow(Epsilon(_view.ScalarType), _method == HessianVectorProductMethod.ForwardDifference ? 1.0 / 2 : 1.0 / 3);
    }

    /// <inheritdoc/>
    public override bool IsSymmetric => true;

    /// <inheritdoc/>
    /// <remarks>True for the finite-difference methods (their products are good to about 1e-3–1e-1 in float32).</remarks>
    public override bool IsInexact => _method != HessianVectorProductMethod.DoubleBackward;

    /// <summary>The value of the probe loss at which the Hessian is taken (NaN or ±∞ when the forward pass diverged).</summary>
    public double Loss { get; }

    /// <summary>The monitored parameters.</summary>
    public FlatParameterView Parameters => _view;

    /// <summary>How products are computed.</summary>
    public HessianVectorProductMethod Method => _method;

    /// <summary>The finite-difference step <c>h</c> along the unit direction (0 for double backward).</summary>
    public double FiniteDifferenceStep => _step;

    /// <summary>Writes the probe gradient <c>∇L(θ)</c> into <paramref name="destination"/> (a flat vector of the space).</summary>
    /// <param name="destination">The output vector.</param>
    public void CopyGradientTo(Tensor destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(destination);
        if (_gradientAtTheta is not null)
        {
            _space.Copy(_gradientAtTheta, destination);
            return;
        }

        _view.Gather(_gradients, destination);
    }

    /// <summary>Frees the probe's loss and first-order graph (or the saved parameters and gradient). Applying the operator afterwards throws.</summary>
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

        _loss?.Dispose();
        _theta?.Dispose();
        _gradientAtTheta?.Dispose();
    }

    /// <inheritdoc/>
    protected override void ApplyCore(Tensor x, Tensor y)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckParametersRequireGrad();
        if (_method != HessianVectorProductMethod.DoubleBackward)
        {
            ApplyFiniteDifference(x, y);
            return;
        }

        if (_gradientsWithGraph.Length == 0)
        {
            // The gradient does not depend on θ: the Hessian is zero.
            using var noGrad = torch.no_grad();
            y.zero_();
            return;
        }

        using var scope = torch.NewDisposeScope();
        var directions = new Tensor[_graphIndices.Length];
        for (int k = 0; k < directions.Length; k++)
        {
            int i = _graphIndices[k];
            directions[k] = x.narrow(0, _view.Offsets[i], _view.Lengths[i]).view(_view.GetShapeView(i));
        }

        IList<Tensor> products;
        using (torch.enable_grad())
        {
            products = torch.autograd.grad(_gradientsWithGraph, _parameters, grad_outputs: directions, retain_graph: true, create_graph: false, allow_unused: true);
        }

        _view.Gather(products.ToArray(), y);
    }

    private static HessianVectorProductMethod CheckOptions(HessianVectorProductOptions options, nn.Module? model)
    {
        var method = options.Method;
        if (method is not (HessianVectorProductMethod.DoubleBackward or HessianVectorProductMethod.ForwardDifference or HessianVectorProductMethod.CentralDifference))
        {
            throw new ArgumentException($"options.Method is {method}, which is not a defined value.", nameof(options));
        }

        if (!double.IsFinite(options.FiniteDifferenceStep) || options.FiniteDifferenceStep < 0 || options.FiniteDifferenceStep >= 1)
        {
            throw new ArgumentException($"options.FiniteDifferenceStep is {options.FiniteDifferenceStep}; allowed: 0 (automatic) or a step in (0, 1).", nameof(options));
        }

        if (method != HessianVectorProductMethod.DoubleBackward && model is not null && options.ModelMode == ProbeModelMode.Train)
        {
            throw new ArgumentException(
                $"options.Method is {method}, which evaluates the loss once per product; with ModelMode Train a dropout layer would draw a new mask each time and batch norm would update its statistics. Use ModelMode Eval (the default) or Unchanged on a deterministic model.",
                nameof(options));
        }

        return method;
    }

    private static double Epsilon(ScalarType dtype) => dtype == ScalarType.Float32 ? 1.1920928955078125e-7 : 2.220446049250313e-16;

    private static Tensor EvaluateLoss(Func<Tensor> lossClosure, nn.Module? model, ProbeModelMode mode)
    {
        Tensor? loss;
        using (torch.enable_grad())
        {
            var restore = model is null ? null : SetMode(model, mode);
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
        return loss;
    }

    /// <summary>Evaluates the loss at the current parameters and writes its gradient into <paramref name="destination"/>; returns the loss.</summary>
    private double GradientAt(Tensor destination)
    {
        using var scope = torch.NewDisposeScope();
        var loss = EvaluateLoss(_lossClosure!, _model, _modelMode);
        IList<Tensor> gradients;
        using (torch.enable_grad())
        {
            gradients = torch.autograd.grad(new[] { loss }, _parameters, retain_graph: false, create_graph: false, allow_unused: true);
        }

        _view.Gather(gradients.ToArray(), destination);
        using var noGrad = torch.no_grad();
        return _space.ReadScalar(loss);
    }

    /// <summary>
    /// <c>y ← (∇L(θ + s·x) − ∇L(θ))/s</c> (forward) or <c>(∇L(θ + s·x) − ∇L(θ − s·x))/(2s)</c> (central), with
    /// <c>s = h/‖x‖</c> kept on the device (no host read); the parameters are restored exactly afterwards.
    /// </summary>
    private void ApplyFiniteDifference(Tensor x, Tensor y)
    {
        using var scope = torch.NewDisposeScope();
        using var tiny = 1e-30.ToScalar();
        using var step = _step.ToScalar();
        using var half = 0.5.ToScalar();
        Tensor scale;
        Tensor perturbed;
        using (torch.no_grad())
        {
            // s = h / max(‖x‖, tiny): a zero x gives a zero product.
            scale = x.norm().clamp_min(tiny).reciprocal().mul_(step);
            perturbed = x.mul(scale).PlusInPlace(_theta!);
        }

        try
        {
            _view.CopyToParameters(perturbed);
            GradientAt(y);
            using var noGrad = torch.no_grad();
            if (_method == HessianVectorProductMethod.ForwardDifference)
            {
                y.sub_(_gradientAtTheta!).div_(scale);
                return;
            }

            perturbed.sub_(_theta!).neg_().PlusInPlace(_theta!);
            _view.CopyToParameters(perturbed);
            GradientAt(perturbed);
            y.sub_(perturbed).div_(scale).mul_(half);
        }
        finally
        {
            _view.CopyToParameters(_theta!);
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
