using SpectralMonitor.Estimators;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch;

/// <summary>
/// A Krylov basis on the device, stored as ONE stacked <c>capacity × n</c> tensor <c>Q</c> (row <c>i</c> is <c>qᵢ</c>),
/// so that <see cref="Basis{TVec}.Project"/> (<c>Q·v</c>), <see cref="Basis{TVec}.SubtractProjection"/> and <see cref="Basis{TVec}.Combine"/> (<c>Qᵀ·c</c>)
/// are one matrix–vector product each, and <see cref="Basis{TVec}.Transform"/> one matrix product (done in column chunks so that
/// its temporary is at most about one parameter-sized vector). Only the <c>Count</c> coefficients cross to the host.
/// </summary>
/// <remarks>
/// The storage is allocated once (<c>capacity·n</c> elements), is not registered in any dispose scope and is freed by
/// <see cref="Basis{TVec}.Dispose()"/>. The vectors returned by the indexer are views of the storage, owned by the basis; they stay
/// valid (and see the new contents) after <see cref="Basis{TVec}.Transform"/>.
/// </remarks>
public sealed class TensorBasis : Basis<Tensor>
{
    private readonly TensorVectorSpace _space;
    private readonly Tensor _storage;
    private readonly Tensor?[] _rows;

    /// <summary>Creates an empty basis for the vectors of <paramref name="space"/>.</summary>
    /// <param name="space">The vector space.</param>
    /// <param name="capacity">Maximum number of vectors.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive.</exception>
    public TensorBasis(TensorVectorSpace space, int capacity)
        : base(capacity)
    {
        ArgumentNullException.ThrowIfNull(space);
        _space = space;
        _rows = new Tensor?[capacity];
        _storage = torch.empty(new long[] { capacity, space.Dimension }, space.ScalarType, space.Device).DetachFromDisposeScope();
    }

    /// <inheritdoc/>
    protected override Tensor VectorAt(int index) => Row(index);

    /// <inheritdoc/>
    protected override void AppendCore(Tensor vector, int index)
    {
        using var noGrad = torch.no_grad();
        Row(index).copy_(vector);
    }

    /// <inheritdoc/>
    protected override void ProjectCore(Tensor vector, Span<double> coefficients)
    {
        using var noGrad = torch.no_grad();
        using var active = _storage.narrow(0, 0, Count);
        using var product = active.mv(vector);
        CopyToHost(product, coefficients);
    }

    /// <inheritdoc/>
    protected override void SubtractProjectionCore(Tensor vector, ReadOnlySpan<double> coefficients)
    {
        using var noGrad = torch.no_grad();
        using var c = ToDevice(coefficients);
        using var active = _storage.narrow(0, 0, Count);
        using var activeT = active.t();
        vector.addmv_(activeT, c, 1, -1);
    }

    /// <inheritdoc/>
    protected override void CombineCore(ReadOnlySpan<double> coefficients, Tensor destination)
    {
        using var noGrad = torch.no_grad();
        destination.zero_();
        if (Count == 0)
        {
            return;
        }

        using var c = ToDevice(coefficients);
        using var active = _storage.narrow(0, 0, Count);
        using var activeT = active.t();
        destination.addmv_(activeT, c, 0, 1);
    }

    /// <inheritdoc/>
    protected override void TransformCore(double[,] matrix)
    {
        int rows = matrix.GetLength(0);
        int newCount = matrix.GetLength(1);

        // New row j = Σᵢ M[i, j]·qᵢ, i.e. Q_new = Mᵀ·Q. The columns of Q are processed in chunks so that the
        // temporary (newCount × chunk) holds about one parameter-sized vector; each chunk is read completely before
        // it is overwritten, so the update is in place.
        var transposed = new double[newCount * rows];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < newCount; j++)
            {
                transposed[(j * rows) + i] = matrix[i, j];
            }
        }

        using var noGrad = torch.no_grad();
        using var mt = torch.tensor(transposed, new long[] { newCount, rows }, _space.ScalarType, _space.Device);
        long n = _space.Dimension;
        long chunk = Math.Max(1, (n + newCount - 1) / newCount);
        using var active = _storage.narrow(0, 0, rows);
        using var target = _storage.narrow(0, 0, newCount);
        for (long start = 0; start < n; start += chunk)
        {
            long length = Math.Min(chunk, n - start);
            using var block = active.narrow(1, start, length);
            using var product = mt.mm(block);
            using var destination = target.narrow(1, start, length);
            destination.copy_(product);
        }
    }

    /// <inheritdoc/>
    protected override void CheckVector(Tensor vector, string parameterName) => _space.Check(vector, parameterName);

    /// <summary>Frees the device storage and the row views.</summary>
    /// <param name="disposing">True when called from <see cref="Basis{TVec}.Dispose()"/>.</param>
    protected override void Dispose(bool disposing)
    {
        for (int i = 0; i < _rows.Length; i++)
        {
            _rows[i]?.Dispose();
            _rows[i] = null;
        }

        _storage.Dispose();
        base.Dispose(disposing);
    }

    private Tensor Row(int index) =>
        _rows[index] ??= _storage.select(0, index).DetachFromDisposeScope();

    private Tensor ToDevice(ReadOnlySpan<double> coefficients) =>
        torch.tensor(coefficients.ToArray(), _space.ScalarType, _space.Device);

    private static void CopyToHost(Tensor values, Span<double> destination)
    {
        using var asDouble = values.to(ScalarType.Float64);
        using var onHost = asDouble.cpu();
        onHost.data<double>().ToArray().AsSpan().CopyTo(destination);
    }
}
