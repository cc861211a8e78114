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
