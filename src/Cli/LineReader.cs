namespace SpectralMonitor.Cli;

/// <summary>
/// Reads lines of at most <see cref="CliLimits.MaxLineLength"/> characters, so that a file without line breaks (or an
/// endless stream such as <c>/dev/zero</c>) is refused after reading that many characters instead of being buffered.
/// Lines end at <c>\n</c>, <c>\r\n</c> or <c>\r</c>; a NUL character is refused at once (binary data).
/// </summary>
internal sealed class LineReader
{
    private readonly TextReader _reader;
    private readonly char[] _buffer = new char[16_384];
    private readonly char[] _line = new char[CliLimits.MaxLineLength];
    private int _position;
    private int _count;
    private bool _skipLineFeed;
    private bool _atEnd;

    public LineReader(TextReader reader) => _reader = reader;

    /// <summary>1-based number of the line last returned (0 before the first).</summary>
    public int LineNumber { get; private set; }

    /// <summary>Reads the next line (without its terminator); false at the end of the input.</summary>
    /// <exception cref="MatrixMarketFormatException">The line is too long or contains a NUL character.</exception>
    public bool TryReadLine(out ReadOnlySpan<char> line)
    {
        int length = 0;
        bool any = false;
        while (true)
        {
            if (_position == _count)
            {
                if (_atEnd || !Fill())
                {
                    break;
                }
            }

            char c = _buffer[_position++];
            if (_skipLineFeed)
            {
                _skipLineFeed = false;
                if (c == '\n')
                {
                    continue;
                }
            }

            any = true;
            if (c is '\n' or '\r')
            {
                _skipLineFeed = c == '\r';
                LineNumber++;
                line = _line.AsSpan(0, length);
                return true;
            }

            if (c == '\0')
            {
                throw new MatrixMarketFormatException(LineNumber + 1, "a NUL character: this is binary data, not a text Matrix Market file.");
            }

            if (length == _line.Length)
            {
                throw new MatrixMarketFormatException(LineNumber + 1, $"the line is longer than {CliLimits.MaxLineLength:N0} characters (the Matrix Market limit); is this a text Matrix Market file?");
            }

            _line[length++] = c;
        }

        if (!any)
        {
            line = default;
            return false;
        }

        LineNumber++;
        line = _line.AsSpan(0, length);
        return true;
    }

    private bool Fill()
    {
        _count = _reader.Read(_buffer, 0, _buffer.Length);
        _position = 0;
        if (_count == 0)
        {
            _atEnd = true;
            return false;
        }

        return true;
    }
}
