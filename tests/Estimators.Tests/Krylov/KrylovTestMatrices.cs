using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.Cpu;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Tests.Krylov;

/// <summary>Test operators with known spectra and small dense helpers.</summary>
internal static class KrylovTestMatrices
{
    public const double Epsilon = 2.220446049250313e-16;

    /// <summary>The 1-D Laplacian tridiag(−1, 2, −1) of size n as a CSR operator.</summary>
    public static CsrMatrixOperator<double> Laplacian(int n) => LaplacianWithOutliers(n, []);

    /// <summary>
    /// The direct sum of the 1-D Laplacian of size n − outliers.Length and diag(outliers): dimension n, spectrum
    /// {2 − 2cos(jπ/(n − r + 1))} ∪ outliers.
    /// </summary>
    public static CsrMatrixOperator<double> LaplacianWithOutliers(int n, double[] outliers)
    {
        int size = n - outliers.Length;
        var rows = new List<int>();
        var columns = new List<int>();
        var values = new List<double>();
        for (int i = 0; i < size; i++)
        {
            rows.Add(i);
            columns.Add(i);
            values.Add(2);
            if (i + 1 < size)
            {
                rows.Add(i);
                columns.Add(i + 1);
                values.Add(-1);
                rows.Add(i + 1);
                columns.Add(i);
                values.Add(-1);
            }
        }

        for (int r = 0; r < outliers.Length; r++)
        {
            rows.Add(size + r);
            columns.Add(size + r);
            values.Add(outliers[r]);
        }

        return CsrMatrixOperator.FromCoordinates<double>(n, [.. rows], [.. columns], [.. values], assumeSymmetric: true);
    }

    /// <summary>Eigenvalues 2 − 2cos(jπ/(size + 1)), j = 1..size, of the 1-D Laplacian, ascending.</summary>
    public static double[] LaplacianEigenvalues(int size)
    {
        var values = new double[size];
        for (int j = 1; j <= size; j++)
        {
            values[j - 1] = 2 - (2 * Math.Cos(j * Math.PI / (size + 1)));
        }

        return values;
    }

    /// <summary>diag(values) as an operator.</summary>
    public static DelegateOperator<double[]> Diagonal(double[] values)
    {
        var copy = (double[])values.Clone();
        return new DelegateOperator<double[]>(
            new CpuVectorSpace<double>(copy.Length),
            (x, y) =>
            {
                for (int i = 0; i < copy.Length; i++)
                {
                    y[i] = copy[i] * x[i];
                }
            },
            isSymmetric: true);
    }

    /// <summary>A random orthogonal matrix (Q factor of a Gaussian matrix).</summary>
    public static double[,] RandomOrthogonal(int n, int seed)
    {
        var g = Gaussian(n, n, seed);
        return Matrix<double>.Build.DenseOfArray(g).QR().Q.ToArray();
    }

    /// <summary>Q·diag(values)·Qᵀ for a random orthogonal Q.</summary>
    public static double[,] SymmetricWithSpectrum(double[] values, int seed)
    {
        int n = values.Length;
        var q = Matrix<double>.Build.DenseOfArray(RandomOrthogonal(n, seed));
        var a = q * Matrix<double>.Build.DenseOfDiagonalArray(values) * q.Transpose();
        return Symmetrize(a.ToArray());
    }

    /// <summary>(A + Aᵀ)/2.</summary>
    public static double[,] Symmetrize(double[,] a)
    {
        int n = a.GetLength(0);
        var s = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                s[i, j] = 0.5 * (a[i, j] + a[j, i]);
            }
        }

        return s;
    }

    /// <summary>Independent standard normal entries.</summary>
    public static double[,] Gaussian(int rows, int columns, int seed)
    {
        var random = new Random(seed);
        var g = new double[rows, columns];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < columns; j++)
            {
                double u1 = 1.0 - random.NextDouble();
                double u2 = random.NextDouble();
                g[i, j] = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            }
        }

        return g;
    }

    /// <summary>‖A·x − θ·x‖ for a CPU operator.</summary>
    public static double Residual(LinearOperator<double[]> op, double[] x, double theta)
    {
        var y = new double[x.Length];
        op.Apply(x, y);
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double r = y[i] - (theta * x[i]);
            sum += r * r;
        }

        return Math.Sqrt(sum);
    }
}
