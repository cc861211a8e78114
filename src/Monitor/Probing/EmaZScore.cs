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

    public double Update(double value)
    {
        if (!double.IsFinite(value))
        {
            return double.PositiveInfinity;
        }

        double z = double.NaN;
        if (_count >= Math.Max(warmup, 2))
        {
            double sd = Math.Sqrt(_variance);
            z = sd > 0 ? (value - _mean) / sd : 0;
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
        return z;
    }
}
