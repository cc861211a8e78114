using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using SpectralMonitor.Backoff;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch;

/// <summary>
/// One-line attachment of a <see cref="StabilityMonitor"/> to an existing TorchSharp training loop. Nothing about how
/// the model or optimizer is built changes:
/// <code>
/// var monitor = optimizer.AttachSpectralMonitor(model, probeLoss: () =&gt; lossFn.forward(model.forward(xProbe), yProbe),
///     new() { Monitor = options, LoggerFactory = loggerFactory });
/// for (long step = 0; step &lt; steps; step++)
/// {
///     using var d = torch.NewDisposeScope();
///     optimizer.zero_grad();
///     var loss = lossFn.forward(model.forward(x), y);
///     loss.backward();
///     optimizer.step();
///     monitor.OnStep(step, loss.item&lt;float&gt;());   // never throws; probes run inside it when due
/// }
/// monitor.Dispose();
/// </code>
/// or, with the wrapper whose <see cref="MonitoredOptimizer.Step(Tensor, double?)"/> does both <c>optimizer.step()</c>
/// and <c>monitor.OnStep</c>: <c>using var monitored = optimizer.WithSpectralMonitor(model, probeLoss);</c> …
/// <c>monitored.Step(loss);</c>.
/// </summary>
/// <remarks>
/// The probe batch is the user's choice and must stay fixed (see <see cref="TorchSharpProbeTarget"/>); the model is
/// put in eval mode while the probe loss is evaluated, then restored (<see cref="TorchSharpProbeOptions.ModelMode"/>).
/// Device memory of a probe: the probe batch's first-order graph plus about
/// <see cref="StabilityMonitorOptions.KrylovDimension"/> + <see cref="StabilityMonitorOptions.TopModes"/> + 6
/// parameter-sized vectors; between probes only the <see cref="StabilityMonitorOptions.TopModes"/> warm-start vectors.
/// </remarks>
public static class SpectralMonitorTorchSharpExtensions
{
    /// <summary>Creates a monitor of <paramref name="model"/> trained by <paramref name="optimizer"/>.</summary>
    /// <param name="optimizer">The optimizer of the loop (read at each probe; its learning rates are set only when backoff is enabled).</param>
    /// <param name="model">The model being trained.</param>
    /// <param name="probeLoss">Computes the loss on a fixed probe batch (forward pass only, no <c>backward</c>).</param>
    /// <param name="options">Monitor, adapter, logging, metrics, clock and backoff options; null for the defaults.</param>
    /// <returns>The monitor: call <see cref="StabilityMonitor.OnStep"/> once per step and dispose it after training.</returns>
    /// <exception cref="ArgumentException">An option is invalid, or the model has no trainable parameter or mixes dtypes or devices.</exception>
    public static StabilityMonitor AttachSpectralMonitor(this optim.Optimizer optimizer, nn.Module model, Func<Tensor> probeLoss, TorchSharpMonitorOptions? options = null)
    {
        options ??= TorchSharpMonitorOptions.Default;
        var target = new TorchSharpProbeTarget(model, optimizer, probeLoss, options.Probe);
        return StabilityMonitor.Create(target, options.Monitor, options.LoggerFactory, options.MeterFactory, options.TimeProvider, options.BackoffPolicy);
    }

    /// <summary>Creates a monitor (as <see cref="AttachSpectralMonitor"/>) wrapped with the optimizer in a <see cref="MonitoredOptimizer"/>.</summary>
    /// <param name="optimizer">The optimizer of the loop.</param>
    /// <param name="model">The model being trained.</param>
    /// <param name="probeLoss">Computes the loss on a fixed probe batch (forward pass only, no <c>backward</c>).</param>
    /// <param name="options">Monitor, adapter, logging, metrics, clock and backoff options; null for the defaults.</param>
    /// <returns>The wrapper; dispose it after training (it disposes the monitor, not the optimizer).</returns>
    /// <exception cref="ArgumentException">An option is invalid, or the model has no trainable parameter or mixes dtypes or devices.</exception>
    public static MonitoredOptimizer WithSpectralMonitor(this optim.Optimizer optimizer, nn.Module model, Func<Tensor> probeLoss, TorchSharpMonitorOptions? options = null) =>
        new(optimizer, optimizer.AttachSpectralMonitor(model, probeLoss, options));

    /// <summary>
    /// Points <paramref name="monitor"/> at <paramref name="optimizer"/> (and <paramref name="model"/>,
    /// <paramref name="probeLoss"/>) from now on: after the loop replaced its optimizer, or moved the model to another
    /// device or dtype (which replaces its parameters, so the old optimizer no longer trains them; move the probe batch
    /// too). The next probe reads the new optimizer's hyperparameters (its stability edge), the backoff acts on its
    /// learning rates (the factor in force carries over; the old optimizer is not touched again), and metrics are tagged
    /// with its name. Until then, probes fail with a reason that asks for this call. See <see cref="StabilityMonitor.Rebind{TVec}"/>.
    /// </summary>
    /// <param name="optimizer">The optimizer the loop now steps.</param>
    /// <param name="monitor">The monitor to rebind.</param>
    /// <param name="model">The model being trained (its current parameters are monitored).</param>
    /// <param name="probeLoss">Computes the loss on the fixed probe batch, on the model's current device and dtype.</param>
    /// <param name="probeOptions">Adapter options; null for the defaults.</param>
    /// <exception cref="ArgumentException">The model has no trainable parameter or mixes dtypes or devices, or backoff is enabled and the floor is above one of the new learning rates.</exception>
    /// <exception cref="ObjectDisposedException">The monitor was disposed.</exception>
    public static void RebindSpectralMonitor(this optim.Optimizer optimizer, StabilityMonitor monitor, nn.Module model, Func<Tensor> probeLoss, TorchSharpProbeOptions? probeOptions = null)
    {
        ArgumentNullException.ThrowIfNull(monitor);
        monitor.Rebind(new TorchSharpProbeTarget(model, optimizer, probeLoss, probeOptions));
    }
}

/// <summary>
/// Everything optional about attaching a monitor to a TorchSharp loop, in one record (every member may stay null):
/// <c>optimizer.AttachSpectralMonitor(model, probeLoss, new() { Monitor = options, LoggerFactory = loggerFactory })</c>.
/// </summary>
public sealed record TorchSharpMonitorOptions
{
    /// <summary>The defaults: every member null.</summary>
    public static TorchSharpMonitorOptions Default { get; } = new();

    /// <summary>Monitor options (schedule, budget, estimators, rules, backoff); null for the defaults.</summary>
    public StabilityMonitorOptions? Monitor { get; init; }

    /// <summary>Adapter options (model mode during the probe, weight filter, learning-rate control); null for the defaults.</summary>
    public TorchSharpProbeOptions? Probe { get; init; }

    /// <summary>Where alerts and probe failures are logged; null for nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Creates the Meter (dependency injection); null to create it directly.</summary>
    public IMeterFactory? MeterFactory { get; init; }

    /// <summary>The clock; null for the system clock.</summary>
    public TimeProvider? TimeProvider { get; init; }

    /// <summary>A custom backoff policy; null for the default one when <see cref="StabilityMonitorOptions.Backoff"/> is set.</summary>
    public IBackoffPolicy? BackoffPolicy { get; init; }
}

/// <summary>
/// An optimizer and its monitor stepped together: <see cref="Step(Tensor, double?)"/> runs <c>optimizer.step()</c>,
/// then <see cref="StabilityMonitor.OnStep"/> with the step's loss, and counts steps.
/// </summary>
public sealed class MonitoredOptimizer : IDisposable
{
    /// <summary>Wraps <paramref name="optimizer"/> and <paramref name="monitor"/>.</summary>
    /// <param name="optimizer">The optimizer (still owned by the caller).</param>
    /// <param name="monitor">The monitor (owned by the wrapper from now on).</param>
    /// <param name="firstStep">The number of the first step reported.</param>
    public MonitoredOptimizer(optim.Optimizer optimizer, StabilityMonitor monitor, long firstStep = 0)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(monitor);
        Optimizer = optimizer;
        Monitor = monitor;
        NextStep = firstStep;
    }

    /// <summary>The optimizer (the one given to <see cref="Rebind"/> after a rebind).</summary>
    public optim.Optimizer Optimizer { get; private set; }

    /// <summary>The monitor (subscribe to its events, read its state).</summary>
    public StabilityMonitor Monitor { get; }

    /// <summary>The number the next <see cref="Step(Tensor, double?)"/> reports.</summary>
    public long NextStep { get; private set; }

    /// <summary>
    /// <c>optimizer.step()</c>, then reports the step to the monitor (which may run a probe). Call it where the loop
    /// called <c>optimizer.step()</c>, after <c>loss.backward()</c>.
    /// </summary>
    /// <param name="loss">The step's loss tensor (one element; read once, as <see cref="double"/>).</param>
    /// <param name="gradientNorm">The step's gradient norm when the loop computes it (for example from gradient clipping).</param>
    /// <returns>Whether the update was applied (false only when the spike guard skipped it).</returns>
    /// <exception cref="ArgumentException"><paramref name="loss"/> is disposed or has more than one element.</exception>
    public bool Step(Tensor loss, double? gradientNorm = null)
    {
        ArgumentNullException.ThrowIfNull(loss);
        if (loss.IsInvalid || loss.numel() != 1)
        {
            throw new ArgumentException(loss.IsInvalid ? "The loss tensor is disposed." : $"The loss has shape [{string.Join(", ", loss.shape)}]; one element is required.", nameof(loss));
        }

        double value;
        using (torch.no_grad())
        {
            value = loss.ToDouble();
        }

        return Step(value, gradientNorm);
    }

    /// <summary>
    /// <c>optimizer.step()</c>, then reports the step with an already-read loss value. With the spike guard
    /// (<see cref="StabilityMonitorOptions.SpikeGuard"/>) the step is judged first
    /// (<see cref="StabilityMonitor.BeforeUpdate"/>) and <c>optimizer.step()</c> is not called when it is a spike
    /// onset: parameters and optimizer state stay as they were, the gradients stay in <c>.grad</c> until the loop's next
    /// <c>zero_grad()</c>. Without <paramref name="gradientNorm"/> the guard's gradient norm is computed here from the
    /// optimizer's gradients (one pass over them).
    /// </summary>
    /// <param name="loss">The step's loss.</param>
    /// <param name="gradientNorm">The step's gradient norm, if known.</param>
    /// <returns>Whether the update was applied.</returns>
    public bool Step(double loss, double? gradientNorm = null)
    {
        var decision = UpdateDecision.Apply;
        if (Monitor.Options.SpikeGuard is not null)
        {
            gradientNorm ??= GradientNorm(Optimizer);
            decision = Monitor.BeforeUpdate(NextStep, loss, gradientNorm);
        }

        if (decision == UpdateDecision.Apply)
        {
            // step() returns the closure's loss when given a closure; there is none here, so this is normally null.
            Optimizer.step()?.Dispose();
        }
        else
        {
            SkippedSteps++;
        }

        Monitor.OnStep(NextStep, loss, gradientNorm);
        NextStep++;
        return decision == UpdateDecision.Apply;
    }

    /// <summary>Steps whose update the spike guard skipped.</summary>
    public long SkippedSteps { get; private set; }

    /// <summary>
    /// Steps <paramref name="optimizer"/> from now on and rebinds the monitor to it
    /// (<see cref="SpectralMonitorTorchSharpExtensions.RebindSpectralMonitor"/>); step numbering continues.
    /// </summary>
    /// <param name="optimizer">The optimizer that replaces the current one (still owned by the caller).</param>
    /// <param name="model">The model being trained.</param>
    /// <param name="probeLoss">Computes the loss on the fixed probe batch, on the model's current device and dtype.</param>
    /// <param name="probeOptions">Adapter options; null for the defaults.</param>
    /// <exception cref="ArgumentException">See <see cref="SpectralMonitorTorchSharpExtensions.RebindSpectralMonitor"/>.</exception>
    public void Rebind(optim.Optimizer optimizer, nn.Module model, Func<Tensor> probeLoss, TorchSharpProbeOptions? probeOptions = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        optimizer.RebindSpectralMonitor(Monitor, model, probeLoss, probeOptions);
        Optimizer = optimizer;
    }

    /// <summary>Disposes the monitor (not the optimizer).</summary>
    public void Dispose() => Monitor.Dispose();

    /// <summary>The global L2 norm of the optimizer's gradients (NaN when one is not finite), or null when it cannot be read.</summary>
    internal static double? GradientNorm(optim.Optimizer optimizer)
    {
        try
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            // This runs every step: one reduction per gradient tensor (no parameter-sized temporary, no float64 copy of
            // the gradients), the per-tensor norms combined in float64, one host read for all of them. A norm past the
            // dtype's range reads +∞, which the guard treats like a non-finite gradient.
            var norms = optimizer.parameters().Select(p => p.grad).OfType<Tensor>().Select(g => g.norm().to_type(ScalarType.Float64)).ToArray();
            if (norms.Length == 0)
            {
                return 0;
            }

            var stacked = torch.stack(norms);
            return stacked.mul(stacked).sum().sqrt().ToDouble();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return null; // the guard judges the loss alone
        }
    }
}
