using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Benchmarks.Torch;

/// <summary>
/// Reproduces TorchSharp 0.107's early release of temporary Scalars: <c>t.add_(u, alpha: 1e-9)</c> converts the double
/// to a Scalar that nothing keeps alive during the native call, so a garbage collection started by another thread can
/// run its finalizer (which frees the native Scalar) while libtorch still reads it. Four loops of the same call: the
/// number converted implicitly or through a disposed <c>using Scalar</c>, each with and without a second thread that
/// allocates, each repeated. A loop stops at its first failure; one that ends checks its sum bit for bit. See
/// docs/reliability.md.
/// </summary>
internal static class ScalarLifetime
{
    private const double Alpha = 1e-9;

    public static int Run(string[] args, TextWriter output)
    {
        int calls = 2_000_000, repetitions = 5;
        for (int i = 0; i < args.Length; i += 2)
        {
            bool ok = i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out int value) && value > 0;
            if (ok && args[i] == "--calls")
            {
                calls = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
            else if (ok && args[i] == "--repetitions")
            {
                repetitions = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
            else
            {
                Console.Error.WriteLine("usage: scalar-lifetime [--calls N] [--repetitions R]");
                return 2;
            }
        }

        output.WriteLine($"scalar-lifetime: {repetitions} loops of at most {calls} calls of t.add_(u, alpha) per row, each stopped at its first failure; TorchSharp {typeof(Scalar).Assembly.GetName().Version}, .NET {Environment.Version}, {Environment.ProcessorCount} cores");
        output.WriteLine($"{"alpha",-20} {"other thread",-13} {"failed",7} {"calls before each failure",-28} {"collections",12} {"seconds",8}  first failure");
        foreach (bool explicitScalar in new[] { false, true })
        {
            foreach (bool allocate in new[] { false, true })
            {
                var loops = Enumerable.Range(0, repetitions).Select(_ => Loop(calls, explicitScalar, allocate)).ToArray();
                var failures = loops.Where(l => l.Outcome is not null).ToArray();
                string before = failures.Length == 0 ? "–" : string.Join(", ", failures.Select(f => f.Calls.ToString(CultureInfo.InvariantCulture)));
                string first = failures.FirstOrDefault().Outcome ?? string.Empty;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{(explicitScalar ? "using Scalar" : "implicit (double)"),-20} {(allocate ? "allocates" : "idle"),-13} {failures.Length,3} of {repetitions,-2} {before,-28} {loops.Sum(l => l.Collections),12} {loops.Sum(l => l.Seconds),8:F1}  {first}"));
            }
        }

        return 0;
    }

    private static (string? Outcome, int Calls, int Collections, double Seconds) Loop(int calls, bool explicitScalar, bool allocate)
    {
        using var t = torch.zeros(4, dtype: float32);
        using var u = torch.ones(4, dtype: float32);
        int before = GC.CollectionCount(0);
        var watch = Stopwatch.StartNew();
        var storm = AllocationStorm.StartIf(allocate);

        int done = 0;
        string? outcome;
        try
        {
            for (; done < calls; done++)
            {
                if (explicitScalar)
                {
                    using Scalar alpha = Alpha.ToScalar();
                    t.add_(u, alpha);
                }
                else
                {
                    t.add_(u, Alpha);
                }
            }

            // Every call added (float)1e-9 to each element, in float32: a freed Scalar read as another number shows here.
            float expected = 0;
            for (int i = 0; i < calls; i++)
            {
                expected += (float)Alpha;
            }

            float actual = t[0].ToSingle();
            outcome = actual == expected ? null : FormattableString.Invariant($"wrong sum {actual:G9} (expected {expected:G9})");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            outcome = e.Message.Split('\n')[0].Trim();
            outcome = outcome.Length > 60 ? outcome[..57] + "..." : outcome;
        }
        finally
        {
            storm?.Dispose();
        }

        return (outcome, done, GC.CollectionCount(0) - before, watch.Elapsed.TotalSeconds);
    }
}
