namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>
/// ZClip-style adaptive gradient clipping (Kumar et al., 2025, "ZClip: Adaptive Spike Mitigation for LLM
/// Pre-Training"), the reactive study's baseline: an EMA (α = 0.97) of the gradient norm's mean and variance; after a
/// warm-up of <see cref="WarmupSteps"/> norms (their plain mean and variance start the EMA), a norm above
/// mean + 2.5·sd is clipped to it, and the clipped norm (not the raw one) updates the EMA. Non-finite norms are left
/// alone (ZClip does not guard them): such a step diverges the run.
/// </summary>
internal sealed class ZClip(double alpha = 0.97, double threshold = 2.5)
{
    /// <summary>Norms collected before clipping starts.</summary>
    public const int WarmupSteps = 20;

    private readonly List<double> _warmup = [];
    private double _mean;
    private double _variance;

    /// <summary>Steps clipped so far.</summary>
    public int Clipped { get; private set; }

    /// <summary>The factor the step's gradient is multiplied by (1: not clipped).</summary>
    public double Scale(double norm)
    {
        if (!double.IsFinite(norm))
        {
            return 1;
        }

        if (_warmup.Count < WarmupSteps)
        {
            _warmup.Add(norm);
            if (_warmup.Count == WarmupSteps)
            {
                _mean = _warmup.Average();
                _variance = _warmup.Sum(g => (g - _mean) * (g - _mean)) / WarmupSteps;
            }

            return 1;
        }

        double limit = _mean + (threshold * Math.Sqrt(_variance));
        double used = norm > limit ? limit : norm;
        if (norm > limit)
        {
            Clipped++;
        }

        // The paper's EMA updates, with the clipped norm.
        _mean = (alpha * _mean) + ((1 - alpha) * used);
        _variance = (alpha * _variance) + ((1 - alpha) * (used - _mean) * (used - _mean));
        return norm > 0 ? used / norm : 1;
    }
}
