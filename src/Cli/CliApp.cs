using System.CommandLine;
using System.Diagnostics.CodeAnalysis;

namespace SpectralMonitor.Cli;

/// <summary>The <c>spectral-monitor</c> command line, runnable in-process with any output writers.</summary>
internal static class CliApp
{
    /// <summary>Exit code of an unreadable or malformed input file, an invalid option value, or a matrix whose measures cannot be computed.</summary>
    public const int InputError = 2;

    /// <summary>Exit code of an internal error (a bug): still one line, never a stack trace.</summary>
    public const int InternalError = 3;

    private const string Usage = "usage: spectral-monitor analyze FILE.mtx [--k N] [--horizon K] [--dense] [--json]";

    /// <summary>Parses <paramref name="args"/> and runs the command; returns the exit code.</summary>
    [SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "Last-resort handler: the CLI promises one line on stderr and never a stack trace.")]
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            var root = BuildRootCommand(output, error);
            var parsed = root.Parse(args);
            if (parsed.Errors.Count > 0 && !args.Any(a => a is "-h" or "--help" or "-?"))
            {
                // Usage errors (unknown options, missing arguments, bad values) are exit code 2 and one line, like bad input.
                var problems = string.Join("; ", parsed.Errors.Select(e => e.Message.TrimEnd('.')));
                return Fail(error, $"{problems}. {Usage}");
            }

            return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (OutOfMemoryException)
        {
            return Fail(error, "not enough memory for this analysis (see 'spectral-monitor analyze --help' for the size limits).");
        }
        catch (OperationCanceledException)
        {
            return Fail(error, "cancelled.");
        }
        catch (Exception e)
        {
            Fail(error, $"internal error ({e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}); please report it.");
            return InternalError;
        }
    }

    private static int Fail(TextWriter error, string message)
    {
        error.Write("error: " + ConsoleText.Printable(message) + "\n");
        return InputError;
    }

    private static RootCommand BuildRootCommand(TextWriter output, TextWriter error)
    {
        var file = new Argument<string>("file") { Description = "Matrix Market file: coordinate (real, integer or pattern) or array (real or integer); general, symmetric or skew-symmetric." };
        var k = new Option<int>("--k") { Description = $"Krylov method: number of leading Ritz values, 1 … {CliLimits.MaxK}.", DefaultValueFactory = _ => 6 };
        var horizon = new Option<int>("--horizon") { Description = $"Largest power K of the transient growth max_{{k≤K}} ‖Aᵏ‖, 1 … {CliLimits.MaxHorizon:N0}.", DefaultValueFactory = _ => 50 };
        var dense = new Option<bool>("--dense") { Description = $"Force the dense method, up to n = {CliLimits.MaxDenseDimension:N0} (default: dense when n ≤ {MatrixAnalysis.DenseLimit}, Krylov above). Time grows as n³." };
        var json = new Option<bool>("--json") { Description = "Print exactly one JSON object instead of a table." };
        var analyze = new Command("analyze", "Non-normality measures of a square matrix: ρ, κ(V), transient growth, Kreiss constant, numerical abscissa and radius. " + CliLimits.Summary)
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
        if (k < 1 || k > CliLimits.MaxK)
        {
            return Fail(error, $"--k must be between 1 and {CliLimits.MaxK}; got {k}.");
        }

        if (horizon < 1 || horizon > CliLimits.MaxHorizon)
        {
            return Fail(error, $"--horizon must be between 1 and {CliLimits.MaxHorizon:N0}; got {horizon}.");
        }

        if (Directory.Exists(path))
        {
            return Fail(error, $"{path}: is a directory, not a Matrix Market file.");
        }

        if (!File.Exists(path))
        {
            return Fail(error, $"{path}: file not found.");
        }

        MatrixMarketMatrix matrix;
        try
        {
            matrix = MatrixMarketReader.ReadFile(path, forceDense ? ReadLimits.Dense : ReadLimits.Krylov);
        }
        catch (MatrixMarketFormatException e)
        {
            return Fail(error, $"{path}: line {e.LineNumber}: {e.Problem}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(error, $"{path}: cannot read the file ({e.Message.ReplaceLineEndings(" ")}).");
        }

        // The Krylov method runs only for n > DenseLimit = 500, so k ≤ MaxK = 50 always leaves Arnoldi its k + 2 ≤ n.
        bool useDense = forceDense || matrix.Dimension <= MatrixAnalysis.DenseLimit;

        AnalysisReport report;
        try
        {
            var assembled = AssembledMatrix.From(matrix);
            report = useDense
                ? MatrixAnalysis.Dense(assembled, horizon, cancellationToken)
                : MatrixAnalysis.Krylov(assembled, k, horizon, cancellationToken);
        }
        catch (AnalysisException e)
        {
            return Fail(error, $"{path}: {e.Message}");
        }

        output.Write(json ? ReportWriter.ToJson(report) + "\n" : ReportWriter.ToTable(report, path));
        return 0;
    }
}
