using TorchSharp;

namespace SpectralMonitor.Torch;

/// <summary>
/// Reads and sets the learning rate of each parameter group of a TorchSharp optimizer through
/// <c>optimizer.ParamGroups</c> (the <c>LearningRate</c> of each group), the same handle TorchSharp's
/// <c>lr_scheduler</c> classes use.
/// </summary>
/// <remarks>
/// <para>Works alongside a scheduler: a scheduler's <c>step()</c> writes each group's <c>LearningRate</c> from its own
/// schedule, so a backoff written here lasts until the scheduler's next step, which recomputes the rate. Schedulers
/// that compute the new rate from the current one (<c>ExponentialLR</c>, <c>MultiplicativeLR</c>, <c>StepLR</c>,
/// <c>ReduceLROnPlateau</c>) carry a backoff forward; schedulers that compute it from the initial rate and the epoch
/// (<c>CosineAnnealingLR</c>, <c>LambdaLR</c>, <c>OneCycleLR</c>) overwrite it. To make a backoff persist under those,
/// call <see cref="SetLearningRate"/> after the scheduler's <c>step()</c> in the loop, or scale the group's
/// <c>InitialLearningRate</c> as well (<see cref="ScaleInitialLearningRate"/>) for schedulers that derive the rate from it.</para>
/// <para>The optimizer's groups are read at construction; an optimizer whose groups change later (<c>add_param_group</c>)
/// needs a new controller. It never touches another optimizer.</para>
/// </remarks>
public sealed class ParamGroupLearningRateController : ILearningRateController
{
    private readonly torch.optim.ILearningRateController[] _groups;

    /// <summary>Creates the controller of <paramref name="optimizer"/>'s parameter groups.</summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <exception cref="ArgumentException">The optimizer exposes no parameter group.</exception>
    public ParamGroupLearningRateController(torch.optim.Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        _groups = optimizer.ParamGroups.ToArray();
        if (_groups.Length == 0)
        {
            throw new ArgumentException($"Optimizer {optimizer.GetType().Name} exposes no parameter group through ParamGroups.", nameof(optimizer));
        }
    }

    /// <inheritdoc/>
    public int GroupCount => _groups.Length;

    /// <inheritdoc/>
    public double GetLearningRate(int group) => Group(group).LearningRate;

    /// <inheritdoc/>
    public void SetLearningRate(int group, double value)
    {
        var target = Group(group);
        if (!double.IsFinite(value) || value <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "The learning rate must be positive and finite.");
        }

        target.LearningRate = value;
    }

    /// <summary>The initial learning rate of group <paramref name="group"/> (what schedulers derive rates from).</summary>
    /// <param name="group">Group index.</param>
    /// <returns>Its <c>InitialLearningRate</c>.</returns>
    public double GetInitialLearningRate(int group) => Group(group).InitialLearningRate;

    /// <summary>Multiplies the initial learning rate of group <paramref name="group"/> by <paramref name="factor"/>, so that
    /// schedulers deriving the rate from it keep a backoff.</summary>
    /// <param name="group">Group index.</param>
    /// <param name="factor">Positive, finite factor.</param>
    public void ScaleInitialLearningRate(int group, double factor)
    {
        var target = Group(group);
        if (!double.IsFinite(factor) || factor <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(factor), factor, "The factor must be positive and finite.");
        }

        target.InitialLearningRate *= factor;
    }

    private torch.optim.ILearningRateController Group(int group)
    {
        if (group < 0 || group >= _groups.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(group), group, $"The optimizer has {_groups.Length} parameter groups.");
        }

        return _groups[group];
    }
}
