using SpectralMonitor.Estimators.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch;

/// <summary>
/// Reads the state and hyperparameters of a TorchSharp optimizer through its public <c>state_dict()</c> into an
/// <see cref="OptimizerSnapshot{TVec}"/> whose state vectors are flat tensors aligned with a <see cref="FlatParameterView"/>.
/// Supported: <c>SGD</c> (with or without momentum, Nesterov), <c>Adam</c>, <c>AdamW</c>, <c>RMSProp</c>.
/// </summary>
/// <remarks>
/// <para><c>state_dict().State</c> lists one state entry per parameter, group by group in the order of
/// <c>ParamGroups</c> and, within a group, in the order of the group's <c>Parameters</c>; each entry is matched to the
/// flat view by parameter identity. Hyperparameters come from each group's options; the snapshot describes one
/// operator, so all groups that hold monitored parameters must agree on them.</para>
/// <para>The flat state vectors are new device tensors (device-to-device copies, no host round trip), registered in
/// the current dispose scope: read the snapshot inside the probe's <see cref="TensorProbeScope"/>, or dispose them with
/// <see cref="DisposeTensors"/>.</para>
/// <para>When the optimizer cannot be represented (another optimizer type, groups with different hyperparameters,
/// monitored parameters the optimizer does not update, parameters at different step counts) the reader returns
/// null and a reason: the monitor then reports only what needs no optimizer (Hessian sharpness, spectral density,
/// weight singular values).</para>
/// </remarks>
public static class OptimizerStateReader
{
    /// <summary>Reads the optimizer's state at the current step.</summary>
    /// <param name="optimizer">The optimizer driving the monitored parameters.</param>
    /// <param name="parameters">The flat view the state vectors are aligned with.</param>
    /// <param name="reason">Why the snapshot is null; null when a snapshot is returned.</param>
    /// <returns>The snapshot (<see cref="SgdSnapshot{TVec}"/>, <see cref="AdamSnapshot{TVec}"/> or <see cref="RmsPropSnapshot{TVec}"/>), or null.</returns>
    public static OptimizerSnapshot<Tensor>? TryRead(optim.Optimizer optimizer, FlatParameterView parameters, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(parameters);
        if (optimizer is not (SGD or Adam or AdamW or RMSProp))
        {
            reason = $"Optimizer {optimizer.GetType().Name} is not supported (only SGD, Adam, AdamW and RMSProp are); only optimizer-independent measures are available.";
            return null;
        }

        var helper = (OptimizerHelper)optimizer;
        var stateDictionary = helper.state_dict();
        var groups = optimizer.ParamGroups.OfType<ParamGroup>().ToArray();
        if (groups.Length != stateDictionary.Options.Count)
        {
            reason = $"The optimizer reports {groups.Length} parameter groups but its state_dict has {stateDictionary.Options.Count} option sets.";
            return null;
        }

        var (states, groupOfParameter) = AlignStates(groups, stateDictionary, parameters, out reason);
        if (states is null)
        {
            return null;
        }

        var options = stateDictionary.Options;
        return optimizer switch
        {
            SGD => ReadSgd(parameters, states, groupOfParameter, options, out reason),
            Adam => ReadAdam(parameters, states, groupOfParameter, options, decoupled: false, out reason),
            AdamW => ReadAdam(parameters, states, groupOfParameter, options, decoupled: true, out reason),
            _ => ReadRmsProp(parameters, states, groupOfParameter, options, out reason),
        };
    }

    /// <summary>
    /// The state entry and parameter group of every monitored parameter, in the view's order (state_dict lists the
    /// groups' parameters in order); null with a reason when the two disagree or a monitored parameter is not optimized.
    /// </summary>
    private static (OptimizerState[]? States, int[] GroupOfParameter) AlignStates(ParamGroup[] groups, OptimizerHelper.StateDictionary stateDictionary, FlatParameterView parameters, out string? reason)
    {
        var states = new OptimizerState?[parameters.Count];
        var groupOfParameter = new int[parameters.Count];
        int entry = 0;
        for (int g = 0; g < groups.Length; g++)
        {
            foreach (var parameter in groups[g].Parameters)
            {
                if (entry >= stateDictionary.State.Count)
                {
                    reason = $"The optimizer's state_dict has {stateDictionary.State.Count} state entries, fewer than its groups' parameters.";
                    return (null, groupOfParameter);
                }

                int index = parameters.IndexOf(parameter);
                if (index >= 0)
                {
                    states[index] = stateDictionary.State[entry];
                    groupOfParameter[index] = g;
                }

                entry++;
            }
        }

        if (entry != stateDictionary.State.Count)
        {
            reason = $"The optimizer's state_dict has {stateDictionary.State.Count} state entries; its groups hold {entry} parameters.";
            return (null, groupOfParameter);
        }

        for (int i = 0; i < states.Length; i++)
        {
            if (states[i] is null)
            {
                reason = $"Monitored parameter '{parameters.Names[i]}' is not updated by this optimizer; monitor only the parameters it optimizes.";
                return (null, groupOfParameter);
            }
        }

        reason = null;
        return (states.Select(s => s!).ToArray(), groupOfParameter);
    }

    /// <summary>Disposes the state tensors of <paramref name="snapshot"/> (when it was read outside a dispose scope).</summary>
    /// <param name="snapshot">A snapshot returned by <see cref="TryRead"/>.</param>
    public static void DisposeTensors(OptimizerSnapshot<Tensor>? snapshot)
    {
        switch (snapshot)
        {
            case SgdSnapshot<Tensor> sgd:
                sgd.MomentumBuffer?.Dispose();
                break;
            case AdamSnapshot<Tensor> adam:
                adam.ExpAvg.Dispose();
                adam.ExpAvgSq.Dispose();
                adam.MaxExpAvgSq?.Dispose();
                break;
            case RmsPropSnapshot<Tensor> rms:
                rms.SquareAvg.Dispose();
                rms.MomentumBuffer?.Dispose();
                rms.GradAvg?.Dispose();
                break;
        }
    }

    private static SgdSnapshot<Tensor>? ReadSgd(
        FlatParameterView parameters, OptimizerState[] states, int[] groupOf, List<OptimizerOptions> options, out string? reason)
    {
        var hyper = Agree(parameters, groupOf, options, o => SgdHyper((SGD.Options)o), out reason);
        if (hyper is null)
        {
            return null;
        }

        Tensor? buffer = null;
        if (hyper.Momentum != 0)
        {
            var buffers = states.Select(s => ((SGD.State)s).momentum_buffer).ToArray();
            if (buffers.Any(b => b is not null && !b.IsInvalid))
            {
                // A parameter that has not had a gradient yet has no buffer: PyTorch would start it at its first
                // gradient, and until then the parameter does not move, which a zero buffer reproduces.
                buffer = Flatten(parameters, buffers);
            }
        }

        return new SgdSnapshot<Tensor>(hyper, buffer);
    }

    private static AdamSnapshot<Tensor>? ReadAdam(
        FlatParameterView parameters, OptimizerState[] states, int[] groupOf, List<OptimizerOptions> options, bool decoupled, out string? reason)
    {
        var hyper = Agree(parameters, groupOf, options, o => decoupled ? AdamWHyper((AdamW.Options)o) : AdamHyper((Adam.Options)o), out reason);
        if (hyper is null)
        {
            return null;
        }

        long[] steps;
        Tensor?[] expAvg, expAvgSq, maxExpAvgSq;
        if (decoupled)
        {
            var typed = states.Cast<AdamW.State>().ToArray();
            steps = typed.Select(s => s.step).ToArray();
            expAvg = typed.Select(s => s.exp_avg).ToArray();
            expAvgSq = typed.Select(s => s.exp_avg_sq).ToArray();
            maxExpAvgSq = typed.Select(s => s.max_exp_avg_sq).ToArray();
        }
        else
        {
            var typed = states.Cast<Adam.State>().ToArray();
            steps = typed.Select(s => s.step).ToArray();
            expAvg = typed.Select(s => s.exp_avg).ToArray();
            expAvgSq = typed.Select(s => s.exp_avg_sq).ToArray();
            maxExpAvgSq = typed.Select(s => s.max_exp_avg_sq).ToArray();
        }

        if (!SameStep(parameters, steps, out long step, out reason))
        {
            return null;
        }

        return new AdamSnapshot<Tensor>(
            hyper,
            step,
            Flatten(parameters, expAvg),
            Flatten(parameters, expAvgSq),
            hyper.Amsgrad ? Flatten(parameters, maxExpAvgSq) : null);
    }

    private static RmsPropSnapshot<Tensor>? ReadRmsProp(
        FlatParameterView parameters, OptimizerState[] states, int[] groupOf, List<OptimizerOptions> options, out string? reason)
    {
        var hyper = Agree(parameters, groupOf, options, o =>
        {
            var s = (RMSProp.Options)o;
            return new RmsPropHyperparameters(
                o.LearningRate ?? double.NaN, s.alpha ?? 0.99, s.eps ?? 1e-8, s.weight_decay ?? 0, s.momentum ?? 0, s.centered ?? false, s.maximize ?? false);
        }, out reason);
        if (hyper is null)
        {
            return null;
        }

        var typed = states.Cast<RMSProp.State>().ToArray();
        if (!SameStep(parameters, typed.Select(s => s.step).ToArray(), out long step, out reason))
        {
            return null;
        }

        return new RmsPropSnapshot<Tensor>(
            hyper,
            step,
            Flatten(parameters, typed.Select(s => s.square_avg).ToArray()),
            hyper.Momentum > 0 ? Flatten(parameters, typed.Select(s => s.momentum_buffer).ToArray()) : null,
            hyper.Centered ? Flatten(parameters, typed.Select(s => s.grad_avg).ToArray()) : null);
    }

    /// <summary>A parameter group's SGD options with TorchSharp's defaults filled in.</summary>
    internal static SgdHyperparameters SgdHyper(SGD.Options o) => new(
        o.LearningRate ?? double.NaN, o.momentum ?? 0, o.dampening ?? 0, o.weight_decay ?? 0, o.nesterov ?? false, o.maximize ?? false);

    /// <summary>A parameter group's Adam options with TorchSharp's defaults filled in.</summary>
    internal static AdamHyperparameters AdamHyper(Adam.Options o) => new(
        o.LearningRate ?? double.NaN, o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.eps ?? 1e-8, o.weight_decay ?? 0, o.amsgrad ?? false, Decoupled: false, o.maximize ?? false);

    /// <summary>A parameter group's AdamW options with TorchSharp's defaults filled in.</summary>
    internal static AdamHyperparameters AdamWHyper(AdamW.Options o) => new(
        o.LearningRate ?? double.NaN, o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.eps ?? 1e-8, o.weight_decay ?? 0.01, o.amsgrad ?? false, Decoupled: true, o.maximize ?? false);

    private static T? Agree<T>(FlatParameterView parameters, int[] groupOf, List<OptimizerOptions> options, Func<OptimizerOptions, T> read, out string? reason)
        where T : class
    {
        T? agreed = null;
        int agreedGroup = -1;
        for (int i = 0; i < groupOf.Length; i++)
        {
            int g = groupOf[i];
            if (g == agreedGroup)
            {
                continue;
            }

            var current = read(options[g]);
            if (agreed is null)
            {
                agreed = current;
                agreedGroup = g;
            }
            else if (!agreed.Equals(current))
            {
                reason = $"Parameter groups {agreedGroup} and {g} (holding '{parameters.Names[i]}') have different hyperparameters ({agreed} vs {current}); one update operator cannot describe them.";
                return null;
            }
        }

        reason = null;
        return agreed;
    }

    private static bool SameStep(FlatParameterView parameters, long[] steps, out long step, out string? reason)
    {
        step = steps[0];
        for (int i = 1; i < steps.Length; i++)
        {
            if (steps[i] != step)
            {
                reason = $"Parameters '{parameters.Names[0]}' and '{parameters.Names[i]}' are at different steps ({step} and {steps[i]}), so their bias corrections differ; one update operator cannot describe them.";
                return false;
            }
        }

        reason = null;
        return true;
    }

    private static Tensor Flatten(FlatParameterView parameters, Tensor?[] perParameter)
    {
        var flat = torch.zeros(new long[] { parameters.Dimension }, parameters.ScalarType, parameters.Device);
        parameters.Gather(perParameter, flat);
        return flat;
    }
}
