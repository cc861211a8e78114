namespace SpectralMonitor.Cli;

/// <summary>
/// What <c>analyze</c> accepts. Every limit is checked before the memory it protects is allocated: sizes on the size
/// line, before any entry is read; line length and comment volume while reading, before the text is kept.
/// </summary>
internal static class CliLimits
{
    /// <summary>Longest line, in characters (the Matrix Market specification limits lines to 1024 characters).</summary>
    public const int MaxLineLength = 1024;

    /// <summary>Comment and blank lines, header and body together, in characters (1 MiB).</summary>
    public const int MaxCommentCharacters = 1 << 20;

    /// <summary>Largest n for the dense method (automatic up to <see cref="MatrixAnalysis.DenseLimit"/>, or with <c>--dense</c>): a handful of n × n arrays, time ∝ n³.</summary>
    public const int MaxDenseDimension = 2_000;

    /// <summary>Largest n for the Krylov method: its basis holds max(2k + 1, 20) + 1 vectors of n doubles.</summary>
    public const int MaxKrylovDimension = 1_000_000;

    /// <summary>Most entries a file may declare (coordinate: the size line's count; array: n², or the stored triangle).</summary>
    public const long MaxEntries = 10_000_000;

    /// <summary>Largest <c>--k</c>.</summary>
    public const int MaxK = 50;

    /// <summary>Largest <c>--horizon</c>.</summary>
    public const int MaxHorizon = 10_000;

    /// <summary>The limits in one sentence, for <c>--help</c>.</summary>
    public static string Summary =>
        $"Limits: n ≤ {MaxDenseDimension:N0} for the dense method, n ≤ {MaxKrylovDimension:N0} for the Krylov method; at most {MaxEntries:N0} declared entries; lines of at most {MaxLineLength:N0} characters; at most 1 MiB of comment lines. Exit code 0: analysed; 2: bad input, usage or an answer that cannot be computed in double precision (one line on stderr); 3: internal error.";
}
