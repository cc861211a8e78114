namespace SpectralMonitor;

/// <summary>
/// Reads and sets the learning rate of each parameter group of the optimizer being monitored. The monitor's
/// backoff policy acts only through this interface, so it never touches an optimizer it was not given.
/// </summary>
public interface ILearningRateController
{
    /// <summary>Number of parameter groups.</summary>
    int GroupCount { get; }

    /// <summary>The current learning rate of group <paramref name="group"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="group"/> is not in <c>[0, GroupCount)</c>.</exception>
    double GetLearningRate(int group);

    /// <summary>Sets the learning rate of group <paramref name="group"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="group"/> is not in <c>[0, GroupCount)</c>, or <paramref name="value"/> is not positive and finite.</exception>
    void SetLearningRate(int group, double value);
}
