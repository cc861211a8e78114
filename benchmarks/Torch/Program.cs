using SpectralMonitor.Benchmarks.Torch;

// TorchSharp harnesses (they load libtorch, so they live apart from benchmarks/Benchmarks.csproj):
//   dotnet run -c Release --project benchmarks/Torch -- probe-cost [--tiny] [--model mlp|gpt] [--probes N] [--interval K] [--warmup W] [--warm-only]
//   dotnet run -c Release --project benchmarks/Torch -- warm-subspace [--model mlp|gpt]
//   dotnet run -c Release --project benchmarks/Torch -- stopping-rules --model mlp|gpt --out FILE.jsonl
//   dotnet run -c Release --project benchmarks/Torch -- gpu-check [--device cuda|cpu] [--size small|full] [--steps N]
//   (on a machine with only PyTorch's CUDA libtorch: benchmarks/Torch/gpu-check.sh)
//   dotnet run -c Release --project benchmarks/Torch -- scalar-lifetime [--calls N] [--repetitions R]
try
{
    return args.FirstOrDefault() switch
    {
        "probe-cost" => ProbeCostBenchmark.Run(args[1..]),
        "gpu-check" => GpuCheck.Run(args[1..], Console.Out),
        "scalar-lifetime" => ScalarLifetime.Run(args[1..], Console.Out),
        "warm-subspace" => WarmSubspaceStudy.Run(args[1..]),
        "stopping-rules" => StoppingRuleStudy.Run(args[1..]),
        _ => Usage(),
    };
}
catch (Exception ex) when (ex is not OutOfMemoryException)
{
    Console.Error.WriteLine($"{args.FirstOrDefault()}: {ex.GetType().Name}: {ex.Message.Split('\n')[0]}");
    return 1;
}

static int Usage()
{
    Console.Error.WriteLine("usage: SpectralMonitor.Benchmarks.Torch probe-cost [--tiny] [--model mlp|gpt] [--probes N] [--interval K] [--warmup W] [--warm-only] | warm-subspace [--model mlp|gpt] | stopping-rules --model mlp|gpt --out FILE.jsonl | gpu-check [--device cuda|cpu] [--size small|full] [--steps N] | scalar-lifetime [--calls N] [--repetitions R]");
    return 2;
}
