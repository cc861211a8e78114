namespace SpectralMonitor.Cli.Tests;

public class MatrixMarketReaderTests
{
    private static MatrixMarketMatrix Read(string text) => MatrixMarketReader.Read(new StringReader(text));

    private static MatrixMarketFormatException Fails(string text) =>
        Assert.Throws<MatrixMarketFormatException>(() => Read(text));

    [Fact]
    public void ReadsCoordinateGeneralWithComments()
    {
        var m = Read("%%MatrixMarket matrix coordinate real general\n% a comment\n\n3 3 3\n1 1 2.5\n3 1 -1e-3\n2 3 4\n");
        var a = m.ToDense();
        Assert.Equal(3, m.Dimension);
        Assert.Equal(2.5, a[0, 0]);
        Assert.Equal(-1e-3, a[2, 0]);
        Assert.Equal(4, a[1, 2]);
        Assert.Equal(0, a[0, 2]);
    }

    [Fact]
    public void ExpandsSymmetricCoordinate()
    {
        var a = Read("%%MatrixMarket matrix coordinate real symmetric\n2 2 2\n1 1 1\n2 1 3\n").ToDense();
        Assert.Equal(new double[,] { { 1, 3 }, { 3, 0 } }, a);
    }

    [Fact]
    public void ReadsArrayColumnMajor()
    {
        var a = Read("%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n").ToDense();
        Assert.Equal(new double[,] { { 1, 3 }, { 2, 4 } }, a);
    }

    [Fact]
    public void ReadsSymmetricArrayLowerTriangleByColumns()
    {
        // Lower triangle of [[1, 2, 3], [2, 4, 5], [3, 5, 6]] by columns: 1 2 3 | 4 5 | 6.
        var a = Read("%%MatrixMarket matrix array real symmetric\n3 3\n1\n2\n3\n4\n5\n6\n").ToDense();
        Assert.Equal(new double[,] { { 1, 2, 3 }, { 2, 4, 5 }, { 3, 5, 6 } }, a);
    }

    [Fact]
    public void ReadsIntegerFieldAndSumsDuplicates()
    {
        var a = Read("%%MatrixMarket matrix coordinate integer general\n2 2 3\n1 2 5\n1 2 -2\n2 2 7\n").ToDense();
        Assert.Equal(new double[,] { { 0, 3 }, { 0, 7 } }, a);
    }

    [Theory]
    [InlineData("%%MatrixMarket matrix coordinate real\n1 1 1\n1 1 1\n", 1, "header")]
    [InlineData("%MatrixMarket matrix coordinate real general\n1 1 1\n1 1 1\n", 1, "header")]
    [InlineData("%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n", 1, "field")]
    [InlineData("%%MatrixMarket matrix coordinate real hermitian\n1 1 1\n1 1 1\n", 1, "hermitian")]
    [InlineData("%%MatrixMarket matrix coordinate real skew\n1 1 1\n1 1 1\n", 1, "symmetry")]
    [InlineData("", 1, "empty")]
    public void BadHeaderNamesLineOne(string text, int line, string word)
    {
        var e = Fails(text);
        Assert.Equal(line, e.LineNumber);
        Assert.Contains(word, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("%%MatrixMarket matrix coordinate real general\n% c\n2 2\n1 1 1\n", 3, "size line")]
    [InlineData("%%MatrixMarket matrix coordinate real general\n2 3 1\n1 1 1\n", 2, "square")]
    [InlineData("%%MatrixMarket matrix coordinate real general\n2 x 1\n1 1 1\n", 2, "column count")]
    [InlineData("%%MatrixMarket matrix coordinate real general\n2 2 3\n1 1 1\n2 2 1\n", 5, "ends after 2 entries")]
    [InlineData("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1\n2 2 1\n", 4, "more entries")]
    [InlineData("%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n", 6, "ends after 3 entries")]
    public void WrongSizesAndCountsNameTheLine(string text, int line, string phrase)
    {
        var e = Fails(text);
        Assert.Equal(line, e.LineNumber);
        Assert.Contains(phrase, e.Message, StringComparison.Ordinal);
        Assert.StartsWith($"line {line}: ", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("%%MatrixMarket matrix coordinate real general\n2 2 1\n3 1 1\n", 3, "row index 3 is out of range")]
    [InlineData("%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n1 0 1\n", 4, "column index 0 is out of range")]
    [InlineData("%%MatrixMarket matrix coordinate real symmetric\n2 2 1\n1 2 1\n", 3, "above the diagonal")]
    [InlineData("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 abc\n", 3, "not a number")]
    [InlineData("%%MatrixMarket matrix coordinate real general\n2 2 1\n1.5 1 1\n", 3, "not an integer")]
    [InlineData("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 NaN\n", 3, "not finite")]
    [InlineData("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1e999\n", 3, "not finite")]
    [InlineData("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1\n", 3, "row column value")]
    [InlineData("%%MatrixMarket matrix coordinate integer general\n2 2 1\n1 1 2.5\n", 3, "not an integer")]
    [InlineData("%%MatrixMarket matrix array real general\n1 1\nInfinity\n", 3, "not finite")]
    public void BadEntriesNameTheLine(string text, int line, string phrase)
    {
        var e = Fails(text);
        Assert.Equal(line, e.LineNumber);
        Assert.Contains(phrase, e.Message, StringComparison.Ordinal);
    }

    /// <summary>A reader that hands out one character per call, so that every line break falls on a refill boundary.</summary>
    private sealed class OneCharacterReader(string text) : TextReader
    {
        private int _position;

        public override int Read(char[] buffer, int index, int count)
        {
            if (_position == text.Length || count == 0)
            {
                return 0;
            }

            buffer[index] = text[_position++];
            return 1;
        }
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    [InlineData("\r")]
    public void LineBreaksOfEveryKindAreOneBreakEvenAcrossRefills(string newline)
    {
        string text = string.Join(newline, "%%MatrixMarket matrix coordinate real general", "% c", "", "2 2 2", "1 1 1", "2 2 x");
        foreach (var reader in new TextReader[] { new StringReader(text), new OneCharacterReader(text) })
        {
            // Line 6 holds the bad value, whatever the line breaks: no break is counted twice or lost.
            var e = Assert.Throws<MatrixMarketFormatException>(() => MatrixMarketReader.Read(reader));
            Assert.Equal(6, e.LineNumber);
        }
    }

    [Fact]
    public void LastLineWithoutBreakIsRead()
    {
        var a = MatrixMarketReader.Read(new OneCharacterReader("%%MatrixMarket matrix coordinate real general\r\n1 1 1\r\n1 1 2.5")).ToDense();
        Assert.Equal(2.5, a[0, 0]);
    }

    [Fact]
    public void ReadsPatternAndSkewSymmetricFiles()
    {
        var pattern = Read("%%MatrixMarket matrix coordinate pattern symmetric\n3 3 2\n2 1\n3 3\n").ToDense();
        Assert.Equal(new double[,] { { 0, 1, 0 }, { 1, 0, 0 }, { 0, 0, 1 } }, pattern);
        var skew = Read("%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n2 1 4\n").ToDense();
        Assert.Equal(new double[,] { { 0, -4 }, { 4, 0 } }, skew);

        // Strict lower triangle by columns: (2,1), (3,1), (3,2).
        var array = Read("%%MatrixMarket matrix array real skew-symmetric\n3 3\n1\n2\n3\n").ToDense();
        Assert.Equal(new double[,] { { 0, -1, -2 }, { 1, 0, -3 }, { 2, 3, 0 } }, array);
    }

    [Fact]
    public void SizeLimitsAreCheckedOnTheSizeLine()
    {
        var limits = new ReadLimits(10, "a test allows n ≤ 10");

        // The entries would be malformed, but the size line is refused first: nothing after it is read.
        var e = Assert.Throws<MatrixMarketFormatException>(() => MatrixMarketReader.Read(new StringReader("%%MatrixMarket matrix coordinate real general\n11 11 1\nnot an entry\n"), limits));
        Assert.Equal(2, e.LineNumber);
        Assert.Contains("n = 11 is too large: a test allows n ≤ 10", e.Message, StringComparison.Ordinal);
    }
}
