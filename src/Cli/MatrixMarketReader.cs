using System.Globalization;
using System.Text;

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

/// <summary>Which half of the matrix a file stores.</summary>
internal enum MatrixSymmetry
{
    /// <summary>Every entry is stored.</summary>
    General,

    /// <summary>The lower triangle is stored; <c>a_ji = a_ij</c>.</summary>
    Symmetric,

    /// <summary>The strict lower triangle is stored; <c>a_ji = −a_ij</c> and the diagonal is zero.</summary>
    SkewSymmetric,
}

/// <summary>How large a matrix the caller can analyse; checked on the size line, before any entry is read.</summary>
/// <param name="MaxDimension">Largest n.</param>
/// <param name="DimensionRule">Why, for the message (e.g. "the dense method (--dense) analyses n ≤ 2,000").</param>
internal sealed record ReadLimits(int MaxDimension, string DimensionRule)
{
    /// <summary>The limits of the Krylov method (the largest matrices any method takes).</summary>
    public static ReadLimits Krylov { get; } = new(CliLimits.MaxKrylovDimension, $"this command analyses n ≤ {CliLimits.MaxKrylovDimension:N0} (Krylov method; dense method n ≤ {CliLimits.MaxDenseDimension:N0})");

    /// <summary>The limits of <c>--dense</c>.</summary>
    public static ReadLimits Dense { get; } = new(CliLimits.MaxDenseDimension, $"the dense method (--dense) analyses n ≤ {CliLimits.MaxDenseDimension:N0}; without --dense the Krylov method takes n ≤ {CliLimits.MaxKrylovDimension:N0}");
}

/// <summary>
/// A square real matrix as stored in a Matrix Market file: coordinate triplets, 0-based, in file order, duplicates not yet
/// summed, and for symmetric or skew-symmetric files only the stored (lower) half.
/// </summary>
/// <param name="Dimension">Matrix size <c>n</c>.</param>
/// <param name="Rows">Row of each stored entry.</param>
/// <param name="Columns">Column of each stored entry.</param>
/// <param name="Values">Value of each stored entry (finite; 1 for a pattern file).</param>
/// <param name="Format">"coordinate" or "array".</param>
/// <param name="Symmetry">Which half is stored.</param>
internal sealed record MatrixMarketMatrix(int Dimension, int[] Rows, int[] Columns, double[] Values, string Format, MatrixSymmetry Symmetry)
{
    /// <summary>The full matrix as a dense array (halves mirrored, duplicates summed in double precision).</summary>
    public double[,] ToDense()
    {
        var a = new double[Dimension, Dimension];
        for (int k = 0; k < Values.Length; k++)
        {
            a[Rows[k], Columns[k]] += Values[k];
            if (Symmetry != MatrixSymmetry.General && Rows[k] != Columns[k])
            {
                a[Columns[k], Rows[k]] += Symmetry == MatrixSymmetry.Symmetric ? Values[k] : -Values[k];
            }
        }

        return a;
    }
}

/// <summary>
/// Reads Matrix Market files (NIST format) of square real matrices: <c>matrix coordinate</c> with field real, double,
/// integer or pattern, and <c>matrix array</c> with field real, double or integer; symmetry general, symmetric or
/// skew-symmetric. Keywords are case-insensitive. Every problem is a <see cref="MatrixMarketFormatException"/> naming the
/// line; sizes are checked against <see cref="ReadLimits"/> and <see cref="CliLimits"/> on the size line, and line
/// length and comment volume while reading, so that no input makes the reader allocate more than its limits allow.
/// </summary>
internal static class MatrixMarketReader
{
    private const string Banner = "%%MatrixMarket matrix <coordinate|array> <real|integer|pattern> <general|symmetric|skew-symmetric>";

    /// <summary>Reads a file as UTF-8 text (a UTF-8 byte-order mark is skipped; UTF-16 is refused as binary).</summary>
    public static MatrixMarketMatrix ReadFile(string path, ReadLimits? limits = null)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 65_536, FileOptions.SequentialScan);
        using var reader = new StreamReader(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: true), detectEncodingFromByteOrderMarks: false);
        return Read(reader, limits);
    }

    /// <summary>Reads from a text reader.</summary>
    public static MatrixMarketMatrix Read(TextReader reader, ReadLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        limits ??= ReadLimits.Krylov;
        var lines = new LineReader(reader);
        if (!lines.TryReadLine(out var line))
        {
            throw new MatrixMarketFormatException(1, "the file is empty; expected a '%%MatrixMarket matrix <format> <field> <symmetry>' header.");
        }

        var header = ParseHeader(line);
        long commentCharacters = 0;

        // Size line: the first line after the comments.
        while (true)
        {
            if (!lines.TryReadLine(out line))
            {
                throw new MatrixMarketFormatException(lines.LineNumber + 1, "the file ends before the size line.");
            }

            if (IsCommentOrBlank(line))
            {
                CountComment(ref commentCharacters, line, lines.LineNumber);
                continue;
            }

            break;
        }

        int sizeLine = lines.LineNumber;
        var (n, expected) = ParseSizeLine(line, sizeLine, header, limits);
        var entries = new EntryBuffer();
        long read = 0;
        var arrayPosition = (Row: header.Symmetry == MatrixSymmetry.SkewSymmetric ? 1 : 0, Column: 0);
        while (lines.TryReadLine(out line))
        {
            int lineNumber = lines.LineNumber;
            if (IsCommentOrBlank(line))
            {
                CountComment(ref commentCharacters, line, lineNumber);
                continue;
            }

            if (read == expected)
            {
                throw new MatrixMarketFormatException(lineNumber, $"more entries than the {expected} declared on the size line (line {sizeLine}).");
            }

            var tokens = new Tokens(line);
            int i;
            int j;
            double value;
            if (header.Format == "coordinate")
            {
                int fields = header.Field == "pattern" ? 2 : 3;
                if (tokens.Count != fields)
                {
                    throw new MatrixMarketFormatException(lineNumber, $"a {(fields == 2 ? "pattern entry must be 'row column'" : "coordinate entry must be 'row column value'")}; found {tokens.Count} field(s) in '{Excerpt(line)}'.");
                }

                i = ParseIndex(tokens[0], n, lineNumber, "row");
                j = ParseIndex(tokens[1], n, lineNumber, "column");
                value = fields == 2 ? 1 : ParseValue(tokens[2], header.Field, lineNumber);
                CheckStoredHalf(i, j, value, header.Symmetry, lineNumber);
            }
            else
            {
                if (tokens.Count != 1)
                {
                    throw new MatrixMarketFormatException(lineNumber, $"an array entry must be a single value on its own line; found {tokens.Count} fields in '{Excerpt(line)}'.");
                }

                // Column-major; symmetric files list the lower triangle, skew-symmetric the strict lower triangle.
                (i, j) = arrayPosition;
                value = ParseValue(tokens[0], header.Field, lineNumber);
                arrayPosition = NextArrayPosition(arrayPosition, n, header.Symmetry);
            }

            entries.Add(i, j, value);
            read++;
        }

        if (read < expected)
        {
            throw new MatrixMarketFormatException(lines.LineNumber + 1, $"the file ends after {read} entries; the size line (line {sizeLine}) declares {expected}.");
        }

        var (rows, columns, values) = entries.ToArrays();
        return new MatrixMarketMatrix(n, rows, columns, values, header.Format, header.Symmetry);
    }

    private static bool IsCommentOrBlank(ReadOnlySpan<char> line)
    {
        var trimmed = line.TrimStart();
        return trimmed.IsEmpty || trimmed[0] == '%';
    }

    private static void CountComment(ref long total, ReadOnlySpan<char> line, int lineNumber)
    {
        total += line.Length + 1;
        if (total > CliLimits.MaxCommentCharacters)
        {
            throw new MatrixMarketFormatException(lineNumber, $"more than {CliLimits.MaxCommentCharacters:N0} characters of comment and blank lines (1 MiB); is this a Matrix Market file?");
        }
    }

    private sealed record Header(string Format, string Field, MatrixSymmetry Symmetry);

    private static Header ParseHeader(ReadOnlySpan<char> line)
    {
        if (!line.IsEmpty && line[0] == '\uFEFF')
        {
            line = line[1..];
        }

        var tokens = new Tokens(line);
        if (tokens.Count != 5 || !tokens[0].Equals("%%MatrixMarket", StringComparison.OrdinalIgnoreCase))
        {
            throw new MatrixMarketFormatException(1, $"bad header '{Excerpt(line)}'; expected '{Banner}'.");
        }

        string obj = tokens[1].ToString().ToLowerInvariant();
        string format = tokens[2].ToString().ToLowerInvariant();
        string field = tokens[3].ToString().ToLowerInvariant();
        string symmetry = tokens[4].ToString().ToLowerInvariant();
        if (obj != "matrix")
        {
            throw new MatrixMarketFormatException(1, $"unsupported object '{Excerpt(tokens[1])}'; only 'matrix' is supported.");
        }

        if (format is not ("coordinate" or "array"))
        {
            throw new MatrixMarketFormatException(1, $"unsupported format '{Excerpt(tokens[2])}'; expected 'coordinate' or 'array'.");
        }

        if (field == "complex")
        {
            throw new MatrixMarketFormatException(1, "complex matrices are not supported; this command analyses real matrices (field real, integer or pattern).");
        }

        if (field is not ("real" or "double" or "integer" or "pattern"))
        {
            throw new MatrixMarketFormatException(1, $"unsupported field '{Excerpt(tokens[3])}'; expected 'real', 'integer' or 'pattern'.");
        }

        if (symmetry == "hermitian")
        {
            throw new MatrixMarketFormatException(1, "hermitian matrices are complex and not supported; this command analyses real matrices (a real symmetric matrix is 'symmetric').");
        }

        var kind = symmetry switch
        {
            "general" => MatrixSymmetry.General,
            "symmetric" => MatrixSymmetry.Symmetric,
            "skew-symmetric" => MatrixSymmetry.SkewSymmetric,
            _ => throw new MatrixMarketFormatException(1, $"unsupported symmetry '{Excerpt(tokens[4])}'; expected 'general', 'symmetric' or 'skew-symmetric'."),
        };

        if (field == "pattern" && format == "array")
        {
            throw new MatrixMarketFormatException(1, "'array pattern' is not a Matrix Market combination: a pattern file is a coordinate file.");
        }

        if (field == "pattern" && kind == MatrixSymmetry.SkewSymmetric)
        {
            throw new MatrixMarketFormatException(1, "'pattern skew-symmetric' is not a Matrix Market combination (a pattern has no signs).");
        }

        return new Header(format, field, kind);
    }

    private static (int N, long Expected) ParseSizeLine(ReadOnlySpan<char> line, int lineNumber, Header header, ReadLimits limits)
    {
        var size = new Tokens(line);
        bool coordinate = header.Format == "coordinate";
        int expectedTokens = coordinate ? 3 : 2;
        if (size.Count != expectedTokens)
        {
            throw new MatrixMarketFormatException(lineNumber, $"the size line must have {expectedTokens} integers ({(coordinate ? "rows columns entries" : "rows columns")}); found '{Excerpt(line)}'.");
        }

        long rows = ParseCount(size[0], lineNumber, "row count");
        long columns = ParseCount(size[1], lineNumber, "column count");
        if (rows != columns || rows == 0)
        {
            throw new MatrixMarketFormatException(lineNumber, $"the matrix must be square and non-empty for analysis; it is {rows} × {columns}.");
        }

        if (rows > limits.MaxDimension)
        {
            throw new MatrixMarketFormatException(lineNumber, $"n = {rows} is too large: {limits.DimensionRule}.");
        }

        int n = (int)rows;
        // A coordinate file may list a position more than once (the values are summed), so its count is not bounded by
        // the number of positions; an array file stores every position of its half exactly once.
        long expected = !coordinate ? header.Symmetry switch
        {
            MatrixSymmetry.General => (long)n * n,
            MatrixSymmetry.Symmetric => (long)n * (n + 1) / 2,
            _ => (long)n * (n - 1) / 2,
        }
        : ParseCount(size[2], lineNumber, "entry count");
        if (expected > CliLimits.MaxEntries)
        {
            throw new MatrixMarketFormatException(lineNumber, $"{expected} entries{(coordinate ? string.Empty : $" (array, n = {n})")} are too many: this command reads at most {CliLimits.MaxEntries:N0}.");
        }

        return (n, expected);
    }

    private static void CheckStoredHalf(int i, int j, double value, MatrixSymmetry symmetry, int lineNumber)
    {
        if (symmetry == MatrixSymmetry.General)
        {
            return;
        }

        string kind = symmetry == MatrixSymmetry.Symmetric ? "symmetric" : "skew-symmetric";
        if (j > i)
        {
            throw new MatrixMarketFormatException(lineNumber, $"entry ({i + 1}, {j + 1}) is above the diagonal; a {kind} file stores the lower triangle only.");
        }

        if (symmetry == MatrixSymmetry.SkewSymmetric && i == j && value != 0)
        {
            throw new MatrixMarketFormatException(lineNumber, $"diagonal entry ({i + 1}, {i + 1}) is {value.ToString("R", CultureInfo.InvariantCulture)}; a skew-symmetric matrix has a zero diagonal.");
        }
    }

    private static (int Row, int Column) NextArrayPosition((int Row, int Column) position, int n, MatrixSymmetry symmetry)
    {
        var (row, column) = position;
        if (++row < n)
        {
            return (row, column);
        }

        column++;
        return symmetry switch
        {
            MatrixSymmetry.General => (0, column),
            MatrixSymmetry.Symmetric => (column, column),
            _ => (column + 1, column),
        };
    }

    private static string Excerpt(ReadOnlySpan<char> text) => ConsoleText.Printable(text.Trim(), 60);

    private static long ParseCount(ReadOnlySpan<char> token, int lineNumber, string what)
    {
        if (long.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
        {
            return value;
        }

        throw new MatrixMarketFormatException(lineNumber, IsDigits(token)
            ? $"the {what} '{Excerpt(token)}' is too large."
            : $"the {what} '{Excerpt(token)}' is not a non-negative integer.");
    }

    private static int ParseIndex(ReadOnlySpan<char> token, int n, int lineNumber, string what)
    {
        if (!long.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long index))
        {
            var digits = !token.IsEmpty && token[0] is '+' or '-' ? token[1..] : token;
            throw new MatrixMarketFormatException(lineNumber, IsDigits(digits)
                ? $"the {what} index {Excerpt(token)} is out of range [1, {n}]."
                : $"the {what} index '{Excerpt(token)}' is not an integer.");
        }

        if (index < 1 || index > n)
        {
            throw new MatrixMarketFormatException(lineNumber, $"the {what} index {index} is out of range [1, {n}].");
        }

        return (int)index - 1;
    }

    private static double ParseValue(ReadOnlySpan<char> token, string field, int lineNumber)
    {
        double value;
        if (field == "integer")
        {
            // Any length of digits is an integer; beyond ±2⁵³ it is rounded to the nearest double, like a real entry.
            var digits = !token.IsEmpty && token[0] is '+' or '-' ? token[1..] : token;
            if (!IsDigits(digits) || !double.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
            {
                throw new MatrixMarketFormatException(lineNumber, $"the value '{Excerpt(token)}' is not an integer (the header declares an integer field).");
            }
        }
        else if (!double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out value))
        {
            throw new MatrixMarketFormatException(lineNumber, $"the value '{Excerpt(token)}' is not a number.");
        }

        if (!double.IsFinite(value))
        {
            throw new MatrixMarketFormatException(lineNumber, $"the value '{Excerpt(token)}' is not finite (beyond ±1.8e308, or NaN/Infinity); every entry must be a finite number.");
        }

        return value;
    }

    private static bool IsDigits(ReadOnlySpan<char> token) => !token.IsEmpty && !token.ContainsAnyExceptInRange('0', '9');

    /// <summary>The whitespace-separated fields of a line, without allocating (at most 8 are kept; more are only counted).</summary>
    private ref struct Tokens
    {
        private const int Kept = 8;
        private readonly ReadOnlySpan<char> _line;
        private Span8 _starts;
        private Span8 _lengths;

        public Tokens(ReadOnlySpan<char> line)
        {
            _line = line;
            int i = 0;
            while (i < line.Length)
            {
                while (i < line.Length && char.IsWhiteSpace(line[i]))
                {
                    i++;
                }

                if (i == line.Length)
                {
                    break;
                }

                int start = i;
                while (i < line.Length && !char.IsWhiteSpace(line[i]))
                {
                    i++;
                }

                if (Count < Kept)
                {
                    _starts[Count] = start;
                    _lengths[Count] = i - start;
                }

                Count++;
            }
        }

        public int Count { get; }

        public readonly ReadOnlySpan<char> this[int index] => _line.Slice(_starts[index], _lengths[index]);

        [System.Runtime.CompilerServices.InlineArray(Kept)]
        private struct Span8
        {
            private int _element;
        }
    }

    /// <summary>Growable coordinate arrays: memory grows with the entries actually read, never with a declared count.</summary>
    private sealed class EntryBuffer
    {
        private int[] _rows = new int[16];
        private int[] _columns = new int[16];
        private double[] _values = new double[16];
        private int _count;

        public void Add(int row, int column, double value)
        {
            if (_count == _values.Length)
            {
                int capacity = (int)Math.Min(Array.MaxLength, 2L * _count);
                Array.Resize(ref _rows, capacity);
                Array.Resize(ref _columns, capacity);
                Array.Resize(ref _values, capacity);
            }

            _rows[_count] = row;
            _columns[_count] = column;
            _values[_count] = value;
            _count++;
        }

        public (int[] Rows, int[] Columns, double[] Values) ToArrays() => (_rows[.._count], _columns[.._count], _values[.._count]);
    }
}
