using SpectralMonitor.Benchmarks.Detection;
using SpectralMonitor.Probing;

namespace SpectralMonitor.Tests.Detection;

// DetectionScoring.cs in this folder is a link to benchmarks/Detection/DetectionScoring.cs: the detection benchmark's
// scoring functions compiled into this test assembly.
public class DetectionScoringTests
{
    private static DetectorReading[] Readings(params (long Step, bool On)[] readings) => [.. readings.Select(r => new DetectorReading(r.Step, r.On))];

    [Fact]
    public void ThresholdFiresAtTheThresholdInTheRuleDirectionAndDropsNaN()
    {
        (long, double)[] series = [(0, 0.5), (5, 0.9), (10, double.NaN), (15, double.PositiveInfinity), (20, 0.89)];

        Assert.Equal(Readings((0, false), (5, true), (15, true), (20, false)), DetectionScoring.Threshold(series, 0.9));
        Assert.Equal(Readings((0, true), (5, true), (15, false), (20, true)), DetectionScoring.Threshold(series, 0.9, above: false));
    }

    [Fact]
    public void OnsetsCountOffToOnTransitionsFromTheWarmupOn()
    {
        var readings = Readings((0, true), (5, true), (20, true), (25, false), (30, true), (35, true), (40, false), (45, true));

        // Already on before the warm-up: the first counted reading (step 20) is an onset; then 30 and 45.
        Assert.Equal(new long[] { 20, 30, 45 }, DetectionScoring.Onsets(readings, warmup: 20));
        Assert.Equal(new long[] { 0, 30, 45 }, DetectionScoring.Onsets(readings, warmup: 0));
        Assert.Empty(DetectionScoring.Onsets(Readings((20, false), (25, false)), warmup: 20));
    }

    [Fact]
    public void WarningIsTheFirstOnReadingAfterWarmupStrictlyBeforeTheSpike()
    {
        var readings = Readings((10, true), (20, false), (25, true), (30, true), (40, true));

        Assert.Equal(25L, DetectionScoring.WarningStep(readings, firstSpike: 40, warmup: 20));

        // A reading at the spike's own step is not a warning; one before the warm-up neither.
        Assert.Null(DetectionScoring.WarningStep(Readings((10, true), (20, false), (40, true)), firstSpike: 40, warmup: 20));
        Assert.Null(DetectionScoring.WarningStep(readings, firstSpike: 25, warmup: 20));
        Assert.Null(DetectionScoring.WarningStep(readings, firstSpike: null, warmup: 20));
    }

    [Fact]
    public void ScoreCombinesWarningOnsetsAndCountedSteps()
    {
        var score = DetectionScoring.Score(Readings((20, true), (25, false), (30, true), (100, true)), firstSpike: 70, totalSteps: 200, warmup: 20);

        Assert.Equal(new RunScore(70, 20, 2, 180), score);
        Assert.Equal(50L, score.LeadTime);
        Assert.Null(DetectionScoring.Score(Readings((20, false)), firstSpike: null, totalSteps: 10, warmup: 20).LeadTime);
        Assert.Equal(0L, DetectionScoring.Score([], firstSpike: null, totalSteps: 10, warmup: 20).CountedSteps);
    }

    [Fact]
    public void AggregateGivesRecallLeadTimesAndFalseAlarmsPerThousandSteps()
    {
        RunScore[] runs =
        [
            new(FirstSpike: 100, WarningStep: 85, Onsets: 3, CountedSteps: 780), // lead 15
            new(FirstSpike: 50, WarningStep: 45, Onsets: 1, CountedSteps: 780),  // lead 5
            new(FirstSpike: 60, WarningStep: null, Onsets: 0, CountedSteps: 780), // missed
            new(FirstSpike: null, WarningStep: null, Onsets: 2, CountedSteps: 80),
            new(FirstSpike: null, WarningStep: null, Onsets: 0, CountedSteps: 280),
        ];

        var m = DetectionScoring.Aggregate(runs);

        Assert.Equal(3, m.SpikingRuns);
        Assert.Equal(2, m.WarnedRuns);
        Assert.Equal(2.0 / 3.0, m.Recall);
        Assert.Equal(10.0, m.MedianLead);
        Assert.Equal(5.0, m.MinimumLead);
        Assert.Equal(2, m.StableRuns);
        Assert.Equal(1, m.StableRunsAlarmed);
        Assert.Equal(2, m.FalseAlarmOnsets);
        Assert.Equal(360L, m.StableSteps);

        // 1000 · 2 / 360 = 5.5…; the division is one correctly rounded operation, so the same expression is exact.
        Assert.Equal(1000.0 * 2 / 360, m.FalseAlarmsPer1000Steps);
    }

    [Fact]
    public void AggregateWithoutSpikingOrStableRunsReportsNaN()
    {
        var onlyStable = DetectionScoring.Aggregate([new RunScore(null, null, 1, 500)]);
        Assert.True(double.IsNaN(onlyStable.Recall));
        Assert.True(double.IsNaN(onlyStable.MedianLead));
        Assert.Equal(2.0, onlyStable.FalseAlarmsPer1000Steps);

        var onlySpiking = DetectionScoring.Aggregate([new RunScore(40, null, 0, 500)]);
        Assert.Equal(0.0, onlySpiking.Recall);
        Assert.True(double.IsNaN(onlySpiking.MinimumLead));
        Assert.True(double.IsNaN(onlySpiking.FalseAlarmsPer1000Steps));
    }

    [Fact]
    public void MedianOfOddEvenAndEmptyLists()
    {
        Assert.Equal(3.0, DetectionScoring.Median([5, 1, 3]));
        Assert.Equal(2.5, DetectionScoring.Median([4, 1, 3, 2]));
        Assert.True(double.IsNaN(DetectionScoring.Median([])));
    }

    [Fact]
    public void EmaZScoresMatchAHandComputedSequence()
    {
        // α = 0.5, warm-up 2. After 1: mean 1. After 3: diff 2, increment 1, mean 2, variance 0.5·(0 + 2·1) = 1.
        // z(3) = (3 − 2)/1 = 1; then diff 1, increment 0.5, mean 2.5, variance 0.5·(1 + 0.5) = 0.75.
        // z(7) = (7 − 2.5)/√0.75 = 3√3. The +∞ is reported as +∞ and not folded into the statistics.
        var z = DetectionScoring.EmaZScores([1, 3, double.PositiveInfinity, 3, 7], alpha: 0.5, warmup: 2);

        Assert.True(double.IsNaN(z[0]));
        Assert.True(double.IsNaN(z[1]));
        Assert.Equal(double.PositiveInfinity, z[2]);
        Assert.Equal(1.0, z[3]);

        // 4.5/√0.75 against 3√3 ≈ 5.196: a few roundings (two square roots, a division) apart, so within 8 ulps of 5.2.
        const double machineEpsilon = 2.220446049250313e-16; // 2⁻⁵² (double.Epsilon is the smallest subnormal, not this)
        Assert.Equal(3 * Math.Sqrt(3), z[4], 8 * 5.2 * machineEpsilon);
        Assert.Equal(new[] { double.NaN, double.NaN, 0.0 }, DetectionScoring.EmaZScores([2, 2, 2], 0.9, 0));
    }

    [Fact]
    public void EmaZScoresAreBitForBitTheMonitorsStatistic()
    {
        var random = new Random(5);
        var values = Enumerable.Range(0, 200).Select(i => i == 120 ? double.NaN : Math.Exp(random.NextDouble() * 3)).ToArray();
        var monitor = new EmaZScore(0.97, 20);

        var expected = values.Select(monitor.Update).ToArray();

        Assert.Equal(expected, DetectionScoring.EmaZScores(values, 0.97, 20));
    }

    [Fact]
    public void RatioToBaselineUsesTheMedianOfTheFirstFiniteValuesAndComparesBeforeAdding()
    {
        (long, double)[] series = [(0, 2), (5, double.NaN), (10, 4), (15, 3), (20, 6), (25, double.NaN), (30, 1.5)];

        var ratios = DetectionScoring.RatioToBaseline(series, baselineCount: 3);

        Assert.Equal(new long[] { 0, 5, 10, 15, 20, 25, 30 }, ratios.Select(r => r.Step));
        Assert.All(ratios.Take(4), r => Assert.True(double.IsNaN(r.Value)));
        Assert.Equal(2.0, ratios[4].Value); // 6 / median(2, 4, 3) = 6 / 3
        Assert.True(double.IsNaN(ratios[5].Value));
        Assert.Equal(0.5, ratios[6].Value);

        Assert.All(DetectionScoring.RatioToBaseline([(0, 0), (5, 1)], 1), r => Assert.True(double.IsNaN(r.Value)));
    }

    [Fact]
    public void TrendDividesByTheValueWindowObservationsEarlier()
    {
        (long, double)[] series = [(0, 1), (5, 2), (10, 3), (15, 0), (20, 6)];

        var trend = DetectionScoring.Trend(series, window: 2);

        Assert.True(double.IsNaN(trend[0].Value));
        Assert.True(double.IsNaN(trend[1].Value));
        Assert.Equal(3.0, trend[2].Value);
        Assert.Equal(0.0, trend[3].Value);
        Assert.Equal(2.0, trend[4].Value);
        Assert.True(double.IsNaN(DetectionScoring.Trend([(0, 0), (5, 1)], 1)[1].Value));
    }

    [Fact]
    public void InvalidArgumentsNameTheParameter()
    {
        Assert.Equal("alpha", Assert.Throws<ArgumentOutOfRangeException>(() => DetectionScoring.EmaZScores([1.0], 1.0, 0)).ParamName);
        Assert.Equal("baselineCount", Assert.Throws<ArgumentOutOfRangeException>(() => DetectionScoring.RatioToBaseline([], 0)).ParamName);
        Assert.Equal("window", Assert.Throws<ArgumentOutOfRangeException>(() => DetectionScoring.Trend([], 0)).ParamName);
        Assert.Equal("totalSteps", Assert.Throws<ArgumentOutOfRangeException>(() => DetectionScoring.Score([], null, -1, 0)).ParamName);
    }
}
