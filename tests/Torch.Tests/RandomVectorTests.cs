using System.Text.RegularExpressions;
using SpectralMonitor.Estimators;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

/// <summary>
/// Random vectors are drawn by a CPU generator and copied to the device: TorchSharp's <c>Generator</c> is always a CPU
/// generator whatever device it is given, and CUDA kernels reject it ("Expected a 'cuda' device type for generator"), so
/// a generator bound to the vectors' device breaks every cold probe on a GPU. These tests hold without a GPU.
/// </summary>
public partial class RandomVectorTests
{
    /// <summary>
    /// On a device other than the CPU (the meta device, which every libtorch build has) a draw must go through the host:
    /// one upload per draw. A draw on the device itself (a device-bound generator, the old bug) makes no upload: on the
    /// meta device it does not even fail, so the upload count is what tells the two apart.
    /// </summary>
    [Fact]
    public void OffTheCpuEveryDrawIsMadeOnTheHostAndUploaded()
    {
        using var scope = TensorProbeScope.Begin();
        var space = new TensorVectorSpace(257, ScalarType.Float32, new Device(DeviceType.META));
        Assert.Equal(DeviceType.META, space.DeviceType);
        var v = space.CreateVector();
        long before = space.HostUploads;
        space.FillRandom(v, RandomKind.Gaussian, 3);
        space.FillRandom(v, RandomKind.Rademacher, 4);
        space.FillRandom(v, RandomKind.GaussianProduct, 5);
        Assert.Equal(before + 3, space.HostUploads);
        Assert.Equal(DeviceType.META, v.device_type);
    }

    /// <summary>The host path gives, bit for bit, the vector a CPU generator with the same seed draws: the same on every device.</summary>
    [Theory]
    [InlineData(ScalarType.Float32, RandomKind.Gaussian)]
    [InlineData(ScalarType.Float64, RandomKind.Gaussian)]
    [InlineData(ScalarType.Float32, RandomKind.Rademacher)]
    [InlineData(ScalarType.Float64, RandomKind.Rademacher)]
    public void TheStagedDrawIsTheCpuGeneratorsDraw(ScalarType dtype, RandomKind kind)
    {
        using var scope = TensorProbeScope.Begin();
        const int n = 1001;
        var direct = new TensorVectorSpace(n, dtype);
        var staged = new TensorVectorSpace(n, dtype) { StageRandomDrawsOnHost = true };
        var a = direct.CreateVector();
        var b = staged.CreateVector();
        direct.FillRandom(a, kind, 11);
        long uploads = staged.HostUploads;
        staged.FillRandom(b, kind, 11);
        Assert.Equal(uploads + 1, staged.HostUploads);
        Assert.Equal(Host.ToArray(a), Host.ToArray(b));

        // An independent draw with a CPU generator of the same seed.
        using var generator = new Generator(11);
        var expected = torch.empty(new long[] { n }, dtype);
        if (kind == RandomKind.Gaussian)
        {
            expected.normal_(0, 1, generator);
        }
        else
        {
            expected.bernoulli_(0.5, generator).mul_(2).sub_(1);
        }

        Assert.Equal(Host.ToArray(expected), Host.ToArray(a));
    }

    /// <summary>
    /// A Gaussian product is the outer product of a CPU generator's draw of ⌈n/L⌉ + L normals (b, then a; L = ⌈√n⌉),
    /// row-major, truncated to n: bit for bit, including the last, partial row (n = 1001: 31 full rows of 32, and 9).
    /// </summary>
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float64)]
    public void AGaussianProductIsTheOuterProductOfTheCpuGeneratorsDraw(ScalarType dtype)
    {
        using var scope = TensorProbeScope.Begin();
        const int n = 1001;
        const int columns = 32;
        const int rows = 32;
        var space = new TensorVectorSpace(n, dtype);
        var v = space.CreateVector();
        space.FillRandom(v, RandomKind.GaussianProduct, 13);

        using var generator = new Generator(13);
        var factors = torch.empty(new long[] { rows + columns }, dtype).normal_(0, 1, generator);
        var expected = torch.outer(factors.narrow(0, 0, rows), factors.narrow(0, rows, columns)).reshape(-1).narrow(0, 0, n);
        Assert.Equal(Host.ToArray(expected), Host.ToArray(v));
    }

    /// <summary>
    /// Source guard, in addition to the behavioural tests above: no file under src/ constructs a TorchSharp generator with
    /// a device argument (<c>new Generator(seed, device)</c>), which would bind it to a device it can never serve.
    /// </summary>
    [Fact]
    public void NoSourceFileBindsAGeneratorToADevice()
    {
        var root = RepositoryRoot();
        var offenders = new List<string>();
        int files = 0;
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal) || file.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            {
                continue;
            }

            files++;
            string text = File.ReadAllText(file);
            foreach (Match match in GeneratorConstruction().Matches(text))
            {
                // The argument list, parentheses balanced; a comma at its top level means a second (device) argument.
                int depth = 0;
                int end = match.Index + match.Length;
                bool secondArgument = false;
                for (; end < text.Length; end++)
                {
                    char c = text[end];
                    if (c == '(')
                    {
                        depth++;
                    }
                    else if (c == ')' && depth-- == 0)
                    {
                        break;
                    }
                    else if (c == ',' && depth == 0)
                    {
                        secondArgument = true;
                    }
                }

                if (secondArgument)
                {
                    offenders.Add($"{Path.GetRelativePath(root, file)}: {text[match.Index..Math.Min(text.Length, end + 1)]}");
                }
            }
        }

        Assert.True(files > 20, $"only {files} source files found under {root}/src");
        Assert.Empty(offenders);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Monitor.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Monitor.sln not found above " + AppContext.BaseDirectory);
    }

    // "new Generator(", "new torch.Generator(" or "torch.Generator(" up to the opening parenthesis.
    [GeneratedRegex(@"(new\s+(torch\.)?Generator|torch\.Generator)\s*\(")]
    private static partial Regex GeneratorConstruction();
}
