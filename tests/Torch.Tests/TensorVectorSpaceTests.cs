using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Cpu;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

/// <summary>Every operation of the tensor backend against the CPU backend on the same data.</summary>
public class TensorVectorSpaceTests
{
    // Both backends compute in float64 with different summation orders: agreement to ~1e-13 relative (n = 1000).
    private const double Tolerance = 1e-12;
    private const int N = 1000;

    [Fact]
    public void ElementwiseOperationsAndReductionsMatchCpuBackend()
    {
        using var scope = TensorProbeScope.Begin();
        var cpu = new CpuVectorSpace<double>(N);
        var gpu = new TensorVectorSpace(N, ScalarType.Float64);
        var random = new Random(1);
        var a = TinyMlp.Gaussian(random, N, 1);
        var b = TinyMlp.Gaussian(random, N, 1);
        var positive = a.Select(v => v * v + 0.1).ToArray();
        using var ta = torch.tensor(a, ScalarType.Float64);
        using var tb = torch.tensor(b, ScalarType.Float64);
        using var tp = torch.tensor(positive, ScalarType.Float64);

        Assert.Equal(cpu.Dot(a, b), gpu.Dot(ta, tb), Tolerance * N);
        Assert.Equal(cpu.Norm(a), gpu.Norm(ta), Tolerance * Math.Sqrt(N));

        void Same(double[] expected, Tensor actual, string what) =>
            Assert.True(Host.MaxAbsDifference(expected, Host.ToArray(actual)) <= Tolerance, what);

        var ca = (double[])a.Clone();
        var cb = (double[])b.Clone();
        using var xa = ta.clone();
        using var xb = tb.clone();
        cpu.Axpy(-0.75, ca, cb);
        gpu.Axpy(-0.75, xa, xb);
        Same(cb, xb, "Axpy");

        cpu.Scale(ca, 3.5);
        gpu.Scale(xa, 3.5);
        Same(ca, xa, "Scale");

        var cd = cpu.CreateVector();
        using var xd = gpu.CreateVector();
        cpu.Copy(a, cd);
        gpu.Copy(ta, xd);
        Same(cd, xd, "Copy");

        cpu.Multiply(a, b, cd);
        gpu.Multiply(ta, tb, xd);
        Same(cd, xd, "Multiply");
        cpu.Multiply(cd, b, cd);
        gpu.Multiply(xd, tb, xd);
        Same(cd, xd, "Multiply aliasing x");
        cpu.Multiply(a, cd, cd);
        gpu.Multiply(ta, xd, xd);
        Same(cd, xd, "Multiply aliasing y");

        cpu.Maximum(a, b, cd);
        gpu.Maximum(ta, tb, xd);
        Same(cd, xd, "Maximum");

        cpu.IndicatorBelow(a, 0.1, cd);
        gpu.IndicatorBelow(ta, 0.1, xd);
        Same(cd, xd, "IndicatorBelow");
        Assert.InRange(cpu.Dot(cd, cd), 1, N - 1); // both values occur

        cpu.Sqrt(positive, cd);
        gpu.Sqrt(tp, xd);
        Same(cd, xd, "Sqrt");

        cpu.InverseSqrtPlusEpsilon(positive, 1.0 / (1 - Math.Pow(0.999, 7)), 1e-8, cd);
        gpu.InverseSqrtPlusEpsilon(tp, 1.0 / (1 - Math.Pow(0.999, 7)), 1e-8, xd);
        Same(cd, xd, "InverseSqrtPlusEpsilon");
        using var alias = tp.clone();
        gpu.InverseSqrtPlusEpsilon(alias, 2.0, 1e-3, alias);
        cpu.InverseSqrtPlusEpsilon(positive, 2.0, 1e-3, cd);
        Same(cd, alias, "InverseSqrtPlusEpsilon in place");

        gpu.Clear(xd);
        Assert.Equal(0, gpu.Norm(xd));
    }

    [Fact]
    public void CompatibilityChecksDtypeLengthAndDisposal()
    {
        using var scope = TensorProbeScope.Begin();
        var space = new TensorVectorSpace(5, ScalarType.Float32);
        using var good = space.CreateVector();
        using var wrongType = torch.zeros(new long[] { 5 }, ScalarType.Float64);
        using var wrongShape = torch.zeros(new long[] { 5, 1 }, ScalarType.Float32);
        Assert.True(space.IsCompatible(good));
        Assert.Equal(ScalarType.Float32, good.dtype);
        Assert.False(space.IsCompatible(wrongType));
        Assert.False(space.IsCompatible(wrongShape));
        var released = space.CreateVector();
        space.Release(released);
        Assert.False(space.IsCompatible(released));
        var error = Assert.Throws<ArgumentException>(() => space.Dot(good, wrongType));
        Assert.Equal("y", error.ParamName);
        Assert.Throws<ArgumentException>(() => new TensorVectorSpace(5, ScalarType.Int32));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TensorVectorSpace(0, ScalarType.Float32));
    }

    [Fact]
    public void FillRandomIsDeterministicAndHasTheRightDistribution()
    {
        using var scope = TensorProbeScope.Begin();
        const int n = 20000;
        var space = new TensorVectorSpace(n, ScalarType.Float64);
        using var a = space.CreateVector();
        using var b = space.CreateVector();
        space.FillRandom(a, RandomKind.Gaussian, 42);
        space.FillRandom(b, RandomKind.Gaussian, 42);
        Assert.Equal(Host.ToArray(a), Host.ToArray(b));
        space.FillRandom(b, RandomKind.Gaussian, 43);
        Assert.NotEqual(Host.ToArray(a), Host.ToArray(b));

        // ‖a‖²/n of n standard normals: mean 1, standard deviation √(2/n) = 0.01; allow 5σ.
        Assert.Equal(1.0, space.Dot(a, a) / n, 0.05);

        space.FillRandom(b, RandomKind.Rademacher, 7);
        var signs = Host.ToArray(b);
        Assert.All(signs, s => Assert.True(s == 1.0 || s == -1.0));
        // Mean of n fair ±1: standard deviation 1/√n ≈ 0.007; allow 5σ.
        Assert.Equal(0.0, signs.Average(), 0.035);
    }

    [Fact]
    public void BasisOperationsMatchCpuBasis()
    {
        using var scope = TensorProbeScope.Begin();
        var cpuSpace = new CpuVectorSpace<double>(N);
        var gpuSpace = new TensorVectorSpace(N, ScalarType.Float64);
        using var cpu = cpuSpace.CreateBasis(5);
        using var gpu = gpuSpace.CreateBasis(5);
        var random = new Random(3);
        for (int i = 0; i < 4; i++)
        {
            var q = TinyMlp.Gaussian(random, N, 1);
            cpu.Append(q);
            using var t = torch.tensor(q, ScalarType.Float64);
            gpu.Append(t);
        }

        Assert.Equal(4, gpu.Count);
        Assert.Equal(5, gpu.Capacity);
        for (int i = 0; i < 4; i++)
        {
            Assert.True(Host.MaxAbsDifference(cpu[i], Host.ToArray(gpu[i])) == 0, "Append copies exactly");
        }

        var v = TinyMlp.Gaussian(random, N, 1);
        using var tv = torch.tensor(v, ScalarType.Float64);
        var cc = new double[4];
        var gc = new double[4];
        cpu.Project(v, cc);
        gpu.Project(tv, gc);
        for (int i = 0; i < 4; i++)
        {
            // Dot products of length-1000 vectors with O(30) magnitude: absolute agreement ~1e-12·n.
            Assert.Equal(cc[i], gc[i], Tolerance * N);
        }

        var coefficients = new[] { 0.5, -1.25, 2.0, 0.125 };
        var cv = (double[])v.Clone();
        using var gv = tv.clone();
        cpu.SubtractProjection(cv, coefficients);
        gpu.SubtractProjection(gv, coefficients);
        Assert.True(Host.MaxAbsDifference(cv, Host.ToArray(gv)) <= Tolerance * 10, "SubtractProjection");

        var cd = cpuSpace.CreateVector();
        using var gd = gpuSpace.CreateVector();
        gpuSpace.FillRandom(gd, RandomKind.Gaussian, 1);
        cpu.Combine(coefficients, cd);
        gpu.Combine(coefficients, gd);
        Assert.True(Host.MaxAbsDifference(cd, Host.ToArray(gd)) <= Tolerance * 10, "Combine");

        // 4 × 3 transform: three chunks of columns (chunk = ⌈1000 / 3⌉), in place.
        var m = new double[4, 3];
        for (int i = 0; i < 4; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                m[i, j] = (i + 1) * 0.3 - (j * 0.7) + (i == j ? 1 : 0);
            }
        }

        var keptView = gpu[2];
        cpu.Transform(m);
        gpu.Transform(m);
        Assert.Equal(3, gpu.Count);
        for (int j = 0; j < 3; j++)
        {
            Assert.True(Host.MaxAbsDifference(cpu[j], Host.ToArray(gpu[j])) <= Tolerance * 10, $"Transform column {j}");
        }

        Assert.True(Host.MaxAbsDifference(cpu[2], Host.ToArray(keptView)) <= Tolerance * 10, "row views see the transformed basis");

        cpu.Truncate(1);
        gpu.Truncate(1);
        Assert.Equal(1, gpu.Count);
        var one = new double[1];
        gpu.Project(tv, one);
        Assert.Equal(cpuSpace.Dot(cpu[0], v), one[0], Tolerance * N);
        Assert.Throws<ArgumentOutOfRangeException>(() => gpu[1]);
        Assert.Throws<ArgumentException>(() => gpu.Project(tv, new double[2]));
        Assert.Throws<ArgumentException>(() => gpu.Transform(new double[2, 1]));
    }

    [Fact]
    public void Float32ReductionsAgreeWithDoubleReference()
    {
        using var scope = TensorProbeScope.Begin();
        var random = new Random(4);
        var a = TinyMlp.Gaussian(random, N, 1);
        var b = TinyMlp.Gaussian(random, N, 1);
        var space = new TensorVectorSpace(N, ScalarType.Float32);
        using var ta = torch.tensor(a, ScalarType.Float32);
        using var tb = torch.tensor(b, ScalarType.Float32);
        var af = Host.ToArray(ta);
        var bf = Host.ToArray(tb);

        // Inputs rounded to float32 first; the float32 accumulation then errs by ~√n·ε·Σ|aᵢbᵢ| ≈ 1e-4 here.
        Assert.Equal(Host.Dot(af, bf), space.Dot(ta, tb), 1e-3);
        using var basis = space.CreateBasis(2);
        basis.Append(ta);
        var c = new double[1];
        basis.Project(tb, c);
        Assert.Equal(Host.Dot(af, bf), c[0], 1e-3);
    }
}
