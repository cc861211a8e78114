using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Cpu;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Benchmarks;

/// <summary>Operators with known spectra for the benchmarks.</summary>
internal static class BenchmarkOperators
{
    /// <summary>The 1-D Laplacian tridiag(−1, 2, −1) of size n.</summary>
    public static CsrMatrixOperator<double> Laplacian(int n)
    {
        var rowStart = new int[n + 1];
        var columns = new List<int>(3 * n);
        var values = new List<double>(3 * n);
        for (int i = 0; i < n; i++)
        {
            rowStart[i] = columns.Count;
            if (i > 0)
            {
                columns.Add(i - 1);
                values.Add(-1);
            }

            columns.Add(i);
            values.Add(2);
            if (i + 1 < n)
            {
                columns.Add(i + 1);
                values.Add(-1);
            }
        }

        rowStart[n] = columns.Count;
        return new CsrMatrixOperator<double>(n, rowStart, [.. columns], [.. values], assumeSymmetric: true);
    }

    /// <summary>
    /// <c>A = H·diag(λ)·H</c> with <c>H = H₁H₂H₃</c> a product of three random Householder reflections: a dense-looking
    /// symmetric operator with exactly the spectrum λ, applied in O(n).
    /// </summary>
    public static DelegateOperator<double[]> RotatedDiagonal(double[] spectrum, int seed)
    {
        int n = spectrum.Length;
        var space = new CpuVectorSpace<double>(n);
        var reflectors = new double[3][];
        for (int r = 0; r < 3; r++)
        {
            reflectors[r] = space.CreateVector();
            space.FillRandom(reflectors[r], RandomKind.Gaussian, seed + r);
            space.Scale(reflectors[r], 1 / space.Norm(reflectors[r]));
        }

        var lambda = (double[])spectrum.Clone();
        return new DelegateOperator<double[]>(space, (x, y) =>
        {
            x.AsSpan().CopyTo(y);
            for (int r = 2; r >= 0; r--)
            {
                Reflect(space, reflectors[r], y);
            }

            for (int i = 0; i < n; i++)
            {
                y[i] *= lambda[i];
            }

            for (int r = 0; r < 3; r++)
            {
                Reflect(space, reflectors[r], y);
            }
        }, isSymmetric: true);
    }

    private static void Reflect(CpuVectorSpace<double> space, double[] v, double[] y) => space.Axpy(-2 * space.Dot(v, y), v, y);
}
