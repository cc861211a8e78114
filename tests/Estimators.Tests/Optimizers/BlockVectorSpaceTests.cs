using SpectralMonitor.Estimators.Cpu;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Tests.Optimizers;

/// <summary>
/// A block vector of k blocks of length n is, by definition, the concatenated vector of length k·n. Every operation of
/// the block space and its basis must equal the CPU backend's operation on the concatenations.
/// </summary>
public class BlockVectorSpaceTests
{
    private const int N = 2500; // longer than the CPU backend's cache block, so its blocked loops are exercised
    private const int Blocks = 3;

    // The block space sums k partial results where the flat one sums one long vector: reductions agree to a few
    // ulps of the magnitudes summed, far below 1e-12 relative for vectors of 7500 unit-scale entries.
    private const double Tolerance = 1e-12;

    private static readonly CpuVectorSpace<double> Inner = new(N);
    private static readonly CpuVectorSpace<double> Flat = new(N * Blocks);

    [Fact]
    public void ElementwiseAndReductionsEqualConcatenatedDefinitions()
    {
        var space = new BlockVectorSpace<double[]>(Inner, Blocks);
        Assert.Equal(N * Blocks, space.Dimension);
        var x = RandomBlock(space, 1);
        var y = RandomBlock(space, 2);
        var xf = Concat(x);
        var yf = Concat(y);

        Assert.Equal(Flat.Dot(xf, yf), space.Dot(x, y), Tolerance * Flat.Norm(xf) * Flat.Norm(yf));
        Assert.Equal(Flat.Norm(xf), space.Norm(x), Tolerance * Flat.Norm(xf));

        space.Axpy(-0.7, x, y);
        Flat.Axpy(-0.7, xf, yf);
        AssertSame(yf, y);

        space.Scale(y, 3.5);
        Flat.Scale(yf, 3.5);
        AssertSame(yf, y);

        var z = space.CreateVector();
        var zf = Flat.CreateVector();
        space.Multiply(x, y, z);
        Flat.Multiply(xf, yf, zf);
        AssertSame(zf, z);

        space.Maximum(x, y, z);
        Flat.Maximum(xf, yf, zf);
        AssertSame(zf, z);

        space.Multiply(x, x, z);
        Flat.Multiply(xf, xf, zf);
        space.Sqrt(z, y);
        Flat.Sqrt(zf, yf);
        AssertSame(yf, y);

        space.InverseSqrtPlusEpsilon(z, 2.0, 0.1, y);
        Flat.InverseSqrtPlusEpsilon(zf, 2.0, 0.1, yf);
        AssertSame(yf, y);

        space.IndicatorBelow(x, 0.25, y);
        Flat.IndicatorBelow(xf, 0.25, yf);
        AssertSame(yf, y);
        Assert.InRange(Flat.Dot(yf, yf), 1, (N * Blocks) - 1); // both values occur

        space.Copy(x, z);
        AssertSame(xf, z);
        space.Clear(z);
        Assert.Equal(0, space.Norm(z));
    }

    [Fact]
    public void NormAvoidsOverflowAndPropagatesNaN()
    {
        var space = new BlockVectorSpace<double[]>(new CpuVectorSpace<double>(2), 2);
        // Each block's norm (1e154) is representable and so is the result, but the sum of the squared block norms
        // (2e308) is not: the block space must scale before summing.
        var big = new BlockVector<double[]>([1e154, 0], [0, 1e154]);
        Assert.Equal(Math.Sqrt(2) * 1e154, space.Norm(big), 1e140);
        var nan = new BlockVector<double[]>([1, 0], [double.NaN, 0]);
        Assert.True(double.IsNaN(space.Norm(nan)));
        Assert.True(double.IsNaN(space.Dot(nan, nan)));
    }

    [Fact]
    public void FillRandomIsReproducibleAndBlocksDiffer()
    {
        var space = new BlockVectorSpace<double[]>(Inner, Blocks);
        var a = space.CreateVector();
        var b = space.CreateVector();
        space.FillRandom(a, RandomKind.Gaussian, 5);
        space.FillRandom(b, RandomKind.Gaussian, 5);
        AssertSame(Concat(a), b);
        Assert.NotEqual(a[0], a[1]);
        space.FillRandom(b, RandomKind.Rademacher, 5);
        Assert.All(Concat(b), v => Assert.Equal(1, Math.Abs(v)));
    }

    [Fact]
    public void CompatibilityChecksBlockCountAndBlockLength()
    {
        var space = new BlockVectorSpace<double[]>(new CpuVectorSpace<double>(4), 2);
        Assert.True(space.IsCompatible(new BlockVector<double[]>(new double[4], new double[4])));
        Assert.False(space.IsCompatible(new BlockVector<double[]>(new double[4])));
        Assert.False(space.IsCompatible(new BlockVector<double[]>(new double[4], new double[3])));
        Assert.Throws<ArgumentException>(() => space.Dot(new BlockVector<double[]>(new double[4]), new BlockVector<double[]>(new double[4])));
    }

    [Fact]
    public void BasisBulkOperationsEqualConcatenatedBasis()
    {
        const int K = 5;
        var space = new BlockVectorSpace<double[]>(Inner, Blocks);
        using var basis = space.CreateBasis(K + 1);
        using var flatBasis = Flat.CreateBasis(K + 1);
        for (int i = 0; i < K; i++)
        {
            var v = RandomBlock(space, 100 + i);
            basis.Append(v);
            flatBasis.Append(Concat(v));
        }

        Assert.Equal(K, basis.Count);
        Assert.Equal(K + 1, basis.Capacity);
        AssertSame(flatBasis[3], basis[3]);

        var x = RandomBlock(space, 7);
        var xf = Concat(x);
        var c = new double[K];
        var cf = new double[K];
        basis.Project(x, c);
        flatBasis.Project(xf, cf);
        for (int i = 0; i < K; i++)
        {
            Assert.Equal(cf[i], c[i], Tolerance * Flat.Norm(xf) * Flat.Norm(flatBasis[i]));
        }

        basis.SubtractProjection(x, c);
        flatBasis.SubtractProjection(xf, c);
        AssertSame(xf, x);

        var d = space.CreateVector();
        var df = Flat.CreateVector();
        double[] coefficients = [0.5, -1, 2, 0, 3];
        basis.Combine(coefficients, d);
        flatBasis.Combine(coefficients, df);
        AssertSame(df, d);

        var m = new double[K, 3];
        for (int i = 0; i < K; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                m[i, j] = Math.Sin((i * 3) + j + 1);
            }
        }

        basis.Transform(m);
        flatBasis.Transform(m);
        Assert.Equal(3, basis.Count);
        for (int j = 0; j < 3; j++)
        {
            AssertSame(flatBasis[j], basis[j]);
        }

        basis.Truncate(1);
        Assert.Equal(1, basis.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => basis[1]);
    }

    private static BlockVector<double[]> RandomBlock(BlockVectorSpace<double[]> space, int seed)
    {
        var v = space.CreateVector();
        space.FillRandom(v, RandomKind.Gaussian, seed);
        return v;
    }

    private static double[] Concat(BlockVector<double[]> v)
    {
        var flat = new double[v.BlockCount * v[0].Length];
        for (int b = 0; b < v.BlockCount; b++)
        {
            v[b].CopyTo(flat, b * v[b].Length);
        }

        return flat;
    }

    /// <summary>Elementwise operations are the same floating-point operations on the same numbers, so they agree to a few ulps.</summary>
    private static void AssertSame(double[] expected, BlockVector<double[]> actual)
    {
        var flat = Concat(actual);
        Assert.Equal(expected.Length, flat.Length);
        for (int i = 0; i < flat.Length; i++)
        {
            Assert.Equal(expected[i], flat[i], 4e-16 * Math.Max(1, Math.Abs(expected[i])));
        }
    }
}
