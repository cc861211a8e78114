namespace SpectralMonitor.Probing;

/// <summary>
/// z-score of each new observation against an exponentially weighted mean and variance of the previous ones
/// (weight α on the past). NaN until <c>warmup</c> observations have been seen; non-finite observations are
/// reported as +∞ and not folded into the statistics.
/// </summary>
internal sealed class EmaZScore(double alpha, int warmup)
{
    private double _mean;
    private double _variance;
    private long _count;

    /// <summary>The weighted mean of the observations folded in so far (0 before the first).</summary>
    public double Mean => _mean;

    /// <summary>Observations folded in so far.</summary>
    public long Count => _count;

    /// <summary>Scores <paramref name="value"/>, then folds it into the statistics.</summary>
    public double Update(double value)
    {
        double z = Score(value);
        Add(value);
        return z;
    }

    /// <summary>The z-score of <paramref name="value"/> against the statistics so far, without folding it in.</summary>
    public double Score(double value)
    {
        if (!double.IsFinite(value))
        {
            return double.PositiveInfinity;
        }

        if (_count < Math.Max(warmup, 2))
        {
            return double.NaN;
        }

        double sd = Math.Sqrt(_variance);
        return sd > 0 ? (value - _mean) / sd : 0;
    }

    /// <summary>Folds <paramref name="value"/> into the statistics (a non-finite value is ignored).</summary>
    public void Add(double value)
    {
        if (!double.IsFinite(value))
        {
            return;
        }

        if (_count == 0)
        {
            _mean = value;
        }
        else
        {
            // West's exponentially weighted mean and variance.
            double diff = value - _mean;
            double increment = (1 - alpha) * diff;
            _mean += increment;
            _variance = alpha * (_variance + (diff * increment));
        }

        _count++;
    }
}
