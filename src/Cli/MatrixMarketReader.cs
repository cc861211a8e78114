using System.Globalization;

namespace SpectralMonitor.Cli;

/// <summary>A malformed Matrix Market file: the message names the problem, <see cref="LineNumber"/> the 1-based line.</summary>
internal sealed class MatrixMarketFormatException : FormatException
{
    public MatrixMarketFormatException(int lineNumber, string problem)
        : base($"line {lineNumber}: {problem}")
    {
        LineNumber = lineNumber;
        Problem = problem;
    }

    /// <summary>The 1-based line number of the problem (one past the last line for a truncated file).</summary>
    public int LineNumber { get; }

    /// <summary>The problem, without the line number.</summary>
    public string Problem { get; }
}

/// <summary>A square real matrix read from a Matrix Market file, as coordinate triplets (0-based, symmetry expanded, duplicates summed).</summary>
/// <param name="Dimension">Matrix size <c>n</c>.</param>
/// <param name="Rows">Row of each entry.</param>
/// <param name="Columns">Column of each entry.</param>
/// <param name="Values">Value of each entry (finite).</param>
/// <param name="Format">"coordinate" or "array".</param>
/// <param name="Symmetry">"general" or "symmetric".</param>
internal sealed record MatrixMarketMatrix(int Dimension, int[] Rows, int[] Columns, double[] Values, string Format, string Symmetry)
{
    /// <summary>The matrix as a dense array.</summary>
    public double[,] ToDense()
    {
        var a = new double[Dimension, Dimension];
        for (int k = 0; k < Values.Length; k++)
        {
            a[Rows[k], Columns[k]] += Values[k];
        }

        return a;
    }
}

/// <summary>
/// Reads Matrix Market files (NIST format): <c>matrix coordinate|array real|integer general|symmetric</c>, square.
/// Every problem is a <see cref="MatrixMarketFormatException"/> naming the line.
/// </summary>
internal static class MatrixMarketReader
{
    /// <summary>Reads a file.</summary>
    public static MatrixMarketMatrix ReadFile(string path)
    {
        using var reader = new StreamReader(path);
        return Read(reader);
    }

    /// <summary>Reads from a text reader.</summary>
    public static MatrixMarketMatrix Read(TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        int lineNumber = 0;
        string? line = reader.ReadLine();
        lineNumber++;
        if (line is null)
        {
            throw new MatrixMarketFormatException(1, "the file is empty; expected a '%%MatrixMarket matrix <format> <field> <symmetry>' header.");
        }

        var header = Tokens(line);
        if (header.Length != 5 || !header[0].Equals("%%MatrixMarket", StringComparison.OrdinalIgnoreCase))
        {
            throw new MatrixMarketFormatException(1, $"bad header '{Shorten(line)}'; expected '%%MatrixMarket matrix <coordinate|array> <real|integer> <general|symmetric>'.");
        }

        string obj = header[1].ToLowerInvariant();
        string format = header[2].ToLowerInvariant();
        string field = header[3].ToLowerInvariant();
        string symmetry = header[4].ToLowerInvariant();
        if (obj != "matrix")
        {
            throw new MatrixMarketFormatException(1, $"unsupported object '{header[1]}'; only 'matrix' is supported.");
        }

        if (format is not ("coordinate" or "array"))
        {
            throw new MatrixMarketFormatException(1, $"unsupported format '{header[2]}'; expected 'coordinate' or 'array'.");
        }

        if (field is not ("real" or "integer" or "double"))
        {
            throw new MatrixMarketFormatException(1, $"unsupported field '{header[3]}'; expected 'real' or 'integer'.");
        }

        if (symmetry is not ("general" or "symmetric"))
        {
            throw new MatrixMarketFormatException(1, $"unsupported symmetry '{header[4]}'; expected 'general' or 'symmetric'.");
        }

        bool integer = field == "integer";
        bool symmetric = symmetry == "symmetric";

        // Size line: the first line after the comments.
        string[] size;
        while (true)
        {
            line = reader.ReadLine();
            lineNumber++;
            if (line is null)
            {
                throw new MatrixMarketFormatException(lineNumber, "the file ends before the size line.");
            }

            if (line.StartsWith('%') || line.Trim().Length == 0)
            {
                continue;
            }

            size = Tokens(line);
            break;
        }

        int expectedTokens = format == "coordinate" ? 3 : 2;
        if (size.Length != expectedTokens)
        {
            throw new MatrixMarketFormatException(lineNumber, $"the size line must have {expectedTokens} integers ({(format == "coordinate" ? "rows columns entries" : "rows columns")}); found '{Shorten(line)}'.");
        }

        int rows = ParseCount(size[0], lineNumber, "row count");
        int columns = ParseCount(size[1], lineNumber, "column count");
        if (rows != columns || rows == 0)
        {
            throw new MatrixMarketFormatException(lineNumber, $"the matrix must be square and non-empty for analysis; it is {rows} × {columns}.");
        }

        int n = rows;
        long expected = format == "coordinate"
            ? ParseCount(size[2], lineNumber, "entry count")
            : symmetric ? (long)n * (n + 1) / 2 : (long)n * n;
        if (format == "coordinate" && expected > (symmetric ? (long)n * (n + 1) / 2 : (long)n * n))
        {
            throw new MatrixMarketFormatException(lineNumber, $"the entry count {expected} exceeds the {(symmetric ? "lower-triangle" : "matrix")} size for n = {n}.");
        }

        var r = new List<int>();
        var c = new List<int>();
        var v = new List<double>();
        long read = 0;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (line.Trim().Length == 0 || line.StartsWith('%'))
            {
                continue;
            }

            if (read == expected)
            {
                throw new MatrixMarketFormatException(lineNumber, $"more entries than the {expected} declared on the size line.");
            }

            var tokens = Tokens(line);
            int i;
            int j;
            string valueToken;
            if (format == "coordinate")
            {
                if (tokens.Length != 3)
                {
                    throw new MatrixMarketFormatException(lineNumber, $"a coordinate entry must be 'row column value'; found {tokens.Length} field(s) in '{Shorten(line)}'.");
                }

                i = ParseIndex(tokens[0], n, lineNumber, "row");
                j = ParseIndex(tokens[1], n, lineNumber, "column");
                valueToken = tokens[2];
                if (symmetric && j > i)
                {
                    throw new MatrixMarketFormatException(lineNumber, $"entry ({i + 1}, {j + 1}) is above the diagonal; a symmetric file stores the lower triangle only.");
                }
            }
            else
            {
                if (tokens.Length != 1)
                {
                    throw new MatrixMarketFormatException(lineNumber, $"an array entry must be a single value; found {tokens.Length} fields in '{Shorten(line)}'.");
                }

                // Column-major; a symmetric array lists the lower triangle column by column.
                (i, j) = ArrayPosition(read, n, symmetric);
                valueToken = tokens[0];
            }

            double value = ParseValue(valueToken, integer, lineNumber);
            r.Add(i);
            c.Add(j);
            v.Add(value);
            if (symmetric && i != j)
            {
                r.Add(j);
                c.Add(i);
                v.Add(value);
            }

            read++;
        }

        if (read < expected)
        {
            throw new MatrixMarketFormatException(lineNumber + 1, $"the file ends after {read} entries; the size line declares {expected}.");
        }

        return new MatrixMarketMatrix(n, [.. r], [.. c], [.. v], format, symmetry);
    }

    private static (int Row, int Column) ArrayPosition(long index, int n, bool symmetric)
    {
        if (!symmetric)
        {
            return ((int)(index % n), (int)(index / n));
        }

        // Lower triangle by columns: column j holds rows j … n−1.
        int column = 0;
        long remaining = index;
        while (remaining >= n - column)
        {
            remaining -= n - column;
            column++;
        }

        return (column + (int)remaining, column);
    }

    private static string[] Tokens(string line) => line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    private static string Shorten(string line) => line.Length <= 60 ? line.Trim() : line[..57].Trim() + "...";

    private static int ParseCount(string token, int lineNumber, string what)
    {
        if (!int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
        {
            throw new MatrixMarketFormatException(lineNumber, $"the {what} '{token}' is not a non-negative integer.");
        }

        return value;
    }

    private static int ParseIndex(string token, int n, int lineNumber, string what)
    {
        if (!int.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int index))
        {
            throw new MatrixMarketFormatException(lineNumber, $"the {what} index '{token}' is not an integer.");
        }

        if (index < 1 || index > n)
        {
            throw new MatrixMarketFormatException(lineNumber, $"the {what} index {index} is out of range [1, {n}].");
        }

        return index - 1;
    }

    private static double ParseValue(string token, bool integer, int lineNumber)
    {
        if (integer)
        {
            if (!long.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long whole))
            {
                throw new MatrixMarketFormatException(lineNumber, $"the value '{token}' is not an integer (the header declares an integer field).");
            }

            return whole;
        }

        if (!double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
        {
            throw new MatrixMarketFormatException(lineNumber, $"the value '{token}' is not a number.");
        }

        if (!double.IsFinite(value))
        {
            throw new MatrixMarketFormatException(lineNumber, $"the value '{token}' is not finite; every entry must be a finite number.");
        }

        return value;
    }
}
