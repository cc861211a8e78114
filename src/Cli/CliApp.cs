using System.CommandLine;

namespace SpectralMonitor.Cli;

/// <summary>The <c>spectral-monitor</c> command line, runnable in-process with any output writers.</summary>
internal static class CliApp
{
    /// <summary>Exit code of an unreadable or malformed input file, or an invalid option value.</summary>
    public const int InputError = 2;

    /// <summary>Parses <paramref name="args"/> and runs the command; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        var root = BuildRootCommand(output, error);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && !args.Any(a => a is "-h" or "--help" or "-?"))
        {
            // Usage errors (unknown options, missing arguments, bad values) are exit code 2, like bad input.
            foreach (var problem in parsed.Errors)
            {
                error.WriteLine($"error: {problem.Message}");
            }

            error.WriteLine("usage: spectral-monitor analyze FILE.mtx [--k N] [--horizon K] [--dense] [--json]");
            return InputError;
        }

        return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error });
    }

    private static RootCommand BuildRootCommand(TextWriter output, TextWriter error)
    {
        var file = new Argument<string>("file") { Description = "Matrix Market file (coordinate or array; real or integer; general or symmetric)." };
        var k = new Option<int>("--k") { Description = "Krylov method: number of leading Ritz values.", DefaultValueFactory = _ => 6 };
        var horizon = new Option<int>("--horizon") { Description = "Largest power K of the transient growth max_{k≤K} ‖Aᵏ‖.", DefaultValueFactory = _ => 50 };
        var dense = new Option<bool>("--dense") { Description = $"Force the dense method (default: dense when n ≤ {MatrixAnalysis.DenseLimit}, Krylov above)." };
        var json = new Option<bool>("--json") { Description = "Print exactly one JSON object instead of a table." };
        var analyze = new Command("analyze", "Non-normality measures of a square matrix: ρ, κ(V), transient growth, Kreiss constant, numerical abscissa and radius.")
        {
            file,
            k,
            horizon,
            dense,
            json,
        };
        analyze.SetAction((result, cancellationToken) => Task.FromResult(Analyze(
            result.GetValue(file)!,
            result.GetValue(k),
            result.GetValue(horizon),
            result.GetValue(dense),
            result.GetValue(json),
            output,
            error,
            cancellationToken)));
        var root = new RootCommand("SpectralMonitor: non-normality analysis of matrices.") { analyze };
        return root;
    }

    private static int Analyze(string path, int k, int horizon, bool forceDense, bool json, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (k < 1)
        {
            error.WriteLine($"error: --k must be at least 1; got {k}.");
            return InputError;
        }

        if (horizon < 1)
        {
            error.WriteLine($"error: --horizon must be at least 1; got {horizon}.");
            return InputError;
        }

        if (!File.Exists(path))
        {
            error.WriteLine($"error: {path}: file not found.");
            return InputError;
        }

        MatrixMarketMatrix matrix;
        try
        {
            matrix = MatrixMarketReader.ReadFile(path);
        }
        catch (MatrixMarketFormatException e)
        {
            error.WriteLine($"error: {path}: line {e.LineNumber}: {e.Problem}");
            return InputError;
        }
        catch (IOException e)
        {
            error.WriteLine($"error: {path}: cannot read the file ({e.Message.ReplaceLineEndings(" ")}).");
            return InputError;
        }
        catch (UnauthorizedAccessException e)
        {
            error.WriteLine($"error: {path}: cannot read the file ({e.Message.ReplaceLineEndings(" ")}).");
            return InputError;
        }

        bool useDense = forceDense || matrix.Dimension <= MatrixAnalysis.DenseLimit;
        if (!useDense && k + 2 > matrix.Dimension)
        {
            error.WriteLine($"error: --k {k} is too large for n = {matrix.Dimension} (the Krylov method needs k + 2 ≤ n).");
            return InputError;
        }

        var report = useDense
            ? MatrixAnalysis.Dense(matrix.ToDense(), horizon)
            : MatrixAnalysis.Krylov(matrix, k, horizon, cancellationToken);
        output.Write(json ? ReportWriter.ToJson(report) + "\n" : ReportWriter.ToTable(report, path));
        return 0;
    }
}
