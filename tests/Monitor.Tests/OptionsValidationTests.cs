using SpectralMonitor.Backoff;
using SpectralMonitor.Rules;
using SpectralMonitor.Tests.Support;

namespace SpectralMonitor.Tests;

public class OptionsValidationTests
{
    public static TheoryData<string, string, string> InvalidOptions => new()
    {
        { "ProbeInterval", "0", "[1, 1000000]" },
        { "OverheadBudget", "0", "(0, 1]" },
        { "OverheadBudget", "1.5", "(0, 1]" },
        { "MaxHvpsPerProbe", "2", "[4, 100000]" },
        { "KrylovDimension", "2", "[TopModes + 2 = 3, 256]" },
        { "Tolerance", "0", "[1e-14, 0.5]" },
        { "Estimators", "128", "combination of the defined flags" },
        { "Estimators", "Modes", "Modes only together with Sharpness" },
        { "ProbeTimeout", "00:00:00", "(0, 1 h]" },
        { "KrylovDimension", "200", "at most MaxHvpsPerProbe = 120" },
    };

    private static StabilityMonitorOptions With(string option, string value) => option switch
    {
        "ProbeInterval" => new() { ProbeInterval = int.Parse(value) },
        "OverheadBudget" => new() { OverheadBudget = double.Parse(value) },
        "MaxHvpsPerProbe" => new() { MaxHvpsPerProbe = int.Parse(value) },
        "KrylovDimension" => new() { KrylovDimension = int.Parse(value) },
        "Tolerance" => new() { Tolerance = double.Parse(value) },
        "Estimators" => new() { Estimators = Enum.Parse<ProbeEstimators>(value) },
        "ProbeTimeout" => new() { ProbeTimeout = TimeSpan.Parse(value) },
        _ => throw new ArgumentOutOfRangeException(nameof(option)),
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void InvalidOptionIsRejectedWithItsNameAndRange(string option, string value, string allowed)
    {
        var error = Assert.Throws<ArgumentException>(() => StabilityMonitor.Create(new FakeTarget([1.0, 2.0]), With(option, value)));
        Assert.Contains("StabilityMonitorOptions." + option, error.Message, StringComparison.Ordinal);
        Assert.Contains(allowed, error.Message, StringComparison.Ordinal);
        Assert.Equal(option, error.ParamName);
    }

    [Theory]
    [InlineData(0.0, 0.25, "WarningFactor")]
    [InlineData(1.0, 0.25, "WarningFactor")]
    [InlineData(0.5, 0.75, "CriticalFactor")]
    public void BackoffFactorsOutsideTheUnitIntervalAreRejected(double warning, double critical, string field)
    {
        var options = new StabilityMonitorOptions { Backoff = new BackoffOptions { WarningFactor = warning, CriticalFactor = critical } };
        var error = Assert.Throws<ArgumentException>(() => StabilityMonitor.Create(new FakeTarget([1.0]), options));
        Assert.Contains("BackoffOptions." + field, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(1_000_001)]
    public void EscalationStepsOutsideItsRangeAreRejected(int steps)
    {
        var options = new StabilityMonitorOptions { Backoff = new BackoffOptions { EscalationSteps = steps } };
        var error = Assert.Throws<ArgumentException>(() => StabilityMonitor.Create(new FakeTarget([1.0]), options));
        Assert.Contains($"BackoffOptions.EscalationSteps is {steps}; allowed: null or [1, 1000000]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FloorAboveTheBaseRateIsRejected()
    {
        var options = new StabilityMonitorOptions { Backoff = new BackoffOptions { MinimumLearningRate = 0.5 } };
        var error = Assert.Throws<ArgumentException>(() => StabilityMonitor.Create(new FakeTarget([1.0], learningRate: 0.1), options));
        Assert.Contains("MinimumLearningRate (0.5) is above the base learning rate of parameter group 0 (0.1)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RulesAreValidatedAndMustHaveUniqueNames()
    {
        var rule = new AlertRule("r", Indicators.Sharpness, RuleComparison.Absolute, 2, 1);
        var error = Assert.Throws<ArgumentException>(() => StabilityMonitor.Create(new FakeTarget([1.0]), new StabilityMonitorOptions { Rules = [rule] }));
        Assert.Contains("Critical (1) must lie beyond Warning (2)", error.Message, StringComparison.Ordinal);

        var ok = new AlertRule("r", Indicators.Sharpness, RuleComparison.Absolute, 1, 2);
        error = Assert.Throws<ArgumentException>(() => StabilityMonitor.Create(new FakeTarget([1.0]), new StabilityMonitorOptions { Rules = [ok, ok] }));
        Assert.Contains("unique rule names", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultsAreValid() => new StabilityMonitorOptions().Validate();
}
