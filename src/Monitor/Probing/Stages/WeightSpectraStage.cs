using SpectralMonitor.Estimators.NonNormality;

namespace SpectralMonitor.Probing.Stages;

/// <summary>The top singular value and stable rank of each tracked weight matrix.</summary>
/// <param name="Weights">One reading per weight matrix.</param>
internal sealed record WeightSpectraReading(IReadOnlyList<WeightReading> Weights) : StageReading
{
    public override IEnumerable<ProbeReading> Readings()
    {
        foreach (var weight in Weights)
        {
            yield return ProbeReading.Of(null, weight.TopSingularValue, ProbeMetrics.WeightTopSingularValue, ("weight", weight.Name));
            yield return ProbeReading.Of(null, weight.StableRank, ProbeMetrics.WeightStableRank, ("weight", weight.Name));
        }

        if (Weights.Count > 0)
        {
            // The rules read the extremes; the instruments export every matrix.
            yield return ProbeReading.Of(Indicators.WeightTopSingularValue, Weights.Max(w => w.TopSingularValue), null);
            yield return ProbeReading.Of(Indicators.WeightStableRank, Weights.Min(w => w.StableRank), null);
        }
    }
}

/// <summary>
/// Lanczos on WᵀW per weight matrix (no HVP), warm-started from the previous probe's right singular vector (kept on the
/// host: one vector of the matrix's column count per weight), stopped at the options' residual tolerance.
/// </summary>
internal sealed class WeightSpectraStage<TVec> : ProbeStage<TVec>
    where TVec : class
{
    public override string Name => "weight_spectra";

    private readonly Dictionary<string, double[]> _rightVectors = new(StringComparer.Ordinal);

    public override bool Applies(ProbeFrame<TVec> frame) => frame.Options.Estimators.HasFlag(ProbeEstimators.WeightSingularValues);

    public override string? Run(ProbeFrame<TVec> frame, StageBudget budget, CancellationToken cancellationToken)
    {
        var weights = new List<WeightReading>();
        foreach (var weight in frame.Context.Weights)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!_rightVectors.TryGetValue(weight.Name, out var v) || v.Length != weight.Columns)
            {
                // A zero vector: the first solve starts from a random vector.
                v = new double[weight.Columns];
                _rightVectors[weight.Name] = v;
            }

            var sigma = SingularValues.TopByLanczos(weight, v, frame.Options.SingularValueIterations, frame.Options.SingularValueTolerance, weight.Name.Length + weight.Columns, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            weights.Add(new WeightReading(weight.Name, sigma.Value, SingularValues.StableRank(weight.FrobeniusNormSquared(), sigma.Value)));
        }

        frame.Add(new WeightSpectraReading(weights));
        return null;
    }
}
