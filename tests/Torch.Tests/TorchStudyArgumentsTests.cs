using SpectralMonitor.Benchmarks.Torch;

namespace SpectralMonitor.Torch.Tests;

/// <summary>The TorchSharp studies refuse bad arguments with one line on stderr and exit code 2, before any training.</summary>
[Collection(SerialTorchTests.Name)]
public class TorchStudyArgumentsTests
{
    [Theory]
    [InlineData("stopping-rules", "--model", "cnn", "--out", "x.jsonl")]
    [InlineData("stopping-rules", "--model", "mlp")]
    [InlineData("stopping-rules", "--model", "mlp", "--out", "x.jsonl", "--probes", "0")]
    [InlineData("stopping-rules", "--model", "mlp", "--out", "x.jsonl", "--probes", "many")]
    [InlineData("warm-subspace", "--model", "cnn")]
    [InlineData("probe-cost", "--model", "cnn")]
    public void BadArgumentsExitWithTwoAndOneLine(string study, params string[] arguments)
    {
        var error = Console.Error;
        using var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            int code = study switch
            {
                "stopping-rules" => StoppingRuleStudy.Run(arguments),
                "probe-cost" => ProbeCostBenchmark.Run(arguments),
                _ => WarmSubspaceStudy.Run(arguments),
            };
            Assert.Equal(2, code);
        }
        finally
        {
            Console.SetError(error);
        }

        string message = captured.ToString();
        Assert.Single(message.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(study + ":", message, StringComparison.Ordinal);
        Assert.False(File.Exists("x.jsonl"), "nothing is written on bad input");
    }
}
