namespace SpectralMonitor.Backoff;

/// <summary>
/// Applies a backoff factor to every parameter group through an <see cref="ILearningRateController"/>, composing
/// with schedulers: a rate found different from the one last written was set by someone else (a scheduler, the user)
/// and becomes the new scheduled rate that the factor multiplies.
/// </summary>
internal sealed class LearningRateGovernor
{
    private readonly ILearningRateController _controller;
    private readonly double[] _scheduled;
    private readonly double[] _written;
    private readonly double? _floor;

    public LearningRateGovernor(ILearningRateController controller, double? floor)
    {
        _controller = controller;
        int groups = controller.GroupCount;
        _scheduled = new double[groups];
        _written = new double[groups];
        for (int g = 0; g < groups; g++)
        {
            double rate = controller.GetLearningRate(g);
            if (floor is double f && f > rate)
            {
                throw new ArgumentException($"BackoffOptions.MinimumLearningRate ({f}) is above the base learning rate of parameter group {g} ({rate}).", nameof(floor));
            }

            _scheduled[g] = rate;
            _written[g] = rate;
        }

        _floor = floor;
    }

    public int GroupCount => _scheduled.Length;

    /// <summary>The learning rate in force for group <paramref name="group"/>.</summary>
    public double Current(int group) => _written[group];

    /// <summary>Applies <paramref name="factor"/>; returns the groups whose rate changed, with old and new rates.</summary>
    public IReadOnlyList<(int Group, double From, double To)> Apply(double factor)
    {
        List<(int, double, double)>? changes = null;
        for (int g = 0; g < _scheduled.Length; g++)
        {
            double observed = _controller.GetLearningRate(g);
            if (observed != _written[g])
            {
                _scheduled[g] = observed;
            }

            double desired = _scheduled[g] * factor;
            if (_floor is double floor)
            {
                desired = Math.Min(_scheduled[g], Math.Max(floor, desired));
            }

            if (desired != observed)
            {
                _controller.SetLearningRate(g, desired);
                (changes ??= []).Add((g, observed, desired));
            }

            _written[g] = desired;
        }

        return changes ?? (IReadOnlyList<(int, double, double)>)[];
    }
}
