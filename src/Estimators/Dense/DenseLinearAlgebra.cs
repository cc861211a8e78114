using System.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace SpectralMonitor.Estimators.Dense;

/// <summary>
/// Small dense helpers shared by the non-normality measures: validation, products, norms and the complex
/// eigen-decomposition of a real matrix. Everything is double precision on the CPU.
/// </summary>
internal static class DenseLinearAlgebra
{
    /// <summary>Checks that <paramref name="matrix"/> is square, non-empty and finite; returns <c>n</c>.</summary>
    internal static int CheckSquare(double[,] matrix, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(matrix, parameterName);
        int rows = matrix.GetLength(0);
        int columns = matrix.GetLength(1);
        if (rows == 0 || rows != columns)
        {
            throw new ArgumentException($"Matrix must be square and non-empty; it is {rows} × {columns}.", parameterName);
        }

        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < columns; j++)
            {
                if (!double.IsFinite(matrix[i, j]))
                {
                    throw new ArgumentException($"Matrix entry ({i}, {j}) is {matrix[i, j]}; every entry must be finite.", parameterName);
                }
            }
        }

        return rows;
    }

    /// <summary><c>A·B</c> for square matrices of the same size.</summary>
    internal static double[,] Multiply(double[,] a, double[,] b)
    {
        int n = a.GetLength(0);
        var c = new double[n, n];
        var row = new double[n];
        for (int i = 0; i < n; i++)
        {
            Array.Clear(row);
            for (int k = 0; k < n; k++)
            {
                double aik = a[i, k];
                if (aik == 0)
                {
                    continue;
                }

                for (int j = 0; j < n; j++)
                {
                    row[j] += aik * b[k, j];
                }
            }

            for (int j = 0; j < n; j++)
            {
                c[i, j] = row[j];
            }
        }

        return c;
    }

    /// <summary>Frobenius norm, scaled to avoid overflow.</summary>
    internal static double FrobeniusNorm(double[,] a)
    {
        double scale = 0;
        foreach (double v in a)
        {
            scale = Math.Max(scale, Math.Abs(v));
        }

        if (scale == 0)
        {
            return 0;
        }

        double sum = 0;
        foreach (double v in a)
        {
            double t = v / scale;
            sum += t * t;
        }

        return scale * Math.Sqrt(sum);
    }

    /// <summary>Spectral norm ‖A‖₂ (largest singular value, from MathNet's SVD without vectors).</summary>
    internal static double TwoNorm(double[,] a)
    {
        if (IsZero(a))
        {
            return 0;
        }

        var svd = Matrix<double>.Build.DenseOfArray(a).Svd(computeVectors: false);
        return svd.S[0];
    }

    /// <summary>Whether every entry is exactly zero.</summary>
    internal static bool IsZero(double[,] a)
    {
        foreach (double v in a)
        {
            if (v != 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Eigenvalues and unit-norm complex right eigenvectors of a real matrix. MathNet's real EVD stores a
    /// conjugate pair λ, λ̄ as two real columns (Re v, Im v); they are turned into the complex vectors
    /// v and v̄ here, with the sign of the imaginary part chosen by the smaller residual ‖Av − λv‖.
    /// </summary>
    internal static (Complex[] Values, Complex[,] Vectors) Eigen(double[,] a)
    {
        int n = a.GetLength(0);
        var matrix = Matrix<double>.Build.DenseOfArray(a);
        var evd = matrix.Evd();
        var values = evd.EigenValues.ToArray();
        var real = evd.EigenVectors;
        var vectors = new Complex[n, n];
        int j = 0;
        while (j < n)
        {
            bool pair = values[j].Imaginary != 0 && j + 1 < n && values[j + 1] == Complex.Conjugate(values[j]);
            if (!pair)
            {
                for (int i = 0; i < n; i++)
                {
                    vectors[i, j] = real[i, j];
                }

                j++;
                continue;
            }

            var plus = new Complex[n];
            var minus = new Complex[n];
            for (int i = 0; i < n; i++)
            {
                plus[i] = new Complex(real[i, j], real[i, j + 1]);
                minus[i] = new Complex(real[i, j], -real[i, j + 1]);
            }

            var first = Residual(a, values[j], plus) <= Residual(a, values[j], minus) ? plus : minus;
            for (int i = 0; i < n; i++)
            {
                vectors[i, j] = first[i];
                vectors[i, j + 1] = Complex.Conjugate(first[i]);
            }

            j += 2;
        }

        NormalizeColumns(vectors);
        return (values, vectors);
    }

    /// <summary>Scales every column to unit Euclidean norm (zero columns are left alone).</summary>
    internal static void NormalizeColumns(Complex[,] vectors)
    {
        int rows = vectors.GetLength(0);
        int columns = vectors.GetLength(1);
        for (int j = 0; j < columns; j++)
        {
            double scale = 0;
            for (int i = 0; i < rows; i++)
            {
                scale = Math.Max(scale, Complex.Abs(vectors[i, j]));
            }

            if (scale == 0)
            {
                continue;
            }

            double sum = 0;
            for (int i = 0; i < rows; i++)
            {
                var t = vectors[i, j] / scale;
                sum += (t.Real * t.Real) + (t.Imaginary * t.Imaginary);
            }

            double norm = scale * Math.Sqrt(sum);
            for (int i = 0; i < rows; i++)
            {
                vectors[i, j] /= norm;
            }
        }
    }

    /// <summary>Largest eigenvalue of a real symmetric matrix (MathNet's symmetric EVD).</summary>
    internal static double LargestSymmetricEigenvalue(double[,] symmetric)
    {
        var evd = Matrix<double>.Build.DenseOfArray(symmetric).Evd(Symmetricity.Symmetric);
        double max = double.NegativeInfinity;
        foreach (var v in evd.EigenValues)
        {
            max = Math.Max(max, v.Real);
        }

        return max;
    }

    /// <summary>Eigenvalues of a real matrix (MathNet's general real EVD).</summary>
    internal static Complex[] RealEigenvalues(double[,] a)
    {
        var evd = Matrix<double>.Build.DenseOfArray(a).Evd(Symmetricity.Asymmetric);
        return evd.EigenValues.ToArray();
    }

    private static double Residual(double[,] a, Complex lambda, Complex[] v)
    {
        int n = v.Length;
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            Complex r = -lambda * v[i];
            for (int k = 0; k < n; k++)
            {
                r += a[i, k] * v[k];
            }

            sum += (r.Real * r.Real) + (r.Imaginary * r.Imaginary);
        }

        return sum;
    }
}
