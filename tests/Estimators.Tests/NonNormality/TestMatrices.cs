using System.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace SpectralMonitor.Estimators.Tests.NonNormality;

/// <summary>Matrices with known properties for the non-normality tests.</summary>
internal static class TestMatrices
{
    internal const double Epsilon = 2.220446049250313e-16;

    /// <summary>Grcar matrix: −1 on the subdiagonal, 1 on the diagonal and the first three superdiagonals.</summary>
    internal static double[,] Grcar(int n)
    {
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            if (i > 0)
            {
                a[i, i - 1] = -1;
            }

            for (int j = i; j <= Math.Min(n - 1, i + 3); j++)
            {
                a[i, j] = 1;
            }
        }

        return a;
    }

    /// <summary>Jordan block <c>λI + N</c> (ones on the superdiagonal).</summary>
    internal static double[,] Jordan(int n, double lambda)
    {
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            a[i, i] = lambda;
            if (i + 1 < n)
            {
                a[i, i + 1] = 1;
            }
        }

        return a;
    }

    internal static double[,] UpperTriangular2(double a, double b, double c) => new double[,] { { a, b }, { 0, c } };

    /// <summary>Seeded Gaussian matrix scaled by <paramref name="scale"/>/√n.</summary>
    internal static double[,] Random(int n, int seed, double scale = 1)
    {
        var random = new Random(seed);
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                a[i, j] = Gaussian(random) * scale / Math.Sqrt(n);
            }
        }

        return a;
    }

    /// <summary>A seeded Gaussian matrix with its strict upper triangle amplified (non-normal), scaled to spectral radius <paramref name="radius"/>.</summary>
    internal static double[,] NonNormalRandom(int n, int seed, double amplification, double radius)
    {
        var a = Random(n, seed);
        for (int i = 0; i < n; i++)
        {
            for (int j = i + 1; j < n; j++)
            {
                a[i, j] *= amplification;
            }
        }

        return WithSpectralRadius(a, radius);
    }

    /// <summary>A random orthogonal matrix (Q of a Gaussian matrix's QR).</summary>
    internal static double[,] Orthogonal(int n, int seed) =>
        Matrix<double>.Build.DenseOfArray(Random(n, seed)).QR().Q.ToArray();

    /// <summary>
    /// A real normal matrix <c>Q·D·Qᵀ</c> where <c>D</c> is block diagonal with 2×2 blocks <c>[[a, −b], [b, a]]</c>
    /// (eigenvalues a ± ib) and 1×1 blocks; the eigenvalue moduli are drawn in [0.2, <paramref name="radius"/>].
    /// </summary>
    internal static (double[,] Matrix, Complex[] Eigenvalues) Normal(int n, int seed, double radius)
    {
        var random = new Random(seed);
        var d = new double[n, n];
        var eigenvalues = new List<Complex>();
        int i = 0;
        while (i < n)
        {
            double modulus = 0.2 + ((radius - 0.2) * random.NextDouble());
            if (i + 1 < n && random.NextDouble() < 0.6)
            {
                double angle = Math.PI * random.NextDouble();
                double re = modulus * Math.Cos(angle);
                double im = modulus * Math.Sin(angle);
                d[i, i] = re;
                d[i + 1, i + 1] = re;
                d[i, i + 1] = -im;
                d[i + 1, i] = im;
                eigenvalues.Add(new Complex(re, im));
                eigenvalues.Add(new Complex(re, -im));
                i += 2;
            }
            else
            {
                double sign = random.NextDouble() < 0.5 ? -1 : 1;
                d[i, i] = sign * modulus;
                eigenvalues.Add(sign * modulus);
                i++;
            }
        }

        var q = Matrix<double>.Build.DenseOfArray(Orthogonal(n, seed + 1000));
        var a = q * Matrix<double>.Build.DenseOfArray(d) * q.Transpose();
        return (a.ToArray(), eigenvalues.ToArray());
    }

    /// <summary>A matrix scaled so that its spectral radius is <paramref name="radius"/>.</summary>
    internal static double[,] WithSpectralRadius(double[,] a, double radius)
    {
        double rho = Matrix<double>.Build.DenseOfArray(a).Evd().EigenValues.Select(z => z.Magnitude).Max();
        var b = (double[,])a.Clone();
        int n = a.GetLength(0);
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                b[i, j] *= radius / rho;
            }
        }

        return b;
    }

    internal static double TwoNorm(double[,] a) => Matrix<double>.Build.DenseOfArray(a).L2Norm();

    /// <summary>‖(zI − A)⁻¹‖₂ by MathNet's complex SVD (the reference for the O(n²) evaluator).</summary>
    internal static double SmallestSingularValue(double[,] a, Complex z)
    {
        int n = a.GetLength(0);
        var m = Matrix<Complex>.Build.Dense(n, n, (i, j) => (i == j ? z : Complex.Zero) - a[i, j]);
        var s = m.Svd(computeVectors: false).S;
        return s[n - 1].Magnitude;
    }

    private static double Gaussian(Random random)
    {
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
