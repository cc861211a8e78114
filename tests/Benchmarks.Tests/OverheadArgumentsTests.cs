using SpectralMonitor.Benchmarks.Detection;

namespace SpectralMonitor.Benchmarks.Tests;

/// <summary>
/// The overhead harness's cold pass (<c>overhead --cold</c>): it measures the first run of a process, so it refuses
/// more than one setup with exit code 2, and on one setup it trains a short monitored pass and exits 0.
/// </summary>
[Collection(GlobalGeneratorTests.Name)]
public sealed class OverheadArgumentsTests
{
    [Fact]
    public void TheColdPassTakesExactlyOneSetup()
    {
        var error = new StringWriter();
        var previous = Console.Error;
        Console.SetError(error);
        try
        {
            Assert.Equal(2, OverheadBenchmark.Run(["--cold", "--setups", "mlp-adam,cnn-adam"]));
        }
        finally
        {
            Console.SetError(previous);
        }

        Assert.Contains("exactly one setup", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void AColdSmokePassPrintsOneRowOfItsSetup()
    {
        var output = new StringWriter();
        var previous = Console.Out;
        Console.SetOut(output);
        try
        {
            Assert.Equal(0, OverheadBenchmark.Run(["--cold", "--smoke", "--setups", "mlp-sgdm", "--batch-curvature"]));
        }
        finally
        {
            Console.SetOut(previous);
        }

        var row = Assert.Single(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("| mlp-sgdm | yes | 60 |", row, StringComparison.Ordinal);
    }
}
