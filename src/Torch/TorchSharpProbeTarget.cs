using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Probing;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch;

/// <summary>Options of a <see cref="TorchSharpProbeTarget"/>.</summary>
public sealed record TorchSharpProbeOptions
{
    /// <summary>
    /// The model's mode while the probe loss is evaluated (restored afterwards). Default <see cref="ProbeModelMode.Eval"/>:
    /// dropout off and batch-norm running statistics used and left untouched, so a probe is deterministic, draws nothing
    /// from libtorch's global random generator and leaves no trace in the model. <see cref="ProbeModelMode.Train"/>
    /// measures the Hessian exactly as the training step sees it, but a dropout layer then draws from the global
    /// generator and batch norm updates its running statistics once per probe, so the training trajectory is no longer
    /// the one without the monitor.
    /// </summary>
    public ProbeModelMode ModelMode { get; init; } = ProbeModelMode.Eval;

    /// <summary>
    /// Which weight parameters (by <c>named_parameters()</c> name) are tracked for their top singular value; null (the
    /// default) tracks every monitored parameter with two or more dimensions.
    /// </summary>
    public Func<string, bool>? IncludeWeight { get; init; }

    /// <summary>
    /// Whether the monitor may set the optimizer's learning rates (needed for
    /// <see cref="StabilityMonitorOptions.Backoff"/>). Default true; false hands the monitor no learning-rate controller.
    /// </summary>
    public bool ControlLearningRate { get; init; } = true;

    /// <summary>
    /// How Hessian-vector products are computed. Default <see cref="HessianVectorProductMethod.DoubleBackward"/> (exact,
    /// holds the probe batch's first-order graph for the whole probe). <see cref="HessianVectorProductMethod.ForwardDifference"/>
    /// costs one gradient per product, holds no graph and works for models whose operations have no double backward;
    /// it needs <see cref="ProbeModelMode.Eval"/> or <see cref="ProbeModelMode.Unchanged"/> on a deterministic model, and
    /// it is less accurate in float32 (see the probe-cost benchmark). It moves the parameters in place during the probe
    /// (and restores them exactly), which invalidates any autograd graph over them: call
    /// <see cref="StabilityMonitor.OnStep"/> after <c>optimizer.step()</c>, never between a forward pass and its
    /// <c>backward()</c>.
    /// </summary>
    public HessianVectorProductMethod HessianVectorProducts { get; init; } = HessianVectorProductMethod.DoubleBackward;

    /// <summary>Finite-difference step (<see cref="HessianVectorProductOptions.FiniteDifferenceStep"/>); 0 (default) chooses it from the dtype.</summary>
    public double FiniteDifferenceStep { get; init; }
}

/// <summary>Builders of probe-loss closures.</summary>
public static class ProbeLoss
{
    /// <summary>
    /// The probe loss on the first <paramref name="rows"/> rows of a batch held aside for probing (views of
    /// <paramref name="inputs"/> and <paramref name="targets"/>, no copies): a sub-batch makes every Hessian-vector
    /// product and the first-order graph about proportionally cheaper. The same rows are used by every probe, so
    /// successive probes still measure one function, but not the same one as the whole batch: the top eigenvalue of a
    /// small batch's loss is larger (sampling noise adds curvature; 3.7× on a quarter of a 256-row batch in the
    /// probe-cost benchmark), so edge rules read it high. Choose the probe batch size once, with that in mind.
    /// </summary>
    /// <param name="model">The model (its <c>forward</c> is called on the sub-batch).</param>
    /// <param name="inputs">The held probe batch, rows first; the caller keeps it alive for the monitor's lifetime.</param>
    /// <param name="targets">The matching targets, rows first.</param>
    /// <param name="loss">The loss of (predictions, targets), for example <c>(p, t) =&gt; nn.functional.cross_entropy(p, t)</c>.</param>
    /// <param name="rows">How many leading rows to use, in <c>[1, inputs.shape[0]]</c>.</param>
    /// <returns>The closure to hand to <see cref="TorchSharpProbeTarget"/> or the attach extensions.</returns>
    /// <exception cref="ArgumentException">The batch is empty, its row counts differ, or <paramref name="rows"/> is out of range.</exception>
    public static Func<Tensor> OnFirstRows(nn.Module<Tensor, Tensor> model, Tensor inputs, Tensor targets, Func<Tensor, Tensor, Tensor> loss, long rows)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(loss);
        if (inputs.dim() == 0 || targets.dim() == 0 || inputs.shape[0] != targets.shape[0])
        {
            throw new ArgumentException($"inputs ([{string.Join(", ", inputs.shape)}]) and targets ([{string.Join(", ", targets.shape)}]) must have the same number of rows (dimension 0).", nameof(targets));
        }

        if (rows < 1 || rows > inputs.shape[0])
        {
            throw new ArgumentOutOfRangeException(nameof(rows), rows, $"rows must be in [1, {inputs.shape[0]}] (the rows of the probe batch).");
        }

        return () =>
        {
            using var x = inputs.narrow(0, 0, rows);
            using var y = targets.narrow(0, 0, rows);
            using var prediction = model.forward(x);
            return loss(prediction, y);
        };
    }
}

/// <summary>
/// A TorchSharp model and optimizer seen through the monitor's framework-neutral probe contracts: each probe opens
/// one <see cref="TensorProbeScope"/>, evaluates the user's probe loss once, and exposes its Hessian (by double
/// backward, <see cref="HessianVectorProductOperator"/>), the optimizer's state (<see cref="OptimizerStateReader"/>)
/// and the weight matrices (<see cref="TensorWeightMatrix"/>).
/// </summary>
/// <remarks>
/// <para><b>Probe batch.</b> <c>probeLoss</c> must compute the loss on ONE FIXED batch chosen by the user (for example
/// a batch held aside before training, or the first training batch kept on the device): successive probes then measure
/// the same function at moving parameters, which is what makes trends, baselines and warm starts meaningful. A few
/// hundred samples give a representative top curvature for most models. The closure only runs the forward pass:
/// no <c>backward()</c>, no <c>zero_grad()</c>, no optimizer call.</para>
/// <para><b>Non-interference.</b> A probe never calls <c>backward()</c>, never reads or writes <c>Parameter.grad</c>
/// and never writes optimizer state: gradients come from <c>torch.autograd.grad</c>, the optimizer state is read
/// through <c>state_dict()</c> and copied, random start vectors come from a private seeded generator, and the model's
/// train/eval flags are restored. With <see cref="TorchSharpProbeOptions.ModelMode"/> left at Eval and backoff off,
/// the training trajectory is bit-identical to the one without the monitor.</para>
/// <para><b>Device memory.</b> During a probe: the first-order autograd graph of the probe batch (about what one
/// training step on that batch holds; none with finite-difference products, which instead keep θ and ∇L(θ)), for an
/// optimizer with state one or two flat copies of it, and beyond those at most <c>k + 4</c> parameter-sized vectors
/// with <c>k = KrylovDimension + 1</c> and the default one warm-start vector (<c>k + 3 + TopModes</c> in general; see
/// <see cref="TensorVectorSpace"/> for the itemized bound). The basis grows in blocks as it is used, so a warm probe
/// that stops early holds far less. Between probes: only the warm-start basis
/// (<see cref="StabilityMonitorOptions.TopModes"/> parameter-sized vectors), owned by the monitor and freed when it is
/// disposed. Everything a probe creates is freed when the probe ends.</para>
/// <para><b>Big models.</b> A smaller probe batch (<see cref="ProbeLoss.OnFirstRows"/>) makes every product and the
/// graph cheaper; finite-difference products (<see cref="TorchSharpProbeOptions.HessianVectorProducts"/>) drop the
/// graph. The probe timeout scales with the measured cost per product by default
/// (<see cref="StabilityMonitorOptions.ProbeTimeout"/>).</para>
/// <para><b>Threading.</b> Probes run on the thread that calls <see cref="StabilityMonitor.OnStep"/> (dispose scopes
/// are per thread); that must be the training loop's thread, between optimizer steps.</para>
/// </remarks>
public sealed class TorchSharpProbeTarget : IProbeTarget<Tensor>, IStepSensor
{
    private readonly Func<Tensor> _probeLoss;
    private readonly TorchSharpProbeOptions _options;
    private FlatParameterView _view;
    private TensorVectorSpace _space;

    /// <summary>Creates the target.</summary>
    /// <param name="model">The model being trained; its trainable parameters (<c>requires_grad</c>) are monitored.</param>
    /// <param name="optimizer">The optimizer driving them (it is only read, and its learning rates set on backoff).</param>
    /// <param name="probeLoss">Computes the loss on the fixed probe batch (forward pass only).</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <exception cref="ArgumentException">The model has no trainable parameter, or its parameters mix dtypes or devices.</exception>
    public TorchSharpProbeTarget(nn.Module model, optim.Optimizer optimizer, Func<Tensor> probeLoss, TorchSharpProbeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(probeLoss);
        Model = model;
        Optimizer = optimizer;
        _probeLoss = probeLoss;
        _options = options ?? new TorchSharpProbeOptions();
        _view = FlatParameterView.FromModule(model);
        _space = _view.CreateVectorSpace();
        OptimizerName = NameOf(optimizer);
        LearningRates = _options.ControlLearningRate ? new ParamGroupLearningRateController(optimizer) : null;
    }

    /// <summary>The model.</summary>
    public nn.Module Model { get; }

    /// <summary>The optimizer.</summary>
    public optim.Optimizer Optimizer { get; }

    /// <summary>The monitored parameters as of the latest probe (rebuilt at each probe, so freezing layers is followed).</summary>
    public FlatParameterView Parameters => _view;

    /// <inheritdoc/>
    /// <remarks>"sgd", "adam", "adamw", "rmsprop", or the optimizer's type name in lower case.</remarks>
    public string OptimizerName { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> SensorIndicators => Indicators.StepSensor;

    /// <summary>Reads the optimizer-state statistics (<see cref="OptimizerStepStatisticsReader"/>) into <paramref name="readings"/>.</summary>
    /// <param name="trainingStep">The step just taken.</param>
    /// <param name="readings">Where the readings go.</param>
    /// <returns>False when the optimizer holds no state yet or is not supported.</returns>
    public bool TryReadStep(long trainingStep, IDictionary<string, double> readings)
    {
        ArgumentNullException.ThrowIfNull(readings);
        if (OptimizerStepStatisticsReader.TryRead(Optimizer, out _) is not { } s)
        {
            return false;
        }

        readings[Indicators.UpdateNormOverLearningRate] = s.UpdateNormOverLearningRate;
        readings[Indicators.UpdateToWeight] = s.UpdateToWeight;
        readings[Indicators.MaxLayerUpdateToWeight] = s.MaxLayerUpdateToWeight;
        if (!double.IsNaN(s.EpsilonDominatedShare))
        {
            readings[Indicators.EpsilonDominatedShare] = s.EpsilonDominatedShare;
            readings[Indicators.MaxLayerEpsilonDominatedShare] = s.MaxLayerEpsilonDominatedShare;
            readings[Indicators.SaturatedUpdateShare] = s.SaturatedShare;
            readings[Indicators.MaxNormalizedUpdate] = s.MaxNormalizedUpdate;
        }

        return true;
    }

    /// <inheritdoc/>
    public ILearningRateController? LearningRates { get; }

    /// <inheritdoc/>
    public IProbeContext<Tensor> BeginProbe(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var view = FlatParameterView.FromModule(Model);
        if (view.Dimension != _space.Dimension || view.ScalarType != _space.ScalarType
            || view.DeviceType != _space.DeviceType || view.DeviceIndex != _space.DeviceIndex)
        {
            // Parameters were frozen, unfrozen or moved: a new space (the monitor then drops its warm start).
            _space = view.CreateVectorSpace();
        }

        _view = view;
        var scope = TensorProbeScope.Begin();
        HessianVectorProductOperator? hessian = null;
        try
        {
            var hvpOptions = new HessianVectorProductOptions(_options.ModelMode)
            {
                Method = _options.HessianVectorProducts,
                FiniteDifferenceStep = _options.FiniteDifferenceStep,
            };
            hessian = new HessianVectorProductOperator(view, _probeLoss, Model, hvpOptions, _space);
            cancellationToken.ThrowIfCancellationRequested();
            var snapshot = OptimizerStateReader.TryRead(Optimizer, view, out string? reason);
            return new Context(scope, hessian, snapshot, reason, view, _options.IncludeWeight);
        }
        catch
        {
            hessian?.Dispose();
            scope.Dispose();
            throw;
        }
    }

    private static string NameOf(optim.Optimizer optimizer) => optimizer switch
    {
        SGD => "sgd",
        Adam => "adam",
        AdamW => "adamw",
        RMSProp => "rmsprop",
        _ => new string(optimizer.GetType().Name.Select(char.ToLowerInvariant).ToArray()),
    };

    /// <summary>One probe: owns the probe's dispose scope, the Hessian operator and the weight views.</summary>
    private sealed class Context : IProbeContext<Tensor>
    {
        private readonly TensorProbeScope _scope;
        private readonly HessianVectorProductOperator _hessian;
        private readonly FlatParameterView _view;
        private readonly Func<string, bool>? _includeWeight;
        private List<TensorWeightMatrix>? _weights;
        private bool _disposed;

        public Context(TensorProbeScope scope, HessianVectorProductOperator hessian, OptimizerSnapshot<Tensor>? snapshot, string? reason, FlatParameterView view, Func<string, bool>? includeWeight)
        {
            _scope = scope;
            _hessian = hessian;
            Optimizer = snapshot;
            OptimizerUnavailableReason = snapshot is null ? reason : null;
            _view = view;
            _includeWeight = includeWeight;
        }

        public LinearOperator<Tensor> Hessian => _hessian;

        public OptimizerSnapshot<Tensor>? Optimizer { get; }

        public string? OptimizerUnavailableReason { get; }

        public IReadOnlyList<IWeightMatrix> Weights
        {
            get
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_weights is null)
                {
                    _weights = [];
                    for (int i = 0; i < _view.Count; i++)
                    {
                        var parameter = _view.Parameters[i];
                        if (parameter.dim() >= 2 && (_includeWeight is null || _includeWeight(_view.Names[i])))
                        {
                            _weights.Add(new TensorWeightMatrix(_view.Names[i], parameter));
                        }
                    }
                }

                return _weights;
            }
        }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            try
            {
                foreach (var weight in _weights ?? [])
                {
                    weight.Dispose();
                }

                _hessian.Dispose();
            }
            finally
            {
                // Frees every tensor the probe created (Krylov vectors, autograd temporaries, state copies).
                _scope.Dispose();
            }
        }
    }
}
