using SpectralMonitor.Probing;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch;

/// <summary>
/// A weight parameter seen as a matrix for the monitor's top singular value (Lanczos on WᵀW): a 2-D weight as it is
/// (<c>out × in</c>), a convolution kernel <c>out × in × k…</c> reshaped to <c>out × (in·k…)</c> (the matrix of the
/// convolution's im2col form). Products run on the parameter's device (<c>mv</c> under <c>no_grad</c>); only the
/// vectors cross to the host, as <see cref="double"/>.
/// </summary>
/// <remarks>
/// The matrix is a view of the live parameter (no copy is made): it sees the parameter's current values. It holds
/// one tensor handle (the reshaped view), freed by <see cref="Dispose"/>; every product disposes its temporaries at
/// once, so a solve leaves nothing behind in the current dispose scope.
/// </remarks>
public sealed class TensorWeightMatrix : IWeightMatrix, IDisposable
{
    /// <summary>Elements per block of <see cref="FrobeniusNormSquared"/> (64 Ki: half a megabyte in float64).</summary>
    private const long FrobeniusBlockElements = 1 << 16;

    private readonly Tensor _matrix;
    private bool _disposed;

    /// <summary>Creates the matrix view of <paramref name="parameter"/>.</summary>
    /// <param name="name">The parameter's name (a metric tag).</param>
    /// <param name="parameter">A floating-point parameter with at least two dimensions.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, or <paramref name="parameter"/> has fewer than two dimensions, is empty, is disposed or is not floating point.</exception>
    public TensorWeightMatrix(string name, Tensor parameter)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(parameter);
        if (parameter.IsInvalid)
        {
            throw new ArgumentException($"Parameter '{name}' is disposed.", nameof(parameter));
        }

        if (parameter.dim() < 2)
        {
            throw new ArgumentException($"Parameter '{name}' has {parameter.dim()} dimension(s); a weight matrix needs at least 2.", nameof(parameter));
        }

        if (parameter.dtype is not (ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16))
        {
            throw new ArgumentException($"Parameter '{name}' has dtype {parameter.dtype}; a floating-point weight is required.", nameof(parameter));
        }

        long rows = parameter.shape[0];
        long columns = parameter.numel() / Math.Max(1, rows);
        if (rows == 0 || columns == 0 || rows > int.MaxValue || columns > int.MaxValue)
        {
            throw new ArgumentException($"Parameter '{name}' of shape [{string.Join(", ", parameter.shape)}] gives a {rows} × {columns} matrix; both sides must be in [1, {int.MaxValue}].", nameof(parameter));
        }

        Name = name;
        Rows = (int)rows;
        Columns = (int)columns;
        using var noGrad = torch.no_grad();
        using var detached = parameter.detach();
        _matrix = detached.reshape(rows, columns).DetachFromDisposeScope();
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Rows { get; }

    /// <inheritdoc/>
    public int Columns { get; }

    /// <inheritdoc/>
    public void Multiply(ReadOnlySpan<double> x, Span<double> result)
    {
        Check(x.Length, Columns, nameof(x));
        Check(result.Length, Rows, nameof(result));
        Product(_matrix, x, result);
    }

    /// <inheritdoc/>
    public void MultiplyTranspose(ReadOnlySpan<double> y, Span<double> result)
    {
        Check(y.Length, Rows, nameof(y));
        Check(result.Length, Columns, nameof(result));
        using var noGrad = torch.no_grad();
        using var transposed = _matrix.t();
        Product(transposed, y, result);
    }

    /// <inheritdoc/>
    public double FrobeniusNormSquared()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        // Summed in float64 over blocks of rows, so the temporaries stay small (a float32 weight converted whole would
        // take twice its size, and its square as much again, while the probe's other vectors are live).
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        long rowsPerBlock = Math.Max(1, FrobeniusBlockElements / Columns);
        var total = torch.zeros(1, ScalarType.Float64, _matrix.device);
        for (long start = 0; start < Rows; start += rowsPerBlock)
        {
            using var blockScope = torch.NewDisposeScope();
            var block = _matrix.narrow(0, start, Math.Min(rowsPerBlock, Rows - start)).to(ScalarType.Float64);
            total.PlusInPlace(block.mul(block).sum());
        }

        return total.ToDouble();
    }

    /// <summary>Frees the view (the parameter itself is untouched).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _matrix.Dispose();
    }

    private void Product(Tensor matrix, ReadOnlySpan<double> vector, Span<double> result)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var noGrad = torch.no_grad();
        using var input = torch.tensor(vector.ToArray(), matrix.dtype, matrix.device);
        using var product = matrix.mv(input);
        using var asDouble = product.to(ScalarType.Float64);
        using var onHost = asDouble.cpu();
        onHost.data<double>().ToArray().AsSpan().CopyTo(result);
    }

    private static void Check(int length, int expected, string parameterName)
    {
        if (length != expected)
        {
            throw new ArgumentException($"Expected a vector of length {expected}, got {length}.", parameterName);
        }
    }
}
