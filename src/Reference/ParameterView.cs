namespace SpectralMonitor.Reference;

/// <summary>
/// A named block of the flat parameter vector: a weight matrix (<see cref="Rows"/> = outputs, <see cref="Columns"/> =
/// inputs, row-major, as <c>torch.nn.Linear.weight</c>) or a bias (<see cref="Columns"/> = 1).
/// </summary>
/// <param name="Name">PyTorch-style name, for example <c>layers.0.weight</c> or <c>layers.2.bias</c>.</param>
/// <param name="Offset">Index of the block's first entry in the flat vector.</param>
/// <param name="Rows">Number of rows.</param>
/// <param name="Columns">Number of columns.</param>
public sealed record ParameterView(string Name, int Offset, int Rows, int Columns)
{
    /// <summary>Number of entries, <c>Rows·Columns</c>.</summary>
    public int Length => Rows * Columns;

    /// <summary>Whether this view is a weight matrix (as opposed to a bias vector).</summary>
    public bool IsWeight => Name.EndsWith(".weight", StringComparison.Ordinal);

    /// <summary>The block's entries inside <paramref name="parameters"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="parameters"/> is too short for this view.</exception>
    public ReadOnlySpan<double> Slice(ReadOnlySpan<double> parameters)
    {
        CheckLength(parameters.Length, nameof(parameters));
        return parameters.Slice(Offset, Length);
    }

    /// <summary>The block's entries inside <paramref name="parameters"/> (writable).</summary>
    /// <exception cref="ArgumentException"><paramref name="parameters"/> is too short for this view.</exception>
    public Span<double> Slice(Span<double> parameters)
    {
        CheckLength(parameters.Length, nameof(parameters));
        return parameters.Slice(Offset, Length);
    }

    /// <summary>Copies the block into a new <see cref="Rows"/> × <see cref="Columns"/> matrix.</summary>
    /// <exception cref="ArgumentException"><paramref name="parameters"/> is too short for this view.</exception>
    public double[,] ToMatrix(ReadOnlySpan<double> parameters)
    {
        var block = Slice(parameters);
        var matrix = new double[Rows, Columns];
        for (int r = 0; r < Rows; r++)
        {
            for (int c = 0; c < Columns; c++)
            {
                matrix[r, c] = block[(r * Columns) + c];
            }
        }

        return matrix;
    }

    private void CheckLength(int length, string name)
    {
        if (length < Offset + Length)
        {
            throw new ArgumentException($"Parameter vector of length {length} is too short for view '{Name}' (needs {Offset + Length}).", name);
        }
    }
}
