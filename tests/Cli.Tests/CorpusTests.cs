using System.Globalization;
using System.Text.Json;
using static SpectralMonitor.Cli.Tests.CliHarness;

namespace SpectralMonitor.Cli.Tests;

/// <summary>One corpus file and what <c>analyze FILE --json</c> must do with it.</summary>
/// <param name="File">The file name in corpus/.</param>
/// <param name="Phrase">For a refused file: a phrase of its one error line (with the line number where there is one); null for a valid file.</param>
/// <param name="Check">For a valid file: the checks of its JSON; null for a refused file.</param>
/// <param name="Args">Extra arguments after <c>--json</c>.</param>
public sealed record CorpusCase(string File, string? Phrase, Action<JsonElement>? Check, string[] Args)
{
    public override string ToString() => File;
}

/// <summary>
/// Issue 14, "done when": every file of the malformed-input corpus (tests/Cli.Tests/corpus, described in its README)
/// gives exit code 2 with exactly one line on stderr, or exit code 0 with its exact analysis (here in-process, file by
/// file; as child processes within the bounds of <see cref="CliProcess"/> in <see cref="CorpusProcessTests"/>).
/// </summary>
public sealed class CorpusTests
{
    // Closed forms against a backward-stable dense computation on 2 × 2 and 3 × 3 matrices: a few ε per operation, and
    // at most 50 products for the growth (50ε ≈ 1e-14).
    private const double Tight = 1e-13;

    internal static readonly string Directory = Path.Combine(AppContext.BaseDirectory, "corpus");

    private static CorpusCase Refused(string file, string phrase, params string[] args) => new(file, phrase, null, args);

    private static CorpusCase Analysed(string file, int n, ExpectedReport expected, double tolerance = Tight, double? kappaTolerance = null, double? kreissTolerance = null) =>
        new(file, null, json =>
        {
            Assert.Equal(n, json.GetProperty("n").GetInt32());
            AssertReport(expected, json, tolerance, kappaTolerance, kreissTolerance);
        }, []);

    private static ExpectedReport Zero(int ritzCount, string method = "dense") => new(0, 1, ritzCount, 0, 1, 1, 0, 0, method);

    /// <summary>A 1 × 1 matrix [v]: ρ = |v| = r, κ = 1, ‖Aᵏ‖ = |v|ᵏ, ω = v, Kreiss ∞ if |v| ≥ 1 else 1.</summary>
    private static ExpectedReport Scalar(double v)
    {
        bool grows = Math.Abs(v) > 1;
        return new(Math.Abs(v), 1, 1, grows ? Math.Pow(Math.Abs(v), 50) : Math.Abs(v), grows ? 50 : 1, Math.Abs(v) >= 1 ? double.PositiveInfinity : 1, v, Math.Abs(v), "dense");
    }

    /// <summary>A normal matrix with ρ = ‖A‖ = ρ: κ = 1, ‖Aᵏ‖ = ρᵏ, r = ρ.</summary>
    private static ExpectedReport Normal(int n, double rho, double abscissa)
    {
        bool grows = rho > 1;
        return new(rho, 1, n, grows ? Math.Pow(rho, 50) : rho, grows ? 50 : 1, rho >= 1 ? double.PositiveInfinity : 1, abscissa, rho, "dense");
    }

    public static IReadOnlyList<CorpusCase> Cases { get; } =
    [
        // Valid but degenerate: the exact answer. Closed forms of 2 × 2 triangular matrices: CliHarness.Triangular.
        Analysed("zero-3x3.mtx", 3, Zero(3)),
        Analysed("zero-600x600.mtx", 600, Zero(6, "krylov")),
        Analysed("zero-array-3x3.mtx", 3, Zero(3)),
        Analysed("duplicates-cancel.mtx", 3, Zero(3)),
        Analysed("duplicates-sum.mtx", 2, Triangular(1, 3, 7)),
        Analysed("huge-1e200-jordan.mtx", 2, Triangular(1e200, 1e200, 1e200)),
        Analysed("huge-1e308-diagonal.mtx", 2, Triangular(1e308, 0, -1e308)),
        // 1e308·[[1, 1], [1, 1]]: ρ = ω = r = ‖A‖ = 2e308, beyond the double range (+∞); κ = 1 (symmetric).
        Analysed("huge-1e308-full.mtx", 2, new ExpectedReport(double.PositiveInfinity, 1, 2, double.PositiveInfinity, 50, double.PositiveInfinity, double.PositiveInfinity, double.PositiveInfinity, "dense")),
        // [1e308 + 1e308] = [2e308]: every measure but κ is beyond the double range.
        Analysed("huge-duplicates-overflow.mtx", 1, new ExpectedReport(double.PositiveInfinity, 1, 1, double.PositiveInfinity, 50, double.PositiveInfinity, double.PositiveInfinity, double.PositiveInfinity, "dense")),
        // Kreiss of a nilpotent block from the one-dimensional supremum; the CLI's search is accurate to about 1e-10.
        Analysed("huge-nilpotent-1e100.mtx", 2, Triangular(0, 1e100, 0), kreissTolerance: 1e-7),
        Analysed("huge-and-tiny-diagonal.mtx", 2, Triangular(1e300, 0, 1e-300)),
        Analysed("tiny-1e-300-jordan.mtx", 2, Triangular(1e-300, 1e-300, 1e-300)),
        Analysed("subnormal-diagonal.mtx", 2, Triangular(double.Parse("4e-320", CultureInfo.InvariantCulture), 0, double.Parse("-2e-320", CultureInfo.InvariantCulture))),
        Analysed("one-by-one.mtx", 1, Scalar(5)),
        Analysed("one-by-one-negative.mtx", 1, Scalar(-0.5)),
        Analysed("pattern-jordan.mtx", 2, Triangular(1, 1, 1)),
        // Path graph 1 – 2 – 3: eigenvalues 0, ±√2; symmetric, so normal with ω = ρ.
        Analysed("pattern-symmetric-path.mtx", 3, Normal(3, Math.Sqrt(2), Math.Sqrt(2))),
        // [[0, −2], [2, 0]]: eigenvalues ±2i, normal; the symmetric part is 0, so ω = 0.
        Analysed("skew-symmetric-coordinate.mtx", 2, Normal(2, 2, 0)),
        // [[0, −0.3, 0], [0.3, 0, −0.4], [0, 0.4, 0]]: eigenvalues 0, ±0.5i (0.5 = √(0.3² + 0.4²)), normal, ω = 0.
        Analysed("skew-symmetric-array.mtx", 3, Normal(3, 0.5, 0)),
        // [[2, 1], [1, 2]]: eigenvalues 3 and 1.
        Analysed("symmetric-coordinate.mtx", 2, Normal(2, 3, 3)),
        // [[0.5, 0.1], [0.1, 0.5]]: eigenvalues 0.6 and 0.4.
        Analysed("symmetric-array.mtx", 2, Normal(2, 0.6, 0.6)),
        Analysed("integer-field.mtx", 2, Triangular(1, 2, -3)),
        Analysed("crlf-line-endings.mtx", 2, Triangular(1, 2, -3)),
        Analysed("cr-line-endings.mtx", 2, Triangular(1, 2, -3)),
        Analysed("utf8-bom.mtx", 2, Normal(2, 3, 3)),
        Analysed("comments-in-odd-places.mtx", 2, Triangular(0.5, 0.5, 0.25)),
        Analysed("uppercase-keywords.mtx", 2, Triangular(0.5, 0, 0.25)),
        Analysed("integer-beyond-64-bits.mtx", 1, Scalar(double.Parse("123456789012345678901234567890", CultureInfo.InvariantCulture))),
        Analysed("number-forms.mtx", 2, Triangular(1.5, 0, -0.25)),
        Analysed("nonnormal-kreiss.mtx", 2, Triangular(0.5, 2, 0.5), kreissTolerance: 1e-7),
        // Diagonal, n = 600 (Krylov): leading eigenvalues 0.9, 0.8, 0.7, 0.6, 0.5, 0.45, the rest ≤ 0.296. Normal, so the
        // six Ritz pairs converge to Arnoldi's tolerance 1e-8 (values to about that, 1e-7 checked), nearly orthonormal Ritz
        // vectors (κ within 1e-6 of 1), and the projected matrix has ρ = ‖S‖ = ω = r ≈ 0.9, ‖S‖ ≤ 1 so Kreiss 1.
        Analysed("diagonal-600-krylov.mtx", 600, new ExpectedReport(0.9, 1, 6, 0.9, 1, 1, 0.9, 0.9, "krylov"), tolerance: 1e-7, kappaTolerance: 1e-6),
        // n = 46,341 with one entry 3 at (1, 2) (nilpotent), the size --dense refuses: the Krylov method analyses it. Every
        // eigenvalue is 0, so the Ritz values are 0 to rounding (≤ 1e-11·‖A‖); the projection is not checked further.
        new("one-entry-46341-krylov.mtx", null, json =>
        {
            Assert.Equal(46_341, json.GetProperty("n").GetInt32());
            Assert.Equal("krylov", json.GetProperty("method").GetString());
            Assert.InRange(Number(json.GetProperty("spectralRadius")), 0, 3e-11);
            Assert.True(json.GetProperty("converged").GetBoolean());
        }, []),

        // Refused: exit 2 and one line.
        Refused("empty.mtx", "line 1: the file is empty"),
        Refused("whitespace-only.mtx", "line 1: bad header"),
        Refused("header-only.mtx", "line 2: the file ends before the size line"),
        Refused("header-truncated.mtx", "line 1: bad header '%%MatrixMarket matrix coord'"),
        Refused("banner-single-percent.mtx", "line 1: bad header '%MatrixMarket matrix"),
        Refused("comment-before-banner.mtx", "line 1: bad header '% a comment'"),
        Refused("header-extra-token.mtx", "line 1: bad header"),
        Refused("object-vector.mtx", "line 1: unsupported object 'vector'"),
        Refused("format-unknown.mtx", "line 1: unsupported format 'sparse'"),
        Refused("field-complex.mtx", "line 1: complex matrices are not supported"),
        Refused("hermitian-complex.mtx", "line 1: complex matrices are not supported"),
        Refused("hermitian-real.mtx", "line 1: hermitian matrices are complex"),
        Refused("array-pattern.mtx", "line 1: 'array pattern' is not a Matrix Market combination"),
        Refused("pattern-skew-symmetric.mtx", "line 1: 'pattern skew-symmetric' is not a Matrix Market combination"),
        Refused("ansi-escape-in-header.mtx", "line 1: unsupported format '\\x1B[31mcoordinate\\x1B[0m'"),
        Refused("binary-garbage.mtx", "line 1: bad header '\\uFFFDPNG"),
        Refused("utf16le.mtx", "line 1: a NUL character"),
        Refused("size-line-missing-count.mtx", "line 2: the size line must have 3 integers"),
        Refused("size-line-extra-number.mtx", "line 2: the size line must have 3 integers"),
        Refused("size-line-float.mtx", "line 2: the row count '3.0' is not a non-negative integer"),
        Refused("size-not-square.mtx", "line 2: the matrix must be square and non-empty for analysis; it is 2 × 3"),
        Refused("size-zero.mtx", "line 2: the matrix must be square and non-empty for analysis; it is 0 × 0"),
        Refused("size-negative.mtx", "line 2: the row count '-3' is not a non-negative integer"),
        Refused("size-billion-78-bytes.mtx", "line 2: n = 1000000000 is too large: this command analyses n ≤ 1,000,000"),
        Refused("size-beyond-64-bits.mtx", "line 2: the row count '99999999999999999999' is too large"),
        Refused("dense-46341.mtx", "line 2: n = 46341 is too large: the dense method (--dense) analyses n ≤ 2,000", "--dense"),
        Refused("entries-over-limit.mtx", "line 2: 20000000 entries are too many: this command reads at most 10,000,000"),
        Refused("entries-too-few.mtx", "line 5: the file ends after 2 entries; the size line (line 2) declares 3"),
        Refused("entries-too-many.mtx", "line 4: more entries than the 1 declared"),
        Refused("array-too-few.mtx", "line 6: the file ends after 3 entries"),
        Refused("array-too-many.mtx", "line 7: more entries than the 4 declared"),
        Refused("array-two-values-per-line.mtx", "line 3: an array entry must be a single value"),
        Refused("value-nan.mtx", "line 3: the value 'NaN' is not finite"),
        Refused("value-infinity.mtx", "line 3: the value '-Infinity' is not finite"),
        Refused("value-overflow-1e400.mtx", "line 3: the value '1e400' is not finite"),
        Refused("value-hex.mtx", "line 3: the value '0x1p3' is not a number"),
        Refused("value-decimal-comma.mtx", "line 3: the value '1,5' is not a number"),
        Refused("index-zero.mtx", "line 3: the row index 0 is out of range [1, 2]"),
        Refused("index-negative.mtx", "line 3: the row index -1 is out of range [1, 2]"),
        Refused("index-too-large.mtx", "line 3: the column index 3 is out of range [1, 2]"),
        Refused("index-not-integer.mtx", "line 3: the row index '1.5' is not an integer"),
        Refused("index-beyond-64-bits.mtx", "line 3: the row index 99999999999999999999 is out of range [1, 2]"),
        Refused("entry-missing-value.mtx", "line 3: a coordinate entry must be 'row column value'; found 2"),
        Refused("entry-extra-field.mtx", "line 3: a coordinate entry must be 'row column value'; found 4"),
        Refused("entry-inline-comment.mtx", "line 3: a coordinate entry must be 'row column value'; found 7"),
        Refused("pattern-with-value.mtx", "line 3: a pattern entry must be 'row column'; found 3"),
        Refused("symmetric-upper-entry.mtx", "line 3: entry (1, 2) is above the diagonal; a symmetric file"),
        Refused("skew-symmetric-upper-entry.mtx", "line 3: entry (1, 2) is above the diagonal; a skew-symmetric file"),
        Refused("skew-symmetric-diagonal.mtx", "line 3: diagonal entry (1, 1) is 1; a skew-symmetric matrix has a zero diagonal"),
        Refused("integer-with-decimal.mtx", "line 3: the value '2.5' is not an integer"),
        Refused("crlf-bad-entry.mtx", "line 5: the value 'x' is not a number"),
        Refused("long-line.mtx", "line 3: the line is longer than 1,024 characters"),
        Refused("binary-after-size-line.mtx", "line 3: a NUL character"),
        Refused("huge-nilpotent-1e200.mtx", "the Kreiss constant cannot be computed in double precision"),
    ];

    public static TheoryData<string> Names => [.. Cases.Select(c => c.File)];

    internal static CorpusCase Case(string name) => Cases.Single(c => c.File == name);

    /// <summary>Checks one run's outcome against the case: one error line with the phrase, or the exact analysis.</summary>
    internal static void AssertOutcome(CorpusCase item, string path, int code, string output, string error)
    {
        if (item.Phrase is not null)
        {
            string line = AssertOneLineError(code, output, error);
            Assert.Contains(ConsoleText.Printable(path), line, StringComparison.Ordinal);
            Assert.Contains(item.Phrase, line, StringComparison.Ordinal);
        }
        else
        {
            Assert.True(code == 0, $"exit code {code}; stderr: {error}");
            Assert.Equal(string.Empty, error);
            item.Check!(ParseSingleObject(output));
        }
    }

    [Fact]
    public void CorpusListsEveryFileOnceAndTheReadmeDescribesEach()
    {
        var files = System.IO.Directory.GetFiles(Directory, "*.mtx").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(files, Cases.Select(c => c.File).Order(StringComparer.Ordinal).ToArray());
        Assert.True(files.Length >= 40, $"the corpus has {files.Length} files; the issue asks for at least 40");
        string readme = File.ReadAllText(Path.Combine(Directory, "README.md"));
        Assert.All(files, f => Assert.Contains($"`{f}`", readme, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void CorpusFileIsRefusedInOneLineOrAnalysedExactly(string name)
    {
        var item = Case(name);
        string path = Path.Combine(Directory, name);
        var (code, output, error) = Run(["analyze", path, "--json", .. item.Args]);
        AssertOutcome(item, path, code, output, error);
    }
}
