using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Probing;
using TorchSharp;
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

    /// <summary>
    /// Forward hooks on the model's output logits and attention scores (<see cref="Torch.ForwardLogitHooks"/>) for the
    /// monitor's step sensor to read; null (the default) reads none. The monitor then arms them only for the training
    /// forward of a step it reads (every <see cref="StabilityMonitorOptions.StepSensorInterval"/> steps, when the overhead
    /// budget can pay), charges the time spent inside them to its budget, and reports
    /// <see cref="Indicators.AttentionLogitMax"/>, <see cref="Indicators.AttentionEntropyMin"/>,
    /// <see cref="Indicators.OutputLogPartition"/> and <see cref="Indicators.OutputLogitMaxAbs"/>, which the default rule
    /// <see cref="Rules.DefaultRules.AttentionEntropyCollapse"/> reads. The caller creates the hooks (naming the attention
    /// probe points) and disposes them after the monitor; the training forward must call the model with <c>call</c>.
    /// </summary>
    public ForwardLogitHooks? ForwardLogits { get; init; }

    /// <summary>
    /// Opt-in: the loss of the current step's training batch at the model's current parameters (a forward pass; the
    /// monitor calls it under <c>no_grad</c> after the update, on the steps its step sensor reads). Capture the loop's
    /// batch variables, e.g. <c>() =&gt; criterion(model.forward(x), y)</c> with <c>x</c>, <c>y</c> the batch of the
    /// step, and keep that batch alive until <see cref="StabilityMonitor.OnStep"/> returns. With it the step sensor
    /// reports <see cref="Indicators.BatchCurvatureToEdge"/> and its average over reads, which the opt-in rule
    /// <see cref="Rules.DefaultRules.BatchCurvatureRise"/> reads (SGD, Adam and AdamW). Each read costs this forward
    /// pass and a copy of the parameters taken a step ahead, charged to the overhead budget. The step's gradients must
    /// still be in the parameters' <c>grad</c> when <see cref="StabilityMonitor.OnStep"/> runs (call
    /// <c>zero_grad()</c> before the next backward, not right after <c>step()</c>), and the model must compute the
    /// same function on both passes (no dropout active). Null (the default): none of this.
    /// </summary>
    public Func<Tensor>? BatchLoss { get; init; }
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
/// optimizer with state one or two flat copies of it, and beyond those at most <c>k + 2</c> parameter-sized vectors
/// for SGD and <c>k + 4</c> for Adam and RMSprop with <c>k = KrylovDimension + 1</c> and the default
/// <see cref="StabilityMonitorOptions.TopModes"/> of 1 (see <see cref="TensorVectorSpace"/> for the itemized bound). The basis grows in blocks as it is used, so a warm probe
/// that stops early holds far less. Between probes: only the warm-start basis
/// (<see cref="StabilityMonitorOptions.TopModes"/> parameter-sized vectors), owned by the monitor and freed when it is
/// disposed. Everything a probe creates is freed when the probe ends.</para>
/// <para><b>Big models.</b> A smaller probe batch (<see cref="ProbeLoss.OnFirstRows"/>) makes every product and the
/// graph cheaper; finite-difference products (<see cref="TorchSharpProbeOptions.HessianVectorProducts"/>) drop the
/// graph. The probe timeout scales with the measured cost per product by default
/// (<see cref="StabilityMonitorOptions.ProbeTimeout"/>).</para>
/// <para><b>Threading.</b> Probes run on the thread that calls <see cref="StabilityMonitor.OnStep"/> (dispose scopes
/// are per thread); that must be the training loop's thread, between optimizer steps.</para>
/// <para><b>What fails a probe, with its reason.</b> The probe loss is not finite, or its gradient is not finite or is
/// zero with respect to every monitored parameter (it does not depend on them: computed from a teacher or EMA copy, or
/// through a detached tensor); the optimizer holds disposed parameters (the model was moved to another dtype or device,
/// which replaces its parameters), has no state for its parameters (it was disposed), or trains none of the monitored
/// parameters (it was replaced). The last three call for
/// <see cref="SpectralMonitorTorchSharpExtensions.RebindSpectralMonitor"/> with the optimizer and model now in use.
/// These failures are <see cref="ProbeTargetException"/>s: the monitor logs the reason once.</para>
/// <para><b>Timeout.</b> The probe's token is checked before the probe loss is evaluated, right after it returns
/// (before the first-order backward), after the optimizer state is read, and before every Hessian-vector product. A
/// single call is never interrupted: a slow probe-loss closure, the first-order backward, one Hessian-vector product.</para>
/// </remarks>
public sealed class TorchSharpProbeTarget : IProbeTarget<Tensor>, IStepSensor
{
    private readonly Func<Tensor> _probeLoss;
    private readonly TorchSharpProbeOptions _options;
    private FlatParameterView _view;
    private TensorVectorSpace _space;
    private readonly ForwardLogitHooks? _hooks;
    private readonly BatchCurvatureReader? _curvature;
    private TimeSpan _hookTime;

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
        _hooks = _options.ForwardLogits;
        _hooks?.Disarm();
        _curvature = _options.BatchLoss is { } batchLoss ? new BatchCurvatureReader(batchLoss) : null;
        _hookTime = _hooks?.CaptureTime ?? TimeSpan.Zero;
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

    /// <summary>
    /// Reads the optimizer-state statistics (<see cref="OptimizerStepStatisticsReader"/>) and, with
    /// <see cref="TorchSharpProbeOptions.ForwardLogits"/>, the forward hooks' statistics of the step's training forward
    /// into <paramref name="readings"/>; the hooks are disarmed until the next <see cref="PrepareRead"/>.
    /// </summary>
    /// <param name="trainingStep">The step just taken.</param>
    /// <param name="readings">Where the readings go.</param>
    /// <returns>False when neither gave anything: the optimizer holds no state yet or is not supported, and no hook fired.</returns>
    public bool TryReadStep(long trainingStep, IDictionary<string, double> readings) => TryReadStep(trainingStep, double.NaN, readings);

    /// <summary>
    /// Reads what <see cref="TryReadStep(long, IDictionary{string, double})"/> reads and, with
    /// <see cref="TorchSharpProbeOptions.BatchLoss"/> and a read prepared a step ahead, the curvature of the step's batch
    /// along its update (<see cref="Indicators.BatchCurvatureToEdge"/>, from <paramref name="loss"/>, the batch loss
    /// before the update, and the closure's loss after it).
    /// </summary>
    /// <param name="trainingStep">The step just taken.</param>
    /// <param name="loss">The step's training loss (NaN: no curvature reading).</param>
    /// <param name="readings">Where the readings go.</param>
    /// <returns>False when nothing was read.</returns>
    public bool TryReadStep(long trainingStep, double loss, IDictionary<string, double> readings)
    {
        ArgumentNullException.ThrowIfNull(readings);
        bool read = ReadForwardLogits(readings);
        read |= _curvature?.TryRead(Optimizer, loss, readings) == true;
        if (OptimizerStepStatisticsReader.TryRead(Optimizer, out _) is not { } s)
        {
            return read;
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

    /// <summary>
    /// True with <see cref="TorchSharpProbeOptions.ForwardLogits"/> or <see cref="TorchSharpProbeOptions.BatchLoss"/>: the
    /// hooks are armed, and the parameters copied, a step ahead of a read.
    /// </summary>
    public bool CapturesTrainingForward => _hooks is not null || _curvature is not null;

    /// <summary>
    /// Arms the forward hooks (<see cref="TorchSharpProbeOptions.ForwardLogits"/>) for the next training forward, copies
    /// the parameters before the next update (<see cref="TorchSharpProbeOptions.BatchLoss"/>), and
    /// restarts the count of <see cref="TakeOutsideSeconds"/> (what the hooks took from a probe's forward before it is
    /// inside the probe's time).
    /// </summary>
    public void PrepareRead()
    {
        if (_hooks is not null)
        {
            _hooks.Arm();
            _hookTime = _hooks.CaptureTime;
        }

        _curvature?.Prepare(Optimizer);
    }

    /// <summary>The time spent inside the forward hooks since the previous call or <see cref="PrepareRead"/>.</summary>
    /// <returns>Seconds.</returns>
    public double TakeOutsideSeconds()
    {
        if (_hooks is null)
        {
            return 0;
        }

        var total = _hooks.CaptureTime;
        double seconds = (total - _hookTime).TotalSeconds;
        _hookTime = total;
        return seconds;
    }

    // A statistic is reported only where its hook fired (the others read NaN: not hooked, or disarmed on that forward).
    private bool ReadForwardLogits(IDictionary<string, double> readings)
    {
        if (_hooks is null)
        {
            return false;
        }

        var logits = _hooks.TryRead();
        _hooks.Disarm(); // until the monitor prepares the next read
        if (logits is null)
        {
            return false;
        }

        bool any = false;
        void Put(string indicator, double value)
        {
            if (!double.IsNaN(value))
            {
                readings[indicator] = value;
                any = true;
            }
        }

        Put(Indicators.AttentionLogitMax, logits.MaxAttentionLogit);
        Put(Indicators.AttentionEntropyMin, logits.MinAttentionEntropy);
        Put(Indicators.OutputLogPartition, logits.OutputLogPartition);
        Put(Indicators.OutputLogitMaxAbs, logits.MaxAbsOutputLogit);
        return any;
    }

    /// <inheritdoc/>
    public ILearningRateController? LearningRates { get; }

    /// <inheritdoc/>
    public IProbeContext<Tensor> BeginProbe(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var view = FlatParameterView.FromModule(Model);
        CheckOptimizerTrains(view);
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
            Tensor ProbeLoss()
            {
                // The closure is one call nothing can interrupt; the timeout is seen as soon as it returns, before the
                // first-order backward.
                var loss = _probeLoss();
                if (cancellationToken.IsCancellationRequested)
                {
                    loss?.Dispose();
                    cancellationToken.ThrowIfCancellationRequested();
                }

                return loss!;
            }

            var hvpOptions = new HessianVectorProductOptions(_options.ModelMode)
            {
                Method = _options.HessianVectorProducts,
                FiniteDifferenceStep = _options.FiniteDifferenceStep,
            };
            hessian = new HessianVectorProductOperator(view, ProbeLoss, Model, hvpOptions, _space);
            cancellationToken.ThrowIfCancellationRequested();
            CheckProbeLoss(hessian);
            OptimizerSnapshot<Tensor>? snapshot;
            string? reason;
            try
            {
                snapshot = OptimizerStateReader.TryRead(Optimizer, view, out reason);
            }
            catch (KeyNotFoundException ex)
            {
                // TorchSharp's state_dict() looks each parameter up in the optimizer's state, which Dispose clears.
                throw new ProbeTargetException(
                    $"the optimizer ({OptimizerName}) has no state for its own parameters: it was disposed, so it no longer trains the model. {RebindAdvice}",
                    ex);
            }

            cancellationToken.ThrowIfCancellationRequested();
            return new Context(scope, hessian, new CancellableHessian(hessian, cancellationToken), snapshot, reason, view, _options.IncludeWeight);
        }
        catch
        {
            hessian?.Dispose();
            scope.Dispose();
            throw;
        }
    }

    private const string RebindAdvice = "Create the optimizer for the model's current parameters and call optimizer.RebindSpectralMonitor(monitor, model, probeLoss) (or MonitoredOptimizer.Rebind).";

    /// <summary>Fails the probe when the probe loss, or its gradient, gives nothing to measure.</summary>
    private void CheckProbeLoss(HessianVectorProductOperator hessian)
    {
        if (!double.IsFinite(hessian.Loss))
        {
            throw new ProbeTargetException(string.Create(
                System.Globalization.CultureInfo.InvariantCulture,
                $"the probe loss is not finite ({hessian.Loss}) at the current parameters: the model diverged on the probe batch, or the probe-loss closure computes NaN or ∞ (a log of 0, a division by 0); no curvature can be measured"));
        }

        using var gradient = _space.CreateVector();
        hessian.CopyGradientTo(gradient);
        using var noGrad = torch.no_grad();
        using var finite = gradient.isfinite().all();
        if (!finite.ToBoolean())
        {
            throw new ProbeTargetException("the gradient of the probe loss with respect to the monitored parameters is not finite (the loss is, so a NaN or ∞ arises in the backward pass: a square root or log at 0?); no curvature can be measured");
        }

        using var nonZero = gradient.count_nonzero();
        if (nonZero.ToInt64() == 0)
        {
            throw new ProbeTargetException(
                "the probe loss does not depend on the monitored parameters: its gradient is zero with respect to every one of them (computed from another model, such as a teacher or EMA copy, or through a detached tensor?), so its curvature would read 0 and no alert could fire. Compute the probe loss from the model the optimizer trains.");
        }
    }

    /// <summary>Fails the probe when the optimizer no longer trains the monitored parameters.</summary>
    private void CheckOptimizerTrains(FlatParameterView view)
    {
        int total = 0, disposed = 0, monitored = 0;
        foreach (var group in (Optimizer.ParamGroups ?? []).OfType<ParamGroup>())
        {
            foreach (var parameter in group.Parameters ?? [])
            {
                total++;
                if (parameter is null || parameter.IsInvalid)
                {
                    disposed++;
                }
                else if (view.IndexOf(parameter) >= 0)
                {
                    monitored++;
                }
            }
        }

        if (disposed > 0)
        {
            throw new ProbeTargetException(string.Create(
                System.Globalization.CultureInfo.InvariantCulture,
                $"the optimizer ({OptimizerName}) holds {disposed} disposed parameter tensor(s) of {total}: the model was moved to another dtype or device (which replaces its parameters) or its parameters were disposed, so this optimizer no longer trains the model. {RebindAdvice}"));
        }

        if (total > 0 && monitored == 0)
        {
            throw new ProbeTargetException($"none of the monitored parameters is trained by this optimizer ({OptimizerName}): it was replaced, or built over another model. {RebindAdvice}");
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

    /// <summary>The probe's Hessian as the stages see it: the probe's token is checked before every product.</summary>
    private sealed class CancellableHessian(HessianVectorProductOperator inner, CancellationToken cancellationToken) : LinearOperator<Tensor>(inner.Space)
    {
        public override bool IsSymmetric => true;

        public override bool IsInexact => inner.IsInexact;

        protected override void ApplyCore(Tensor x, Tensor y)
        {
            cancellationToken.ThrowIfCancellationRequested();
            inner.Apply(x, y);
        }
    }

    /// <summary>One probe: owns the probe's dispose scope, the Hessian operator and the weight views.</summary>
    private sealed class Context : IProbeContext<Tensor>
    {
        private readonly TensorProbeScope _scope;
        private readonly HessianVectorProductOperator _hessian;
        private readonly LinearOperator<Tensor> _cancellable;
        private readonly FlatParameterView _view;
        private readonly Func<string, bool>? _includeWeight;
        private List<TensorWeightMatrix>? _weights;
        private bool _disposed;

        public Context(TensorProbeScope scope, HessianVectorProductOperator hessian, LinearOperator<Tensor> cancellable, OptimizerSnapshot<Tensor>? snapshot, string? reason, FlatParameterView view, Func<string, bool>? includeWeight)
        {
            _scope = scope;
            _hessian = hessian;
            _cancellable = cancellable;
            Optimizer = snapshot;
            OptimizerUnavailableReason = snapshot is null ? reason : null;
            _view = view;
            _includeWeight = includeWeight;
        }

        public LinearOperator<Tensor> Hessian => _cancellable;

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
