using SpectralMonitor.Benchmarks.Torch;

namespace SpectralMonitor.Torch.Tests;

/// <summary>
/// The GPU check (benchmarks/Torch gpu-check) end to end on the CPU with tiny models: the same code a person runs on a
/// CUDA machine, so that it is known to work before anyone spends GPU time on it. What only CUDA can show (the random
/// vectors drawn on the host and copied, the time split with device synchronisation, device memory) is exercised on
/// CUDA alone.
/// </summary>
[Collection(SerialTorchTests.Name)]
public class GpuCheckOnCpuTests
{
    [Fact]
    public void EveryCheckPassesOnTheCpu()
    {
        using var output = new StringWriter();
        int code = GpuCheck.Run(["--device", "cpu", "--size", "small"], output);
        string text = output.ToString();
        Assert.True(code == 0, text);
        foreach (var check in new[] { "random vectors", "HVP vs central differences (float64)", "HVP device vs CPU (float64)", "HVP float32 vs float64", "monitored training, stable rate", "monitored training, unstable rate" })
        {
            Assert.Contains("PASS  " + check, text, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("FAIL", text, StringComparison.Ordinal);
        Assert.Contains("| step | loss | status | HVPs |", text, StringComparison.Ordinal);
    }

    [Fact]
    public void BadArgumentsExitWithTwo()
    {
        var error = Console.Error;
        using var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            Assert.Equal(2, GpuCheck.Run(["--device", "tpu"], TextWriter.Null));
            Assert.Equal(2, GpuCheck.Run(["--size", "huge", "--device", "cpu"], TextWriter.Null));
        }
        finally
        {
            Console.SetError(error);
        }

        Assert.Contains("usage", captured.ToString(), StringComparison.Ordinal);
    }
}
