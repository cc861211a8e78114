using SpectralMonitor.Estimators.Cpu;

namespace SpectralMonitor.Estimators.Tests;

public class CpuVectorSpaceTests
{
    [Fact]
    public void DotAndNormMatchDefinition()
    {
        var space = new CpuVectorSpace<double>(5000);
        var x = space.CreateVector();
        var y = space.CreateVector();
        space.FillRandom(x, RandomKind.Gaussian, 1);
        space.FillRandom(y, RandomKind.Rademacher, 2);
        double expected = 0;
        for (int i = 0; i < x.Length; i++)
        {
            expected += x[i] * y[i];
        }

        // Summation order differs (vectorized): allow a few ulps per term.
        Assert.Equal(expected, space.Dot(x, y), 1e-10);
        Assert.Equal(Math.Sqrt(space.Dot(x, x)), space.Norm(x), 1e-10);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1001)]
    [InlineData(1024)]
    public void AGaussianProductIsTheOuterProductOfTwoSmallGaussianDraws(int n)
    {
        // x[r·L + c] = b[r]·a[c] with L = ⌈√n⌉: every 2 × 2 minor of the (row-major) matrix vanishes, to rounding.
        var space = new CpuVectorSpace<double>(n);
        var x = space.CreateVector();
        space.FillRandom(x, RandomKind.GaussianProduct, 5);
        int columns = (int)Math.Ceiling(Math.Sqrt(n));
        for (int i = 0; i < n; i++)
        {
            int row = i / columns;
            int column = i % columns;
            Assert.Equal(x[i] * x[0], x[row * columns] * x[column], 1e-12);
        }

        Assert.All(x, value => Assert.NotEqual(0, value));
        var again = space.CreateVector();
        space.FillRandom(again, RandomKind.GaussianProduct, 5);
        Assert.Equal(x, again);
        space.FillRandom(again, RandomKind.GaussianProduct, 6);
        Assert.NotEqual(x, again);
    }

    [Fact]
    public void AGaussianProductHasUnitVariancePerEntry()
    {
        // ‖x‖²/n = (‖b‖²/R)(‖a‖²/L) for R ≈ L ≈ 100 here: each factor has mean 1 and standard deviation √(2/100) = 0.14;
        // averaged over 50 seeds the product's mean is 1 with a standard deviation of about 0.03; allow 4σ.
        const int n = 10_000;
        var space = new CpuVectorSpace<double>(n);
        var x = space.CreateVector();
        double mean = 0;
        for (int seed = 0; seed < 50; seed++)
        {
            space.FillRandom(x, RandomKind.GaussianProduct, seed);
            mean += space.Dot(x, x) / n / 50;
        }

        Assert.Equal(1, mean, 0.12);
    }

    [Fact]
    public void MaxAbsIsTheLargestMagnitudeAndPropagatesNaN()
    {
        var space = new CpuVectorSpace<float>(5);
        float[] x = [1, -7, 3, 0, 2];
        Assert.Equal(7, space.MaxAbs(x));
        x[3] = float.NaN;
        Assert.True(double.IsNaN(space.MaxAbs(x)));
    }

    [Fact]
    public void IndicatorBelowIsOneStrictlyBelowTheThresholdAndZeroForNaN()
    {
        var space = new CpuVectorSpace<float>(5);
        float[] x = [1e-14f, 1e-12f, 2, float.NaN, -3];
        var mask = new float[5];
        space.IndicatorBelow(x, 1e-12, mask);
        Assert.Equal([1f, 0f, 0f, 0f, 1f], mask);
        space.IndicatorBelow(x, 2.5, x);
        Assert.Equal([1f, 1f, 1f, 0f, 1f], x);
    }
}
