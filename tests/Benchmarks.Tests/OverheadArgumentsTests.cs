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
        var (code, _, error) = Run("--cold", "--setups", "mlp-adam,cnn-adam");
        Assert.Equal(2, code);
        Assert.Contains("exactly one setup", error, StringComparison.Ordinal);
    }

    [Fact]
    public void AColdSmokePassPrintsOneRowOfItsSetup()
    {
        var (code, output, _) = Run("--cold", "--smoke", "--setups", "mlp-sgdm", "--batch-curvature");
        Assert.Equal(0, code);
        var row = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("| mlp-sgdm | yes | 60 |", row, StringComparison.Ordinal);
    }

    /// <summary>The harness's exit code and what it wrote (the collection runs alone, so nothing else writes meanwhile).</summary>
    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var (previousOut, previousError) = (Console.Out, Console.Error);
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            return (OverheadBenchmark.Run(args), output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(previousOut);
            Console.SetError(previousError);
        }
    }
}
