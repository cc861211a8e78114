using Microsoft.Extensions.Logging.Abstractions;
using SpectralMonitor.Probing;
using SpectralMonitor.Tests.Support;

namespace SpectralMonitor.Tests;

/// <summary>
/// A new measure is a new stage: a stage class added to the runner's list gets its own HVP budget, reads the readings
/// of the stages before it, and its typed reading reaches the probe result (indicators and exported readings) without
/// any change to the runner.
/// </summary>
public class ProbeStageTests
{
    private static readonly double[] Curvatures = [10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05];

    /// <summary>One probe of the fake target (diagonal Hessian, heavy ball) with 60 HVPs and the given stages.</summary>
    private static ProbeResult Probe(ProbeStage<double[]>[] stages)
    {
        var options = new StabilityMonitorOptions
        {
            TopModes = 1,
            KrylovDimension = 6,
            MaxHvpsPerProbe = 60,
            Tolerance = 1e-10,
            Estimators = ProbeEstimators.Sharpness | ProbeEstimators.Modes,
        };
        using var runner = new ProbeRunner<double[]>(new FakeTarget(Curvatures), options, NullLogger.Instance, stages);
        return runner.Run(0, TimeProvider.System, TimeProvider.System.GetTimestamp(), TestContext.Current.CancellationToken);
    }

    [Fact]
    public void AnAddedStageRunsWithWhatIsLeftOfTheBudgetAndReadsEarlierStages()
    {
        var trace = new RayleighStage(minimumHvps: 2);
        var probe = Probe([.. ProbeStages.Default<double[]>(), trace]);

        Assert.Equal(ProbeStatus.Succeeded, probe.Status);
        long sharpnessHvps = probe.Convergence!.OperatorApplications;
        Assert.Equal(60 - sharpnessHvps, trace.BudgetSeen);

        // The stage read the sharpness stage's typed reading (λ_max = 10 exactly: the fake Hessian is diagonal) and
        // one Rayleigh quotient of the all-ones vector: mean curvature 18.85/8, one HVP.
        Assert.Equal(10, trace.SharpnessSeen, 1e-8);
        Assert.Equal(Curvatures.Average(), probe.Indicators["mean_curvature"], 1e-14);
        Assert.Equal(sharpnessHvps + 1, probe.HvpCount);
        var reading = Assert.Single(probe.Readings, r => r.Indicator == "mean_curvature");
        Assert.Equal(RayleighStage.Metric, reading.Metric);
        Assert.Equal("ones", Assert.Single(reading.Tags).Value);
    }

    [Fact]
    public void AStageIsSkippedWhenFewerHvpsAreLeftThanItsMinimum()
    {
        var trace = new RayleighStage(minimumHvps: 1000);
        var probe = Probe([.. ProbeStages.Default<double[]>(), trace]);

        Assert.Equal(ProbeStatus.Succeeded, probe.Status);
        Assert.Equal(-1, trace.BudgetSeen);
        Assert.False(probe.Indicators.ContainsKey("mean_curvature"));
        Assert.True(probe.Indicators.ContainsKey(Indicators.Sharpness));
    }

    [Fact]
    public void AFailingStageFailsTheProbeWithItsReason()
    {
        var probe = Probe([new RayleighStage(minimumHvps: 0) { Fail = true }]);

        Assert.Equal(ProbeStatus.Failed, probe.Status);
        Assert.Equal("no sharpness reading to compare with", probe.FailureReason);
        Assert.Empty(probe.Indicators);
        Assert.Equal(ProbePath.Structured, probe.Path);
    }

    [Fact]
    public void EachPartOfTheProbeIsTimedInOrder_AFailedProbeListsThePartsBeforeIt()
    {
        var time = new ManualTime();
        var options = new StabilityMonitorOptions { TopModes = 1, KrylovDimension = 6, MaxHvpsPerProbe = 60, Estimators = ProbeEstimators.Sharpness | ProbeEstimators.Modes };
        using (var runner = new ProbeRunner<double[]>(new FakeTarget(Curvatures), options, NullLogger.Instance, [.. ProbeStages.Default<double[]>(), new ClockStage(time, TimeSpan.FromSeconds(3))]))
        {
            var probe = runner.Run(0, time, time.GetTimestamp(), TestContext.Current.CancellationToken);
            Assert.Equal(ProbeStatus.Succeeded, probe.Status);
            Assert.Equal(["open", "sharpness", "modes", "clock"], probe.StageDurations.Keys);
            Assert.Equal(TimeSpan.FromSeconds(3), probe.StageDurations["clock"]);
            Assert.Equal(TimeSpan.Zero, probe.StageDurations["sharpness"]);
            Assert.Equal(TimeSpan.FromSeconds(3), probe.Duration);
        }

        using (var runner = new ProbeRunner<double[]>(new FakeTarget(Curvatures), options, NullLogger.Instance, [new ClockStage(time, TimeSpan.FromSeconds(2)), new RayleighStage(minimumHvps: 0) { Fail = true }]))
        {
            var probe = runner.Run(0, time, time.GetTimestamp(), TestContext.Current.CancellationToken);
            Assert.Equal(ProbeStatus.Failed, probe.Status);
            Assert.Equal(["open", "clock", "rayleigh"], probe.StageDurations.Keys);
            Assert.Equal(TimeSpan.FromSeconds(2), probe.StageDurations["clock"]);
        }
    }

    /// <summary>A stage that takes a known time on the manual clock and measures nothing.</summary>
    private sealed class ClockStage(ManualTime time, TimeSpan takes) : ProbeStage<double[]>
    {
        public override string Name => "clock";

        public override bool Applies(ProbeFrame<double[]> frame) => true;

        public override string? Run(ProbeFrame<double[]> frame, StageBudget budget, CancellationToken cancellationToken)
        {
            time.Advance(takes);
            return null;
        }
    }

    private sealed record MeanCurvatureReading(double Value) : StageReading
    {
        public override IEnumerable<ProbeReading> Readings() =>
            [new ProbeReading("mean_curvature", Value, RayleighStage.Metric, [new("vector", "ones")])];
    }

    /// <summary>The Rayleigh quotient of the all-ones vector (the mean curvature of a diagonal Hessian): one HVP.</summary>
    private sealed class RayleighStage(long minimumHvps) : ProbeStage<double[]>
    {
        public static MetricDefinition Metric { get; } = new("test.mean_curvature", null, "Mean curvature.");

        public override string Name => "rayleigh";

        public long BudgetSeen { get; private set; } = -1;

        public double SharpnessSeen { get; private set; } = double.NaN;

        public bool Fail { get; init; }

        public override bool Applies(ProbeFrame<double[]> frame) => true;

        public override long MinimumHvps(ProbeFrame<double[]> frame) => minimumHvps;

        public override string? Run(ProbeFrame<double[]> frame, StageBudget budget, CancellationToken cancellationToken)
        {
            BudgetSeen = budget.Hvps;
            var sharpness = frame.Readings.OfType<Probing.Stages.SharpnessReading>().FirstOrDefault();
            if (Fail || sharpness is null)
            {
                return "no sharpness reading to compare with";
            }

            SharpnessSeen = sharpness.Sharpness;
            var space = frame.Hessian.Space;
            var ones = space.CreateVector();
            var product = space.CreateVector();
            Array.Fill(ones, 1.0);
            frame.Hessian.Apply(ones, product);
            frame.Add(new MeanCurvatureReading(space.Dot(ones, product) / space.Dot(ones, ones)));
            return null;
        }
    }
}
