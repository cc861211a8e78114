using BenchmarkDotNet.Running;
using SpectralMonitor.Benchmarks;

// Harnesses print ratios measured side by side in one run; anything else goes to BenchmarkDotNet.
//   dotnet run -c Release --project benchmarks -- krylov-vs-power
//   dotnet run -c Release --project benchmarks -- orthogonalization-overhead
//   dotnet run -c Release --project benchmarks -- --filter "*LanczosLaplacian*"
switch (args.FirstOrDefault())
{
    case "krylov-vs-power":
        KrylovVsPower.Run();
        return 0;
    case "orthogonalization-overhead":
        OrthogonalizationOverhead.Run();
        return 0;
    default:
        BenchmarkSwitcher.FromAssembly(typeof(LanczosLaplacianBenchmark).Assembly).Run(args);
        return 0;
}
