using System.Text;

namespace SpectralMonitor.Cli.Tests;

/// <summary>
/// Issue 14, item 10, the inputs that have no end or are too big to commit, made at run time: /dev/zero, a 1 GiB file
/// without a line break, and named pipes fed for ever. Each is a child process that must stop with exit code 2 and one
/// line within the corpus bounds (<see cref="CliProcess.MaxTime"/>, <see cref="CliProcess.MaxPeakBytes"/>).
/// </summary>
[Collection(ChildProcesses.Name)]
public sealed class EndlessInputTests : IDisposable
{
    private const string Header = "%%MatrixMarket matrix coordinate real general\n";

    private readonly string _directory = Directory.CreateTempSubdirectory("spectral-monitor-endless-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static string RefusedWithinBounds(params string[] args)
    {
        var run = CliProcess.Run(args);
        CliProcess.AssertWithinBounds(run, string.Join(' ', args));
        return CliHarness.AssertOneLineError(run.ExitCode, run.Output, run.Error);
    }

    [Fact]
    public void DevZeroIsRefusedAtOnce()
    {
        if (!File.Exists("/dev/zero"))
        {
            Assert.Skip("no /dev/zero on this system");
        }

        Assert.Contains("line 1: a NUL character", RefusedWithinBounds("analyze", "/dev/zero"), StringComparison.Ordinal);
    }

    [Fact]
    public void OneGibibyteFileWithoutALineBreakIsRefusedAfterOneLine()
    {
        // A header-like start and then text to 1 GiB, no line break anywhere. Only the first 64 KiB are written; the
        // rest is a hole (reads as NUL), which the reader never reaches: it stops after 1,025 characters.
        string path = Path.Combine(_directory, "one-gib.mtx");
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            var start = Encoding.ASCII.GetBytes("%%MatrixMarket matrix coordinate real general " + new string('9', 65_536));
            file.Write(start);
            file.SetLength(1L << 30);
        }

        Assert.Equal(1L << 30, new FileInfo(path).Length);
        Assert.Contains("line 1: the line is longer than 1,024 characters", RefusedWithinBounds("analyze", path), StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string, string> Streams => new()
    {
        { "no-line-break", Header + "2 2 1\n1 1 ", "1 ", "line 3: the line is longer than 1,024 characters" },
        { "comments-for-ever", Header, "% endless comment\n", "comment and blank lines" },
        { "blank-lines-after-the-entries", Header + "1 1 1\n1 1 1\n", "\n", "line 1048580: more than 1,048,576 characters of comment and blank lines" },
        { "entries-for-ever", Header + "3 3 2\n", "1 1 1\n", "line 5: more entries than the 2 declared" },
        { "size-line-for-ever", Header, "3 3 1 ", "line 2: the line is longer than 1,024 characters" },
    };

    [Theory]
    [MemberData(nameof(Streams))]
    public void EndlessPipeIsRefused(string name, string prefix, string chunk, string phrase)
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("named pipes via mkfifo are POSIX only");
        }

        string path = Path.Combine(_directory, name);
        CliProcess.MakeFifo(path);
        using var writer = new CliProcess.EndlessWriter(path, Encoding.ASCII.GetBytes(prefix), Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(chunk, 4096))));
        Assert.Contains(phrase, RefusedWithinBounds("analyze", path), StringComparison.Ordinal);
    }
}
