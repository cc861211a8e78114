using SpectralMonitor.Benchmarks.Detection;
using SpectralMonitor.Probing;

namespace SpectralMonitor.Tests.Detection;

// DetectionScoring.cs in this folder is a link to benchmarks/Detection/DetectionScoring.cs: the detection benchmark's
// scoring functions compiled into this test assembly.
public class DetectionScoringTests
{
    private static DetectorReading[] Readings(params (long Step, bool On)[] readings) => [.. readings.Select(r => new DetectorReading(r.Step, r.On))];

    private static bool[] Alarm(string pattern) => [.. pattern.Select(c => c == '1')];

    [Fact]
    public void ThresholdFiresAtTheThresholdInTheRuleDirectionAndDropsNaN()
    {
        (long, double)[] series = [(0, 0.5), (5, 0.9), (10, double.NaN), (15, double.PositiveInfinity), (20, 0.89)];

        Assert.Equal(Readings((0, false), (5, true), (15, true), (20, false)), DetectionScoring.Threshold(series, 0.9));
        Assert.Equal(Readings((0, true), (5, true), (15, false), (20, true)), DetectionScoring.Threshold(series, 0.9, above: false));
    }

    [Fact]
    public void HoldKeepsEachReadingUntilTheNextAndIsOffBeforeTheFirst()
    {
        var alarm = DetectionScoring.Hold(Readings((2, true), (5, false), (6, true)), steps: 8);

        Assert.Equal(Alarm("00111011"), alarm);
        Assert.Equal(Alarm("000"), DetectionScoring.Hold([], 3));

        // Readings past the end are ignored; two readings at one step: the last wins.
        Assert.Equal(Alarm("01"), DetectionScoring.Hold(Readings((1, false), (1, true), (9, false)), 2));
    }

    [Fact]
    public void FromLevelsIsOnAtOrAboveTheMinimumLevel()
    {
        long[][] changes = [[1, 1], [3, 2], [4, 0], [6, 1]];

        Assert.Equal(Alarm("0111001"), DetectionScoring.FromLevels(changes, 7, minimumLevel: 1));
        Assert.Equal(Alarm("0001000"), DetectionScoring.FromLevels(changes, 7, minimumLevel: 2));
    }

    [Fact]
    public void OnsetsAreOffToOnTransitionsAndOnAtStepZeroIsOne()
    {
        Assert.Equal(new[] { 0, 4, 7 }, DetectionScoring.Onsets(Alarm("11001101")));
        Assert.Empty(DetectionScoring.Onsets(Alarm("0000")));
    }

    [Fact]
    public void OnlyAnOnsetWithinTheHorizonWarnsAndTheLeadIsFromTheEarliestSuchOnset()
    {
        // Onsets at 2, 6 and 9; spikes at 8 and 20; H = 5.
        var alarm = Alarm("001100100110000000000000");
        int[] spikes = [8, 20];

        var score = DetectionScoring.Score(alarm, spikes, horizon: 5);

        // Spike 8: onsets in [3, 7] → 6 (lead 2); onset 2 is too early. Spike 20: onsets in [15, 19] → none.
        Assert.Equal(new[] { 2 }, score.Leads);

        // Onset 2 → spike 8 is 6 steps later (> H): false. Onset 6 → 8: true. Onset 9 → 20 is 11 later: false.
        Assert.Equal(3, score.Onsets);
        Assert.Equal(1, score.TrueOnsets);
        Assert.Equal(5, score.StepsOn);
        Assert.False(score.Stable);

        // With H = 11 both spikes are warned: 8 by onset 2 (the earliest in [−3, 7], lead 6), 20 by onset 9 (lead 11).
        Assert.Equal(new[] { 6, 11 }, DetectionScoring.Score(alarm, spikes, horizon: 11).Leads);
    }

    [Fact]
    public void AnAlarmHeldFromAnEarlyOnsetDoesNotWarnALaterSpike()
    {
        // On from step 1 and never cleared; the spike comes at step 150.
        var alarm = Enumerable.Range(0, 200).Select(t => t >= 1).ToArray();

        var score = DetectionScoring.Score(alarm, [150], horizon: 100);

        Assert.Empty(score.Leads);
        Assert.Equal(1, score.Onsets);
        Assert.Equal(0, score.TrueOnsets);
        Assert.Equal(199, score.StepsOn);
    }

    [Fact]
    public void AnOnsetAtTheSpikesOwnStepIsNeitherAWarningNorTrue()
    {
        var score = DetectionScoring.Score(Alarm("00010"), [3], horizon: 100);

        Assert.Empty(score.Leads);
        Assert.Equal(0, score.TrueOnsets);
    }

    [Fact]
    public void AggregateGivesRecallPrecisionFalseOnsetsStableRunsAndTimeOn()
    {
        RunScore[] runs =
        [
            new(Steps: 1000, Spikes: 2, Leads: [30], Onsets: 3, TrueOnsets: 1, StepsOn: 100),
            new(Steps: 500, Spikes: 1, Leads: [10], Onsets: 1, TrueOnsets: 1, StepsOn: 20),
            new(Steps: 500, Spikes: 0, Leads: [], Onsets: 2, TrueOnsets: 0, StepsOn: 80),
            new(Steps: 2000, Spikes: 0, Leads: [], Onsets: 0, TrueOnsets: 0, StepsOn: 0),
        ];

        var m = DetectionScoring.Aggregate(runs);

        Assert.Equal(4, m.Runs);
        Assert.Equal(4000, m.Steps);
        Assert.Equal(3, m.Spikes);
        Assert.Equal(2, m.WarnedSpikes);
        Assert.Equal(2.0 / 3, m.Recall);
        Assert.Equal(20.0, m.MedianLead);
        Assert.Equal(6, m.Onsets);
        Assert.Equal(2, m.TrueOnsets);
        Assert.Equal(2.0 / 6, m.Precision);
        Assert.Equal(1000.0 * 4 / 4000, m.FalseOnsetsPer1000Steps);
        Assert.Equal(2, m.StableRuns);
        Assert.Equal(1, m.StableRunsAlarmed);
        Assert.Equal(0.5, m.StableRunsAlarmedShare);
        Assert.Equal(200.0 / 4000, m.TimeOn);

        // F1 of recall 2/3 and precision 1/3: 2·(2/9)/(1) = 4/9.
        Assert.Equal(4.0 / 9, m.F1, 1e-15);

        var empty = DetectionScoring.Aggregate([]);
        Assert.True(double.IsNaN(empty.Recall) && double.IsNaN(empty.Precision) && double.IsNaN(empty.MedianLead));
        Assert.Equal(0, empty.F1);
    }

    [Fact]
    public void MedianOfOddAndEvenCountsAndEmpty()
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
        Assert.Equal("horizon", Assert.Throws<ArgumentOutOfRangeException>(() => DetectionScoring.Score([], [], 0)).ParamName);
    }
}
