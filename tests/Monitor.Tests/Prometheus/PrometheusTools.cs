using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;

namespace SpectralMonitor.Tests.Prometheus;

/// <summary>
/// Finds the <c>prometheus</c> and <c>promtool</c> binaries and the repository's observability assets. A missing
/// binary skips the test with install instructions, except under CI (environment variable <c>CI</c> set), where it
/// fails the test.
/// </summary>
internal static class PrometheusTools
{
    public const string InstallHint =
        "install the Debian package 'prometheus' (apt-get update && apt-get install -y prometheus), which provides both prometheus and promtool, or put them on PATH";

    /// <summary>The full path of <paramref name="tool"/>, or skip/fail the test when it is not installed.</summary>
    public static string Require(string tool)
    {
        var found = Find(tool);
        if (found is not null)
        {
            return found;
        }

        var message = $"'{tool}' was not found on PATH; {InstallHint}.";
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
        {
            Assert.Fail($"{message} The CI environment variable is set, so this test must run.");
        }

        Assert.Skip($"Did not run: {message}");
        throw new UnreachableException();
    }

    /// <summary>The examples/observability folder of this repository.</summary>
    public static string ObservabilityDirectory([CallerFilePath] string sourceFile = "")
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("SPECTRAL_MONITOR_REPO") is { Length: > 0 } repo)
        {
            candidates.Add(repo);
        }

        // This file lives in tests/Monitor.Tests/Prometheus/ of the repository.
        candidates.Add(Path.Combine(Path.GetDirectoryName(sourceFile) ?? ".", "..", "..", ".."));
        candidates.AddRange(Ancestors(Directory.GetCurrentDirectory()));
        candidates.AddRange(Ancestors(AppContext.BaseDirectory));
        foreach (var candidate in candidates)
        {
            var directory = Path.GetFullPath(Path.Combine(candidate, "examples", "observability"));
            if (File.Exists(Path.Combine(directory, "alerts.yml")))
            {
                return directory;
            }
        }

        Assert.Fail($"examples/observability/alerts.yml not found from {string.Join(", ", candidates)}; set SPECTRAL_MONITOR_REPO to the repository root.");
        throw new UnreachableException();
    }

    /// <summary>Runs a process to completion (bounded), feeding <paramref name="stdin"/>, and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> arguments, string? stdin, string? workingDirectory, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Directory.GetCurrentDirectory(),
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        try
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (stdin is not null)
            {
                await process.StandardInput.WriteAsync(stdin);
            }

            process.StandardInput.Close();
            using var cancel = new CancellationTokenSource(timeout);
            await process.WaitForExitAsync(cancel.Token);
            return (process.ExitCode, new StringBuilder().Append(await output).Append(await error).ToString());
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static string? Find(string tool)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var directory in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static IEnumerable<string> Ancestors(string start)
    {
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        {
            yield return directory.FullName;
        }
    }
}
