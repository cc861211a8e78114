using SpectralMonitor.Estimators;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch;

/// <summary>
/// A Krylov basis on the device, stored as stacked blocks of at most <see cref="BlockRows"/> rows (<c>rows × n</c>
/// tensors, row <c>i</c> is <c>qᵢ</c>), allocated as the basis grows and freed as it shrinks: a probe that converges
/// after six vectors holds two blocks, not <see cref="IBasis{TVec}.Capacity"/> vectors. <see cref="Basis{TVec}.Project"/>
/// (<c>Q·v</c>), <see cref="Basis{TVec}.SubtractProjection"/> and <see cref="Basis{TVec}.Combine"/> (<c>Qᵀ·c</c>) are one
/// matrix–vector product per block, <see cref="Basis{TVec}.Transform"/> one matrix product per column chunk, and
/// <see cref="ProjectOut(Tensor, Span{double})"/> a whole Gram–Schmidt pass with ONE device-to-host read (the coefficients and both norms
/// together; the coefficients reach the subtraction without leaving the device).
/// </summary>
/// <remarks>
/// <para>Memory: <see cref="AllocatedVectors"/> parameter-sized rows (the count rounded up to a whole block), plus, inside
/// <see cref="Basis{TVec}.Transform"/>, a temporary of at most one parameter-sized vector. The blocks are not registered
/// in any dispose scope; they are freed when the basis shrinks and by <see cref="Basis{TVec}.Dispose()"/>.</para>
/// <para>The vectors returned by the indexer are views of the storage, owned by the basis; they see the new contents
/// after <see cref="Basis{TVec}.Transform"/> and become invalid when the basis shrinks below them.</para>
/// </remarks>
public sealed class TensorBasis : Basis<Tensor>, IGramSchmidtBasis<Tensor>, IInPlaceAppendBasis<Tensor>
{
    /// <summary>Rows per storage block: the granularity at which the basis allocates and frees device memory.</summary>
    public const int BlockRows = 4;

    private readonly TensorVectorSpace _space;
    private readonly List<Tensor> _blocks = [];
    private readonly Tensor?[] _rows;

    /// <summary>Creates an empty basis for the vectors of <paramref name="space"/>; no device memory is taken until the first append.</summary>
    /// <param name="space">The vector space.</param>
    /// <param name="capacity">Maximum number of vectors.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive.</exception>
    public TensorBasis(TensorVectorSpace space, int capacity)
        : base(capacity)
    {
        ArgumentNullException.ThrowIfNull(space);
        _space = space;
        _rows = new Tensor?[capacity];
    }

    /// <summary>Parameter-sized rows currently allocated on the device (<see cref="IBasis{TVec}.Count"/> rounded up to whole blocks).</summary>
    public int AllocatedVectors
    {
        get
        {
            int rows = 0;
            for (int b = 0; b < _blocks.Count; b++)
            {
                rows += RowsOf(b);
            }

            return rows;
        }
    }

    /// <inheritdoc/>
    public GramSchmidtNorms ProjectOut(Tensor vector, Span<double> coefficients)
    {
        ThrowIfDisposed();
        CheckVector(vector, nameof(vector));
        CheckCoefficients(coefficients.Length, nameof(coefficients));
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var before = vector.dot(vector).reshape(1);
        Tensor? c = null;
        if (Count > 0)
        {
            c = ProjectOnDevice(vector);
            SubtractOnDevice(vector, c);
        }

        var after = vector.dot(vector).reshape(1);
        Span<double> values = Count + 2 <= 258 ? stackalloc double[Count + 2] : new double[Count + 2];
        _space.ReadToHost(c is null ? torch.cat(new[] { before, after }) : torch.cat(new[] { c, before, after }), values);
        values[..Count].CopyTo(coefficients);
        return new GramSchmidtNorms(Math.Sqrt(values[Count]), Math.Sqrt(values[Count + 1]));
    }

    /// <inheritdoc/>
    /// <remarks>The coefficients stay on the device (one matrix-vector product each way when the window lies in one
    /// storage block, else a 0-d tensor per row applied with <c>addcmul_</c>), so the pass allocates nothing
    /// parameter-sized and reads the host once.</remarks>
    public GramSchmidtNorms ProjectOut(Tensor vector, int first, Span<double> coefficients)
    {
        ThrowIfDisposed();
        CheckVector(vector, nameof(vector));
        CheckWindow(first);
        if (coefficients.Length != Count - first)
        {
            throw new ArgumentException($"Expected {Count - first} coefficients (Count − first), got {coefficients.Length}.", nameof(coefficients));
        }

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var before = vector.dot(vector).reshape(1);
        var coefficientsOnDevice = ProjectWindowOnDevice(vector, first);
        int window = Count - first;
        Span<double> values = window + 2 <= 258 ? stackalloc double[window + 2] : new double[window + 2];
        _space.ReadToHost(torch.cat(new[] { coefficientsOnDevice, before, vector.dot(vector).reshape(1) }, 0), values);
        values[..window].CopyTo(coefficients);
        return new GramSchmidtNorms(Math.Sqrt(values[window]), Math.Sqrt(values[window + 1]));
    }

    /// <inheritdoc/>
    /// <remarks>The same device operations as two <see cref="ProjectOut(Tensor, int, Span{double})"/> calls, less the norm
    /// between them (nobody reads it), and one host transfer of both passes' coefficients and the two norms.</remarks>
    public GramSchmidtNorms ProjectOutTwice(Tensor vector, int first, Span<double> firstPass, Span<double> secondPass)
    {
        ThrowIfDisposed();
        CheckVector(vector, nameof(vector));
        CheckWindow(first);
        int window = Count - first;
        if (firstPass.Length != window || secondPass.Length != window)
        {
            throw new ArgumentException($"Expected {window} coefficients per pass (Count − first), got {firstPass.Length} and {secondPass.Length}.", nameof(firstPass));
        }

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var before = vector.dot(vector).reshape(1);
        var c1 = ProjectWindowOnDevice(vector, first);
        var c2 = ProjectWindowOnDevice(vector, first);
        Span<double> values = (2 * window) + 2 <= 258 ? stackalloc double[(2 * window) + 2] : new double[(2 * window) + 2];
        _space.ReadToHost(torch.cat(new[] { c1, c2, before, vector.dot(vector).reshape(1) }, 0), values);

        values[..window].CopyTo(firstPass);
        values.Slice(window, window).CopyTo(secondPass);
        return new GramSchmidtNorms(Math.Sqrt(values[2 * window]), Math.Sqrt(values[(2 * window) + 1]));
    }

    // The first vector of a window pass must be a basis vector.
    private void CheckWindow(int first)
    {
        if (first < 0 || first >= Count)
        {
            throw new ArgumentOutOfRangeException(nameof(first), first, $"first must be in [0, {Count}) (the basis count).");
        }
    }

    /// <summary>
    /// Subtracts from <paramref name="vector"/> its projection on basis vectors <paramref name="first"/> … Count − 1 on
    /// the device; returns the coefficients, still on the device (in the caller's dispose scope). One matrix-vector
    /// product each way when the window lies in one storage block (classical Gram–Schmidt), else row by row (modified
    /// Gram–Schmidt, each coefficient a 0-d tensor applied with <c>addcmul_</c>).
    /// </summary>
    private Tensor ProjectWindowOnDevice(Tensor vector, int first)
    {
        int block = first / BlockRows;
        if ((Count - 1) / BlockRows == block)
        {
            var rows = _blocks[block].narrow(0, first % BlockRows, Count - first);
            var coefficients = rows.mv(vector);
            vector.addmv_(rows.t(), coefficients, 1, -1);
            return coefficients;
        }

        var parts = new List<Tensor>();
        using var minusOne = (-1).ToScalar();
        for (int i = first; i < Count; i++)
        {
            var row = Row(i);
            var c = row.dot(vector);
            vector.addcmul_(row, c, minusOne);
            parts.Add(c.reshape(1));
        }

        return torch.cat(parts, 0);
    }

    /// <inheritdoc/>
    public Tensor NextSlot()
    {
        int index = NextIndex();
        Allocate(index);
        return Row(index);
    }

    /// <inheritdoc/>
    public void CommitNext() => CommitNextIndex();

    /// <inheritdoc/>
    protected override Tensor VectorAt(int index) => Row(index);

    /// <inheritdoc/>
    protected override void AppendCore(Tensor vector, int index)
    {
        using var noGrad = torch.no_grad();
        Allocate(index);
        Row(index).copy_(vector);
    }

    /// <inheritdoc/>
    protected override void ProjectCore(Tensor vector, Span<double> coefficients)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        _space.ReadToHost(ProjectOnDevice(vector), coefficients);
    }

    /// <inheritdoc/>
    protected override void SubtractProjectionCore(Tensor vector, ReadOnlySpan<double> coefficients)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        SubtractOnDevice(vector, _space.Upload(coefficients));
    }

    /// <inheritdoc/>
    protected override void CombineCore(ReadOnlySpan<double> coefficients, Tensor destination)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        destination.zero_();
        if (Count == 0)
        {
            return;
        }

        var c = _space.Upload(coefficients);
        ForEachActiveBlock((active, offset, rows) =>
        {
            using var slice = c.narrow(0, offset, rows);
            using var activeT = active.t();
            destination.addmv_(activeT, slice, 1, 1);
        });
    }

    /// <inheritdoc/>
    protected override void TransformCore(double[,] matrix)
    {
        int rows = matrix.GetLength(0);
        int newCount = matrix.GetLength(1);

        // New row j = Σᵢ M[i, j]·qᵢ, i.e. Q_new = Mᵀ·Q. The columns of Q are processed in chunks: the old rows of a
        // chunk are gathered (rows × chunk) and multiplied (newCount × chunk), so the temporaries together hold about
        // one parameter-sized vector; each chunk is read completely before it is overwritten, so the update is in place.
        var transposed = new double[newCount * rows];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < newCount; j++)
            {
                transposed[(j * rows) + i] = matrix[i, j];
            }
        }

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var mt = _space.Upload(transposed).reshape(newCount, rows);
        long n = _space.Dimension;
        long chunk = Math.Max(1, n / (rows + newCount));
        for (long start = 0; start < n; start += chunk)
        {
            using var chunkScope = torch.NewDisposeScope();
            long length = Math.Min(chunk, n - start);
            var old = torch.cat(ActiveColumns(rows, start, length), 0);
            var product = mt.mm(old);
            for (int b = 0, row = 0; row < newCount; b++, row += BlockRows)
            {
                int count = Math.Min(RowsOf(b), newCount - row);
                var destination = _blocks[b].narrow(0, 0, count).narrow(1, start, length);
                destination.copy_(product.narrow(0, row, count));
            }
        }
    }

    /// <summary>Frees the blocks (and row views) above <paramref name="count"/> vectors.</summary>
    /// <param name="count">The new count.</param>
    protected override void TruncateCore(int count)
    {
        int keepBlocks = (count + BlockRows - 1) / BlockRows;
        for (int i = keepBlocks * BlockRows; i < _rows.Length; i++)
        {
            _rows[i]?.Dispose();
            _rows[i] = null;
        }

        while (_blocks.Count > keepBlocks)
        {
            _blocks[^1].Dispose();
            _blocks.RemoveAt(_blocks.Count - 1);
        }
    }

    /// <inheritdoc/>
    protected override void CheckVector(Tensor vector, string parameterName) => _space.Check(vector, parameterName);

    /// <summary>Frees the device storage and the row views.</summary>
    /// <param name="disposing">True when called from <see cref="Basis{TVec}.Dispose()"/>.</param>
    protected override void Dispose(bool disposing)
    {
        TruncateCore(0);
        base.Dispose(disposing);
    }

    /// <summary>Allocates the block holding row <paramref name="index"/> if it does not exist yet.</summary>
    private void Allocate(int index)
    {
        if (index / BlockRows >= _blocks.Count)
        {
            int block = _blocks.Count;
            _blocks.Add(torch.empty(new long[] { RowsOf(block), _space.Dimension }, _space.ScalarType, _space.Device).DetachFromDisposeScope());
        }
    }

    /// <summary>Rows of block <paramref name="block"/> (the last block is cut at the capacity).</summary>
    private int RowsOf(int block) => Math.Min(BlockRows, Capacity - (block * BlockRows));

    private Tensor Row(int index) =>
        _rows[index] ??= _blocks[index / BlockRows].select(0, index % BlockRows).DetachFromDisposeScope();

    /// <summary>Calls <paramref name="action"/> with the active rows of each block, their offset and count (the views are disposed afterwards).</summary>
    private void ForEachActiveBlock(Action<Tensor, int, int> action)
    {
        for (int b = 0, offset = 0; offset < Count; b++, offset += BlockRows)
        {
            int rows = Math.Min(RowsOf(b), Count - offset);
            using var active = _blocks[b].narrow(0, 0, rows);
            action(active, offset, rows);
        }
    }

    /// <summary><c>Q·v</c> on the device (length <see cref="IBasis{TVec}.Count"/>, in the current dispose scope).</summary>
    private Tensor ProjectOnDevice(Tensor vector)
    {
        var parts = new List<Tensor>();
        ForEachActiveBlock((active, _, _) => parts.Add(active.mv(vector)));
        return parts.Count == 1 ? parts[0] : torch.cat(parts, 0);
    }

    /// <summary><c>v ← v − Qᵀ·c</c> with <c>c</c> on the device.</summary>
    private void SubtractOnDevice(Tensor vector, Tensor c) =>
        ForEachActiveBlock((active, offset, rows) =>
        {
            using var slice = c.narrow(0, offset, rows);
            using var activeT = active.t();
            vector.addmv_(activeT, slice, 1, -1);
        });

    /// <summary>Columns <c>[start, start + length)</c> of the first <paramref name="rows"/> vectors, one view per block.</summary>
    private List<Tensor> ActiveColumns(int rows, long start, long length)
    {
        var views = new List<Tensor>();
        for (int b = 0, offset = 0; offset < rows; b++, offset += BlockRows)
        {
            int count = Math.Min(RowsOf(b), rows - offset);
            views.Add(_blocks[b].narrow(0, 0, count).narrow(1, start, length));
        }

        return views;
    }
}
