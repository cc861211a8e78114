using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.NonNormality;
using SpectralMonitor.Estimators.Operators;
using static SpectralMonitor.Cli.Tests.CliHarness;

namespace SpectralMonitor.Cli.Tests;

public sealed class AnalyzeCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("spectral-monitor-cli-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static string Example(string name) => Path.Combine(AppContext.BaseDirectory, "matrices", name);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Theory]
    [InlineData("grcar20.mtx", 50)]
    [InlineData("nonnormal2.mtx", 100)]
    [InlineData("laplacian10.mtx", 20)]
    [InlineData("jordan4.mtx", 5)]
    public void ShippedExamplesRoundTripToTheLibraryValues(string name, int horizon)
    {
        var (code, output, error) = Run("analyze", Example(name), "--horizon", horizon.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json");
        Assert.Equal(0, code);
        Assert.Equal(string.Empty, error);
        var json = ParseSingleObject(output);

        // The CLI calls the same deterministic library functions: values must agree exactly (JSON keeps all digits).
        var a = MatrixMarketReader.ReadFile(Example(name)).ToDense();
        int n = a.GetLength(0);
        var growth = TransientGrowth.Dense(a, horizon);
        var kappa = EigenvectorCondition.Dense(a);
        Assert.Equal(n, json.GetProperty("n").GetInt32());
        Assert.Equal(SpectralRadius.Dense(a).Value, Number(json.GetProperty("spectralRadius")));
        Assert.Equal(kappa.Value, Number(json.GetProperty("eigenvectorCondition")));
        Assert.Equal(kappa.VectorCount, json.GetProperty("ritzCount").GetInt32());
        Assert.Equal(growth.Max, Number(json.GetProperty("transientGrowth")));
        Assert.Equal(growth.Argmax, json.GetProperty("transientArgmax").GetInt32());
        Assert.Equal(KreissConstant.Dense(a, MatrixAnalysis.KreissOptionsFor(n)).Value, Number(json.GetProperty("kreissConstant")));
        Assert.Equal(NumericalRange.NumericalAbscissa(a), Number(json.GetProperty("numericalAbscissa")));
        Assert.Equal(NumericalRange.NumericalRadius(a, MatrixAnalysis.NumericalRadiusGridFor(n)).Value, Number(json.GetProperty("numericalRadius")));
        Assert.Equal(0, json.GetProperty("matvecs").GetInt64());
        Assert.True(json.GetProperty("converged").GetBoolean());
        Assert.Equal("dense", json.GetProperty("method").GetString());
    }

    [Fact]
    public void InfiniteValuesAreJsonStrings()
    {
        // Jordan block: defective (κ = ∞); Grcar: ρ > 1 (Kreiss = ∞).
        var jordan = ParseSingleObject(Run("analyze", Example("jordan4.mtx"), "--json").Output);
        Assert.Equal("Infinity", jordan.GetProperty("eigenvectorCondition").GetString());
        var grcar = ParseSingleObject(Run("analyze", Example("grcar20.mtx"), "--json").Output);
        Assert.Equal("Infinity", grcar.GetProperty("kreissConstant").GetString());
    }

    [Fact]
    public void NonNormalExampleHasItsClosedFormValues()
    {
        // [[0.9, 10], [0, 0.8]]: ρ = 0.9, κ(V) = |t| + √(1 + t²) with t = 10/(0.8 − 0.9) = −100.
        var json = ParseSingleObject(Run("analyze", Example("nonnormal2.mtx"), "--json").Output);
        Assert.Equal(0.9, Number(json.GetProperty("spectralRadius")), 1e-15);
        Assert.Equal(100 + Math.Sqrt(1 + 1e4), Number(json.GetProperty("eigenvectorCondition")), 1e-9);
    }

    [Fact]
    public void TableOutputListsTheMeasures()
    {
        var (code, output, error) = Run("analyze", Example("nonnormal2.mtx"));
        Assert.Equal(0, code);
        Assert.Equal(string.Empty, error);
        Assert.Contains("spectral radius", output, StringComparison.Ordinal);
        Assert.Contains("Kreiss constant", output, StringComparison.Ordinal);
        Assert.Contains("0.9", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("%%MatrixMarket matrix coordinate real\n2 2 1\n1 1 1\n", 1)]
    [InlineData("%%MatrixMarket matrix coordinate real general\n2 2 3\n1 1 1\n", 4)]
    [InlineData("%%MatrixMarket matrix coordinate real general\n2 2 1\n5 1 1\n", 3)]
    [InlineData("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 one\n", 3)]
    [InlineData("%%MatrixMarket matrix coordinate real general\n% comment\n2 2 2\n1 1 1\n2 2 NaN\n", 5)]
    public void MalformedFileGivesExitTwoAndOneLineNamingTheLine(string text, int line)
    {
        string path = Write("bad.mtx", text);
        var (code, output, error) = Run("analyze", path, "--json");
        Assert.Equal(CliApp.InputError, code);
        Assert.Equal(string.Empty, output);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.Contains($"line {line}:", error, StringComparison.Ordinal);
        Assert.Contains(path, error, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFileGivesExitTwo()
    {
        var (code, output, error) = Run("analyze", Path.Combine(_directory, "missing.mtx"));
        Assert.Equal(CliApp.InputError, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains("not found", error, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidHorizonGivesExitTwo()
    {
        var (code, output, error) = Run("analyze", Example("nonnormal2.mtx"), "--horizon", "0");
        Assert.Equal(CliApp.InputError, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains("--horizon", error, StringComparison.Ordinal);
    }

    [Fact]
    public void LargeSparseMatrixUsesTheKrylovMethod()
    {
        // Upper bidiagonal, n = 600: diagonal 0.3·i/n except four isolated leading eigenvalues 0.9, 0.8, 0.7, 0.6 in the
        // last four rows; superdiagonal 0.05 (mildly non-normal). The eigenvalues are the diagonal entries, so ρ = 0.9.
        const int N = 600;
        var text = new System.Text.StringBuilder();
        text.Append("%%MatrixMarket matrix coordinate real general\n").Append($"{N} {N} {(2 * N) - 1}\n");
        for (int i = 1; i <= N; i++)
        {
            double diagonal = i > N - 4 ? 0.9 - (0.1 * (N - i)) : 0.3 * i / N;
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i} {i} {diagonal:R}\n");
            if (i < N)
            {
                text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i} {i + 1} 0.05\n");
            }
        }

        string path = Write("bidiagonal600.mtx", text.ToString());
        var (code, output, error) = Run("analyze", path, "--json", "--k", "4", "--horizon", "10");
        Assert.Equal(0, code);
        Assert.Equal(string.Empty, error);
        var json = ParseSingleObject(output);
        Assert.Equal("krylov", json.GetProperty("method").GetString());
        Assert.Equal(N, json.GetProperty("n").GetInt32());

        // The JSON equals the library pipeline run directly (Arnoldi is deterministic for a fixed seed). The CLI runs it on
        // S = A/2^p (here p = −2): scaling by a power of two is exact, so Arnoldi takes the same steps; the projected
        // matrix's growth, computed by renormalized powers, agrees to rounding (1e-13 relative for 10 products).
        var matrix = MatrixMarketReader.ReadFile(path);
        var op = CsrMatrixOperator.FromCoordinates<double>(N, matrix.Rows, matrix.Columns, matrix.Values);
        var arnoldi = Arnoldi.Solve(op, MatrixAnalysis.ArnoldiOptionsFor(4), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(arnoldi.Convergence.OperatorApplications, json.GetProperty("matvecs").GetInt64());
        Assert.Equal(arnoldi.Convergence.IsConverged, json.GetProperty("converged").GetBoolean());
        Assert.Equal(MatrixAnalysis.ConvergedColumns(arnoldi, 1e-8).Count, json.GetProperty("ritzCount").GetInt32());
        AssertClose(TransientGrowth.FromProjectedMatrix(arnoldi.ProjectedMatrix, 10).Max, Number(json.GetProperty("transientGrowth")), 1e-13, "transientGrowth");

        // Isolated leading eigenvalues: Arnoldi converges all four, and ρ is exact to its residual tolerance 1e-8
        // (the eigenvalue 0.9 is well conditioned: its error is at most about the residual times its condition number).
        Assert.True(json.GetProperty("converged").GetBoolean());
        Assert.Equal(4, json.GetProperty("ritzCount").GetInt32());
        Assert.Equal(0.9, Number(json.GetProperty("spectralRadius")), 1e-7);
        Assert.True(double.IsFinite(Number(json.GetProperty("eigenvectorCondition"))));
        Assert.True(json.GetProperty("matvecs").GetInt64() > 0);
    }

    [Theory]
    [InlineData("analyze", "x.mtx", "--bogus")]
    [InlineData("analyze")]
    [InlineData("frobnicate", "x.mtx")]
    public void UsageErrorsExitWithCodeTwoAndPrintNothingToStdout(params string[] args)
    {
        var (code, output, error) = Run(args);
        Assert.Equal(2, code);
        Assert.Empty(output);
        Assert.Contains("usage: spectral-monitor analyze", error, StringComparison.Ordinal);
    }
}
