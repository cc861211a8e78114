using SpectralMonitor.Probing;

namespace SpectralMonitor.Tests;

/// <summary>The derived probe timeout (StabilityMonitorOptions.ProbeTimeout = null) and a fixed one.</summary>
public class ProbeTimeoutPolicyTests
{
    private static ProbeResult Probe(ProbeStatus status, double seconds, long hvps) =>
        new(0, status, status == ProbeStatus.Failed ? "failed" : null, ProbePath.Structured, TimeSpan.FromSeconds(seconds), hvps, new Dictionary<string, double>(), [], null);

    [Fact]
    public void AFixedTimeoutIsUsedAsGiven()
    {
        var policy = new ProbeTimeoutPolicy(new StabilityMonitorOptions { ProbeTimeout = TimeSpan.FromSeconds(7) });
        policy.Record(Probe(ProbeStatus.Succeeded, 100, 10));
        Assert.Equal(TimeSpan.FromSeconds(7), policy.Next(stepSeconds: 3));
    }

    [Fact]
    public void TheDerivedTimeoutFollowsTheMeasuredTimePerHvp()
    {
        var options = new StabilityMonitorOptions { MaxHvpsPerProbe = 120 };
        var policy = new ProbeTimeoutPolicy(options);

        // Nothing timed yet: ten minutes.
        Assert.Equal(TimeSpan.FromMinutes(10), policy.Next(double.NaN));

        // Steps timed, no probe: three steps per HVP, 3 × (120 + 2) HVPs: 0.1 s steps give 3 × 122 × 0.3 = 109.8 s.
        Assert.Equal(109.8, policy.Next(0.1).TotalSeconds, 1e-9);

        // A probe of 12 s for 8 HVPs: 1.5 s per HVP, 3 × 122 × 1.5 = 549 s, whatever the step time.
        policy.Record(Probe(ProbeStatus.Succeeded, 12, 8));
        Assert.Equal(549, policy.Next(0.1).TotalSeconds, 1e-9);

        // Failed probes and probes without HVPs do not count; the largest of the last five per-HVP times does.
        policy.Record(Probe(ProbeStatus.Failed, 1000, 10));
        policy.Record(Probe(ProbeStatus.Succeeded, 5, 0));
        Assert.Equal(549, policy.Next(0.1).TotalSeconds, 1e-9);
        for (int i = 0; i < 5; i++)
        {
            policy.Record(Probe(ProbeStatus.Succeeded, 0.8, 8));
        }

        // The slow probe has left the window: 0.1 s per HVP → 36.6 s.
        Assert.Equal(36.6, policy.Next(0.1).TotalSeconds, 1e-9);

        // Fast steps: 1 ms per step → 1.1 s, raised to the 30 s floor.
        var fresh = new ProbeTimeoutPolicy(options);
        Assert.Equal(TimeSpan.FromSeconds(30), fresh.Next(0.001));
    }

    [Fact]
    public void TheDerivedTimeoutIsClamped()
    {
        var policy = new ProbeTimeoutPolicy(new StabilityMonitorOptions());
        policy.Record(Probe(ProbeStatus.Succeeded, 0.001, 10));
        Assert.Equal(TimeSpan.FromSeconds(30), policy.Next(0.1));
        policy.Record(Probe(ProbeStatus.Succeeded, 100_000, 10));
        Assert.Equal(TimeSpan.FromHours(1), policy.Next(0.1));
    }

    [Fact]
    public void NullIsTheDefaultAndValid()
    {
        Assert.Null(new StabilityMonitorOptions().ProbeTimeout);
        new StabilityMonitorOptions().Validate();
        var error = Assert.Throws<ArgumentException>(() => new StabilityMonitorOptions { ProbeTimeout = TimeSpan.FromHours(2) }.Validate());
        Assert.Contains("(0, 1 h]", error.Message, StringComparison.Ordinal);
    }
}
