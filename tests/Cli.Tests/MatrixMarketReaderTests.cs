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
    [InlineData("%%MatrixMarket matrix coordinate real hermitian\n1 1 1\n1 1 1\n", 1, "symmetry")]
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
}
