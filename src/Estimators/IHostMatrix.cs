namespace SpectralMonitor.Estimators;

/// <summary>
/// A real matrix <c>W</c> (<see cref="Rows"/> × <see cref="Columns"/>) applied through products with host vectors, so
/// that its storage may stay on a device: what the power iteration and Lanczos of <see cref="NonNormality.SingularValues"/> need.
/// </summary>
public interface IHostMatrix
{
    /// <summary>Number of rows.</summary>
    int Rows { get; }

    /// <summary>Number of columns.</summary>
    int Columns { get; }

    /// <summary><c>result ← W·x</c> with <c>x</c> of length <see cref="Columns"/> and <c>result</c> of length <see cref="Rows"/>.</summary>
    void Multiply(ReadOnlySpan<double> x, Span<double> result);

    /// <summary><c>result ← Wᵀ·y</c> with <c>y</c> of length <see cref="Rows"/> and <c>result</c> of length <see cref="Columns"/>.</summary>
    void MultiplyTranspose(ReadOnlySpan<double> y, Span<double> result);
}
