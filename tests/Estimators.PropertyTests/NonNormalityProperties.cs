using FsCheck.Xunit;
using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.NonNormality;

namespace SpectralMonitor.Estimators.PropertyTests;

public class NonNormalityProperties
{
    /// <summary>κ(V) = σ_max/σ_min ≥ 1 always (or +∞ for a numerically defective matrix, with a reason).</summary>
    [Property(MaxTest = 30)]
    public void EigenvectorConditionIsAtLeastOne(int seed, byte sizeByte)
    {
        int n = 1 + (sizeByte % 12);
        var result = EigenvectorCondition.Dense(Gaussian(n, seed, scale: 1));
        Assert.True(result.Value >= 1, $"κ = {result.Value}");
        Assert.Equal(double.IsFinite(result.Value), result.Reason is null);
        Assert.Equal(n, result.VectorCount);
    }

    /// <summary>
    /// Normal matrices Q·D·Qᵀ (D block diagonal with rotation-scaling blocks) have orthonormal eigenvectors, κ = 1, and
    /// ‖Aᵏ‖ = ρᵏ. Tolerances: computed eigenvectors of a normal matrix deviate from orthogonality by ~ε/gap, and the
    /// eigenvalues here are at least 0.04 apart (by construction), so κ − 1 ≤ 1e-9; ‖Aᵏ‖ has ~k·n·ε relative error.
    /// </summary>
    [Property(MaxTest = 30)]
    public void NormalMatricesHaveUnitConditionAndNoTransientGrowth(int seed, byte sizeByte)
    {
        int n = 1 + (sizeByte % 10);
        var (a, rho) = Normal(n, seed);
        Assert.Equal(1, EigenvectorCondition.Dense(a).Value, 1e-9);
        var growth = TransientGrowth.Dense(a, 10);
        for (int k = 1; k <= 10; k++)
        {
            Assert.Equal(Math.Pow(rho, k), growth.Norms[k - 1], 1e-11 * Math.Max(1, Math.Pow(rho, k)));
        }
    }

    /// <summary>
    /// Kreiss matrix theorem for stable random matrices: K ≤ sup_{k≥0} ‖Aᵏ‖ ≤ e·n·K. The computed K is a lower bound on
    /// the true one (a search), so the left inequality is strict in exact terms; the right one fails if the search missed
    /// the maximum by more than the theorem's slack. The horizon (400) is long enough that ρᵏ·κ(V) has decayed below 1.
    /// </summary>
    [Property(MaxTest = 30)]
    public void KreissConstantBoundsTransientGrowth(int seed, byte sizeByte, byte radiusByte, bool amplify)
    {
        int n = 2 + (sizeByte % 7);
        double radius = 0.3 + (0.6 * (radiusByte / 255.0));
        var a = Gaussian(n, seed, scale: 1);
        if (amplify)
        {
            for (int i = 0; i < n; i++)
            {
                for (int j = i + 1; j < n; j++)
                {
                    a[i, j] *= 4;
                }
            }
        }

        a = WithSpectralRadius(a, radius);
        double kreiss = KreissConstant.Dense(a).Value;
        double growth = Math.Max(1, TransientGrowth.Dense(a, 400).Max);
        Assert.True(kreiss >= 1);
        Assert.True(kreiss <= growth * (1 + 1e-9), $"K = {kreiss} > sup‖Aᵏ‖ = {growth}");
        Assert.True(growth <= Math.E * n * kreiss * (1 + 1e-9), $"sup‖Aᵏ‖ = {growth} > e·n·K = {Math.E * n * kreiss}");
    }

    private static double[,] Gaussian(int n, int seed, double scale)
    {
        var random = new Random(seed);
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double u1 = 1.0 - random.NextDouble();
                double u2 = random.NextDouble();
                a[i, j] = scale * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            }
        }

        return a;
    }

    private static double[,] WithSpectralRadius(double[,] a, double radius)
    {
        double rho = Matrix<double>.Build.DenseOfArray(a).Evd().EigenValues.Select(z => z.Magnitude).Max();
        var b = (double[,])a.Clone();
        for (int i = 0; i < a.GetLength(0); i++)
        {
            for (int j = 0; j < a.GetLength(1); j++)
            {
                b[i, j] *= radius / rho;
            }
        }

        return b;
    }

    // Q·D·Qᵀ with eigenvalue moduli 0.2 + 0.1·j (distinct moduli and angles in [0.1, 3] → eigenvalues at least 0.04 apart).
    private static (double[,] Matrix, double Rho) Normal(int n, int seed)
    {
        var random = new Random(seed);
        var d = Matrix<double>.Build.Dense(n, n);
        double rho = 0;
        int i = 0;
        int block = 0;
        while (i < n)
        {
            double modulus = 0.2 + (0.1 * block++);
            rho = Math.Max(rho, modulus);
            if (i + 1 < n && random.NextDouble() < 0.5)
            {
                double angle = 0.1 + (2.9 * random.NextDouble());
                d[i, i] = d[i + 1, i + 1] = modulus * Math.Cos(angle);
                d[i, i + 1] = -modulus * Math.Sin(angle);
                d[i + 1, i] = modulus * Math.Sin(angle);
                i += 2;
            }
            else
            {
                d[i, i] = random.NextDouble() < 0.5 ? -modulus : modulus;
                i++;
            }
        }

        var q = Matrix<double>.Build.DenseOfArray(Gaussian(n, seed + 1, 1)).QR().Q;
        return ((q * d * q.Transpose()).ToArray(), rho);
    }
}
