using System.Numerics;
using SpectralMonitor.Estimators.Dense;

namespace SpectralMonitor.Estimators.NonNormality;

/// <summary>The spectrum of a dense matrix and its spectral radius.</summary>
/// <param name="Value">The spectral radius <c>ρ(A) = max |λᵢ|</c>.</param>
/// <param name="DominantEigenvalue">An eigenvalue of largest modulus.</param>
/// <param name="Eigenvalues">Every eigenvalue, sorted by decreasing modulus.</param>
public sealed record SpectralRadiusResult(double Value, Complex DominantEigenvalue, IReadOnlyList<Complex> Eigenvalues);

/// <summary>The spectral radius split by branch: the oscillatory modes (Re z &lt; 0) reach −1 at the edge of stability, the monotone ones (Re z ≥ 0) pass +1 at saddles.</summary>
/// <param name="Radius">ρ = max |z|.</param>
/// <param name="Oscillatory">ρ_osc = max |z| over Re z &lt; 0 (0 when there is none).</param>
/// <param name="Monotone">ρ_mono = max |z| over Re z ≥ 0 (0 when there is none).</param>
public sealed record SpectralRadiusBranches(double Radius, double Oscillatory, double Monotone);

/// <summary>Spectral radius of a dense matrix.</summary>
public static class SpectralRadius
{
    /// <summary>Computes all eigenvalues (MathNet's real EVD, <c>O(n³)</c>) and the spectral radius.</summary>
    /// <param name="matrix">A square, finite matrix.</param>
    /// <returns>The spectral radius and the spectrum sorted by decreasing modulus.</returns>
    /// <exception cref="ArgumentException">The matrix is empty, not square or not finite.</exception>
    public static SpectralRadiusResult Dense(double[,] matrix)
    {
        DenseLinearAlgebra.CheckSquare(matrix, nameof(matrix));
        var values = DenseLinearAlgebra.RealEigenvalues(matrix);
        return FromEigenvalues(values);
    }

    /// <summary>The spectral radius of a given set of eigenvalues (for example Ritz values).</summary>
    /// <param name="eigenvalues">A non-empty set of eigenvalues.</param>
    /// <returns>The largest modulus and the values sorted by decreasing modulus.</returns>
    /// <exception cref="ArgumentException">The set is empty.</exception>
    public static SpectralRadiusResult FromEigenvalues(IReadOnlyList<Complex> eigenvalues)
    {
        ArgumentNullException.ThrowIfNull(eigenvalues);
        if (eigenvalues.Count == 0)
        {
            throw new ArgumentException("At least one eigenvalue is needed; got an empty list.", nameof(eigenvalues));
        }

        var sorted = eigenvalues.ToArray();
        Array.Sort(sorted, (p, q) => Complex.Abs(q).CompareTo(Complex.Abs(p)));
        return new SpectralRadiusResult(Complex.Abs(sorted[0]), sorted[0], sorted);
    }

    /// <summary>ρ and its oscillatory and monotone branches over a set of eigenvalues (for example Ritz values).</summary>
    /// <param name="eigenvalues">A non-empty set of eigenvalues.</param>
    /// <exception cref="ArgumentException">The set is empty.</exception>
    public static SpectralRadiusBranches Branches(IReadOnlyList<Complex> eigenvalues)
    {
        ArgumentNullException.ThrowIfNull(eigenvalues);
        if (eigenvalues.Count == 0)
        {
            throw new ArgumentException("At least one eigenvalue is needed; got an empty list.", nameof(eigenvalues));
        }

        double radius = 0;
        double oscillatory = 0;
        double monotone = 0;
        foreach (var z in eigenvalues)
        {
            double magnitude = z.Magnitude;
            radius = Math.Max(radius, magnitude);
            if (z.Real < 0)
            {
                oscillatory = Math.Max(oscillatory, magnitude);
            }
            else
            {
                monotone = Math.Max(monotone, magnitude);
            }
        }

        return new SpectralRadiusBranches(radius, oscillatory, monotone);
    }
}
