using System.Numerics;
using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.Dense;

namespace SpectralMonitor.Estimators.NonNormality;

/// <summary>Condition numbers <c>sᵢ = 1/|yᵢᴴxᵢ|</c> (unit left and right eigenvectors) of the leading eigenvalues.</summary>
/// <param name="Eigenvalues">The leading eigenvalues, by decreasing modulus.</param>
/// <param name="ConditionNumbers"><c>sᵢ ≥ 1</c> for each eigenvalue, in the same order; +∞ for a defective eigenvalue.</param>
/// <param name="Method">"eigenvector-inverse" (rows of <c>V⁻¹</c> as left eigenvectors) or "singular-vectors" (null vectors of <c>A − λI</c> from an SVD, used when <c>V</c> is numerically singular).</param>
/// <param name="Reason">Why some value is infinite; null when all are finite.</param>
public sealed record EigenvalueConditionResult(
    IReadOnlyList<Complex> Eigenvalues,
    IReadOnlyList<double> ConditionNumbers,
    string Method,
    string? Reason);

/// <summary>Eigenvalue condition numbers of a dense matrix: <c>sᵢ</c> bounds the first-order change of <c>λᵢ</c> under a perturbation <c>E</c> by <c>sᵢ·‖E‖₂</c>.</summary>
public static class EigenvalueCondition
{
    /// <summary>Computes <c>sᵢ</c> for the <paramref name="count"/> eigenvalues of largest modulus.</summary>
    /// <param name="matrix">A square, finite matrix.</param>
    /// <param name="count">How many leading eigenvalues, 1 ≤ count ≤ n.</param>
    /// <returns>The eigenvalues and their condition numbers.</returns>
    /// <remarks>
    /// When the eigenvector matrix <c>V</c> (unit columns) is numerically nonsingular, the left eigenvectors are the
    /// rows of <c>V⁻¹</c> (so <c>yᵢᴴxᵢ = 1</c> and <c>sᵢ = ‖row i of V⁻¹‖</c>). Otherwise each eigenvalue gets its own
    /// SVD of <c>A − λI</c>: the right and left singular vectors of the smallest singular value are the unit right and
    /// left eigenvectors, and <c>|yᴴx| ≤ c·n·ε</c> (with <c>c</c> = <see cref="EigenvectorCondition.DefectiveFactor"/>)
    /// marks a defective eigenvalue (+∞).
    /// </remarks>
    /// <exception cref="ArgumentException">The matrix is invalid or <paramref name="count"/> is out of range.</exception>
    public static EigenvalueConditionResult Dense(double[,] matrix, int count)
    {
        int n = DenseLinearAlgebra.CheckSquare(matrix, nameof(matrix));
        if (count < 1 || count > n)
        {
            throw new ArgumentException($"count must be in [1, {n}]; got {count}.", nameof(count));
        }

        var (values, vectors) = DenseLinearAlgebra.Eigen(matrix);
        var order = Enumerable.Range(0, n).OrderByDescending(i => Complex.Abs(values[i])).Take(count).ToArray();
        var leading = order.Select(i => values[i]).ToArray();
        var condition = EigenvectorCondition.FromVectors(vectors);
        var s = new double[count];
        if (condition.IsFinite)
        {
            var inverse = Matrix<Complex>.Build.DenseOfArray(vectors).Inverse();
            for (int c = 0; c < count; c++)
            {
                s[c] = Math.Max(1, inverse.Row(order[c]).L2Norm());
            }

            return new EigenvalueConditionResult(leading, s, "eigenvector-inverse", null);
        }

        double threshold = EigenvectorCondition.DefectiveFactor * n * Precision.MachineEpsilon;
        string? reason = null;
        for (int c = 0; c < count; c++)
        {
            var shifted = Matrix<Complex>.Build.Dense(n, n, (i, j) => matrix[i, j] - (i == j ? leading[c] : Complex.Zero));
            var svd = shifted.Svd(computeVectors: true);
            var right = svd.VT.Row(n - 1).Conjugate();
            var left = svd.U.Column(n - 1);
            double overlap = left.ConjugateDotProduct(right).Magnitude;
            if (overlap <= threshold)
            {
                s[c] = double.PositiveInfinity;
                reason ??= $"Eigenvalue {leading[c]} is defective to working precision: its left and right eigenvectors are orthogonal (|yᴴx| = {overlap:G3}).";
            }
            else
            {
                s[c] = Math.Max(1, 1 / overlap);
            }
        }

        return new EigenvalueConditionResult(leading, s, "singular-vectors", reason);
    }
}
