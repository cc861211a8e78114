using System.Numerics;
using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.Dense;

namespace SpectralMonitor.Estimators.NonNormality;

/// <summary>The eigenvector condition number <c>κ(V) = σ_max(V)/σ_min(V)</c> of a set of unit eigenvectors.</summary>
/// <param name="Value"><c>κ(V) ≥ 1</c>, or +∞ when the vectors are linearly dependent to working precision.</param>
/// <param name="VectorCount">How many eigenvectors (columns of <c>V</c>) were used.</param>
/// <param name="LargestSingularValue"><c>σ_max(V)</c> (between 1 and √<see cref="VectorCount"/> for unit columns).</param>
/// <param name="SmallestSingularValue"><c>σ_min(V)</c>.</param>
/// <param name="Reason">Why <see cref="Value"/> is infinite; null when it is finite.</param>
public sealed record EigenvectorConditionResult(
    double Value,
    int VectorCount,
    double LargestSingularValue,
    double SmallestSingularValue,
    string? Reason)
{
    /// <summary>Whether <see cref="Value"/> is finite (the vectors are numerically independent).</summary>
    public bool IsFinite => double.IsFinite(Value);
}

/// <summary>
/// Eigenvector condition number <c>κ(V)</c> with unit-norm columns: exact for dense matrices, and over Ritz
/// vectors given their coordinates in an orthonormal Krylov basis (where <c>κ(QY) = κ(Y)</c> because <c>Q</c> has
/// orthonormal columns).
/// </summary>
/// <remarks>
/// A defective matrix (a Jordan block) has no basis of eigenvectors; in floating point its computed eigenvectors
/// come out parallel to working precision and <c>σ_max/σ_min</c> would be a meaningless huge number. Such a
/// <c>V</c> is reported as +∞ with a <see cref="EigenvectorConditionResult.Reason"/>: the threshold is
/// <c>σ_min(V) ≤ c·n·ε·σ_max(V)</c> with <c>c = </c><see cref="DefectiveFactor"/>, <c>n</c> the larger dimension of
/// <c>V</c> and <c>ε = 2⁻⁵²</c> — the size of the rounding errors of the decomposition that produced <c>V</c>.
/// </remarks>
public static class EigenvectorCondition
{
    /// <summary>The constant <c>c</c> of the numerical-defectiveness threshold <c>σ_min ≤ c·n·ε·σ_max</c>.</summary>
    public const double DefectiveFactor = 16;

    /// <summary>κ(V) of the full eigenvector matrix of a dense matrix (MathNet EVD, then SVD of the complex <c>V</c>).</summary>
    /// <param name="matrix">A square, finite matrix.</param>
    /// <returns>κ(V) over all <c>n</c> unit eigenvectors; +∞ when the matrix is (numerically) defective.</returns>
    /// <exception cref="ArgumentException">The matrix is empty, not square or not finite.</exception>
    public static EigenvectorConditionResult Dense(double[,] matrix)
    {
        DenseLinearAlgebra.CheckSquare(matrix, nameof(matrix));
        var (_, vectors) = DenseLinearAlgebra.Eigen(matrix);
        return FromVectors(vectors);
    }

    /// <summary>κ(V) of the given eigenvectors (columns; each is normalized to unit norm first).</summary>
    /// <param name="vectors">An <c>n × k</c> matrix of eigenvectors, <c>k ≤ n</c>, finite.</param>
    /// <returns>κ over the <c>k</c> columns.</returns>
    /// <exception cref="ArgumentException">The matrix is empty, has more columns than rows, a zero column or a non-finite entry.</exception>
    public static EigenvectorConditionResult FromVectors(Complex[,] vectors)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        int rows = vectors.GetLength(0);
        int columns = vectors.GetLength(1);
        if (rows == 0 || columns == 0 || columns > rows)
        {
            throw new ArgumentException($"Expected an n × k matrix with 1 ≤ k ≤ n; got {rows} × {columns}.", nameof(vectors));
        }

        foreach (var v in vectors)
        {
            if (!double.IsFinite(v.Real) || !double.IsFinite(v.Imaginary))
            {
                throw new ArgumentException($"Eigenvector entry {v} is not finite.", nameof(vectors));
            }
        }

        var unit = (Complex[,])vectors.Clone();
        DenseLinearAlgebra.NormalizeColumns(unit);
        for (int j = 0; j < columns; j++)
        {
            bool zero = true;
            for (int i = 0; i < rows && zero; i++)
            {
                zero = unit[i, j] == Complex.Zero;
            }

            if (zero)
            {
                throw new ArgumentException($"Eigenvector column {j} is zero.", nameof(vectors));
            }
        }

        var svd = Matrix<Complex>.Build.DenseOfArray(unit).Svd(computeVectors: false);
        double largest = svd.S[0].Magnitude;
        double smallest = svd.S[columns - 1].Magnitude;
        double threshold = DefectiveFactor * Math.Max(rows, columns) * Precision.MachineEpsilon * largest;
        if (smallest <= threshold)
        {
            string reason = $"The {columns} eigenvectors are linearly dependent to working precision (σ_min(V) = {smallest:G3} ≤ c·n·ε·σ_max = {threshold:G3}): the matrix is defective or numerically defective.";
            return new EigenvectorConditionResult(double.PositiveInfinity, columns, largest, smallest, reason);
        }

        return new EigenvectorConditionResult(Math.Max(1, largest / smallest), columns, largest, smallest, null);
    }

    /// <summary>
    /// κ over Ritz vectors <c>QY</c>, given their coordinates <c>Y</c> (<c>m × k</c>, e.g. Arnoldi's
    /// <c>RitzCoordinates</c>) in an orthonormal basis <c>Q</c>; only the listed columns are used (typically the
    /// converged ones).
    /// </summary>
    /// <param name="ritzCoordinates">The <c>m × k</c> coordinates of the Ritz vectors.</param>
    /// <param name="columns">Which columns to use (distinct, in range); null uses all <c>k</c>.</param>
    /// <returns>κ over the chosen Ritz vectors; <see cref="EigenvectorConditionResult.VectorCount"/> says how many.</returns>
    /// <exception cref="ArgumentException">A column index is out of range or repeated, or no column is chosen.</exception>
    public static EigenvectorConditionResult FromRitzCoordinates(Complex[,] ritzCoordinates, IReadOnlyList<int>? columns = null)
    {
        ArgumentNullException.ThrowIfNull(ritzCoordinates);
        int m = ritzCoordinates.GetLength(0);
        int k = ritzCoordinates.GetLength(1);
        if (columns is null)
        {
            return FromVectors(ritzCoordinates);
        }

        if (columns.Count == 0)
        {
            throw new ArgumentException("At least one Ritz vector column must be chosen; got an empty list.", nameof(columns));
        }

        var seen = new HashSet<int>();
        var selected = new Complex[m, columns.Count];
        for (int c = 0; c < columns.Count; c++)
        {
            int j = columns[c];
            if ((uint)j >= (uint)k)
            {
                throw new ArgumentException($"Column index {j} is outside [0, {k}).", nameof(columns));
            }

            if (!seen.Add(j))
            {
                throw new ArgumentException($"Column index {j} is listed twice.", nameof(columns));
            }

            for (int i = 0; i < m; i++)
            {
                selected[i, c] = ritzCoordinates[i, j];
            }
        }

        return FromVectors(selected);
    }
}
