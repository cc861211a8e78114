using System.Text;
using static SpectralMonitor.Cli.Tests.CliHarness;

namespace SpectralMonitor.Cli.Tests;

/// <summary>
/// Issue 14, item 10: declared sizes are checked against what the dense and Krylov methods can do before anything is
/// allocated, lines and comments are bounded, and bad option values are one line with exit code 2. (Endless inputs —
/// /dev/zero, a 1 GiB line, pipes — run as child processes in <see cref="EndlessInputTests"/>.)
/// </summary>
public sealed class InputLimitTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("spectral-monitor-limits-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string Refused(params string[] args)
    {
        var (code, output, error) = Run(args);
        return AssertOneLineError(code, output, error);
    }

    [Fact]
    public void TinyFileDeclaringABillionRowsIsRefusedOnTheSizeLine()
    {
        // The 78-byte file of the issue: before, the reader tried to build a 10⁹ × 10⁹ problem and died at 3.85 GB.
        string path = Write("billion.mtx", "%%MatrixMarket matrix coordinate real general\n1000000000 1000000000 1\n1 1 1.0\n");
        Assert.Equal(78, new FileInfo(path).Length);
        string line = Refused("analyze", path);
        Assert.Contains("line 2: n = 1000000000 is too large", line, StringComparison.Ordinal);
        Assert.Contains("1,000,000", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(46_341)]
    [InlineData(2_001)]
    public void DenseFlagBeyondTheDenseLimitIsRefusedOnTheSizeLine(int n)
    {
        // 46,341² > 2³¹: before, --dense died with "Array dimensions exceeded supported range".
        string path = Write("dense.mtx", $"%%MatrixMarket matrix coordinate real general\n{n} {n} 1\n1 1 1\n");
        string line = Refused("analyze", path, "--dense");
        Assert.Contains($"line 2: n = {n} is too large", line, StringComparison.Ordinal);
        Assert.Contains("--dense", line, StringComparison.Ordinal);
        Assert.Contains("2,000", line, StringComparison.Ordinal);
    }

    [Fact]
    public void DenseFlagAtTheLimitIsAccepted()
    {
        // n = 2,000 is allowed with --dense; a diagonal keeps the check about the limit, not the time (that is still O(n³),
        // so the matrix is checked by the reader only, with the same limits the CLI passes).
        var text = new StringBuilder("%%MatrixMarket matrix coordinate real general\n2000 2000 1\n1 1 1\n");
        var matrix = MatrixMarketReader.Read(new StringReader(text.ToString()), ReadLimits.Dense);
        Assert.Equal(2000, matrix.Dimension);
    }

    [Theory]
    [InlineData("%%MatrixMarket matrix coordinate real general\n100000 100000 10000001\n1 1 1\n", "10000001 entries")]
    [InlineData("%%MatrixMarket matrix array real general\n4000 4000\n1\n", "16000000 entries (array, n = 4000)")]
    [InlineData("%%MatrixMarket matrix coordinate real general\n5 5 99999999999999999999\n1 1 1\n", "entry count '99999999999999999999' is too large")]
    [InlineData("%%MatrixMarket matrix coordinate real general\n99999999999999999999 99999999999999999999 1\n1 1 1\n", "row count '99999999999999999999' is too large")]
    public void DeclaredEntryCountsBeyondTheLimitAreRefusedOnTheSizeLine(string text, string phrase)
    {
        string line = Refused("analyze", Write("entries.mtx", text));
        Assert.Contains("line 2: ", line, StringComparison.Ordinal);
        Assert.Contains(phrase, line, StringComparison.Ordinal);
    }

    [Fact]
    public void LineLongerThanTheMatrixMarketLimitIsRefused()
    {
        string path = Write("long.mtx", "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 " + new string('1', 2000) + "\n");
        Assert.Contains("line 3: the line is longer than 1,024 characters", Refused("analyze", path), StringComparison.Ordinal);
    }

    [Fact]
    public void LineOfExactlyTheLimitIsAccepted()
    {
        // 1,024 characters including padding: leading zeros and trailing blanks are still a valid entry.
        string entry = "1 1 " + new string('0', 1000) + "1.5";
        entry += new string(' ', 1024 - entry.Length);
        string path = Write("limit.mtx", "%%MatrixMarket matrix coordinate real general\n1 1 1\n" + entry + "\n");
        Assert.Equal(1.5, Number(Analyze(path).GetProperty("spectralRadius")));
    }

    [Fact]
    public void CommentFloodIsRefused()
    {
        var text = new StringBuilder("%%MatrixMarket matrix coordinate real general\n");
        string comment = "%" + new string('c', 999) + "\n";
        for (int i = 0; i < 1100; i++)
        {
            text.Append(comment);
        }

        text.Append("1 1 1\n1 1 1\n");
        Assert.Contains("comment and blank lines", Refused("analyze", Write("comments.mtx", text.ToString())), StringComparison.Ordinal);
    }

    [Fact]
    public void NulCharacterIsRefusedAsBinary()
    {
        string path = Path.Combine(_directory, "nul.mtx");
        File.WriteAllBytes(path, [.. "%%MatrixMarket matrix coordinate real general\n"u8, 0, .. "2 2 1\n"u8]);
        Assert.Contains("line 2: a NUL character", Refused("analyze", path), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--k", "0")]
    [InlineData("--k", "-3")]
    [InlineData("--k", "51")]
    [InlineData("--k", "abc")]
    [InlineData("--k", "99999999999")]
    [InlineData("--k", "2.5")]
    [InlineData("--k", "")]
    [InlineData("--horizon", "0")]
    [InlineData("--horizon", "-1")]
    [InlineData("--horizon", "10001")]
    [InlineData("--horizon", "1e3")]
    [InlineData("--horizon", "2147483648")]
    [InlineData("--horizon", "fifty")]
    public void BadOptionValueIsOneLineWithExitTwo(string option, string value)
    {
        string path = Write("ok.mtx", "%%MatrixMarket matrix coordinate real general\n1 1 1\n1 1 0.5\n");
        string line = Refused("analyze", path, option, value);
        Assert.Contains(option, line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("analyze", "--k")]
    [InlineData("analyze", "a.mtx", "b.mtx")]
    [InlineData("analyze", "a.mtx", "--horizon")]
    [InlineData("analyze", "a.mtx", "--dense", "yes please")]
    [InlineData("--json")]
    [InlineData()]
    public void UsageErrorsAreOneLine(params string[] args) => Assert.Contains("usage: spectral-monitor analyze", Refused(args), StringComparison.Ordinal);

    private static string Diagonal(int n)
    {
        var text = new StringBuilder($"%%MatrixMarket matrix coordinate real general\n{n} {n} {n}\n");
        for (int i = 1; i <= n; i++)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i} {i} 1\n");
        }

        return text.ToString();
    }

    [Fact]
    public void KrylovKBeyondItsLimitIsOneLine()
    {
        var text = new StringBuilder(Diagonal(501));
        string line = Refused("analyze", Write("k.mtx", text.ToString()), "--k", "500", "--horizon", "1");

        // The Krylov method runs only above the dense limit, so every accepted k leaves Arnoldi its k + 2 ≤ n.
        Assert.True(CliLimits.MaxK + 2 <= MatrixAnalysis.DenseLimit + 1);
        Assert.Contains("--k must be between 1 and 50", line, StringComparison.Ordinal);
    }

    [Fact]
    public void DirectoryAndMissingFileAreOneLine()
    {
        Assert.Contains("is a directory", Refused("analyze", _directory), StringComparison.Ordinal);
        Assert.Contains("file not found", Refused("analyze", Path.Combine(_directory, "missing.mtx")), StringComparison.Ordinal);
    }

    [Fact]
    public void ControlCharactersInTheFileNameAreEscaped()
    {
        // A name with a line break and an escape sequence must not break the one-line message or reach the terminal raw.
        string name = Path.Combine(_directory, "bad\nname\u001b[31m.mtx");
        string line = Refused("analyze", name);
        Assert.Contains("bad\\x0Aname\\x1B[31m.mtx", line, StringComparison.Ordinal);
    }

    [Fact]
    public void HelpStatesTheLimits()
    {
        var (code, output, _) = Run("analyze", "--help");
        Assert.Equal(0, code);
        string flat = string.Join(' ', output.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("n ≤ 2,000 for the dense method", flat, StringComparison.Ordinal);
        Assert.Contains("n ≤ 1,000,000 for the Krylov method", flat, StringComparison.Ordinal);
        Assert.Contains("10,000,000 declared entries", flat, StringComparison.Ordinal);
        Assert.Contains("1 … 50", flat, StringComparison.Ordinal);
        Assert.Contains("1 … 10,000", flat, StringComparison.Ordinal);
    }
}
