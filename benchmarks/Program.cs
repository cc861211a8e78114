using BenchmarkDotNet.Running;
using SpectralMonitor.Benchmarks;

// Harnesses print ratios measured side by side in one run; anything else goes to BenchmarkDotNet.
//   dotnet run -c Release --project benchmarks -- krylov-vs-power
//   dotnet run -c Release --project benchmarks -- orthogonalization-overhead
//   dotnet run -c Release --project benchmarks -- detection   (detection sweep: the learning-rate sweep behind it)
//   DOTNET_TieredCompilation=0 dotnet run -c Release --project benchmarks -- overhead [--reps N] [--setups mlp-sgdm,...] [--smoke]
//   dotnet run -c Release --project benchmarks -- load   (scrape load on the Prometheus endpoint during training)
//   dotnet run -c Release --project benchmarks -- --filter "*LanczosLaplacian*"
switch (args.FirstOrDefault())
{
    case "krylov-vs-power":
        KrylovVsPower.Run();
        return 0;
    case "orthogonalization-overhead":
        OrthogonalizationOverhead.Run();
        return 0;
    case "detection":
        return SpectralMonitor.Benchmarks.Detection.DetectionBenchmark.Run(args.Skip(1).ToArray());
    case "overhead":
        return SpectralMonitor.Benchmarks.Detection.OverheadBenchmark.Run(args.Skip(1).ToArray());
    case "load":
        return SpectralMonitor.Benchmarks.Load.LoadBenchmark.Run();
    default:
        BenchmarkSwitcher.FromAssembly(typeof(LanczosLaplacianBenchmark).Assembly).Run(args);
        return 0;
}
