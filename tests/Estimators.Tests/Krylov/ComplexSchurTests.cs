using System.Numerics;
using MathNet.Numerics.LinearAlgebra;
using SpectralMonitor.Estimators.Dense;

namespace SpectralMonitor.Estimators.Tests.Krylov;

public class ComplexSchurTests
{
    private const double Epsilon = KrylovTestMatrices.Epsilon;

    public static TheoryData<string, int> Cases() => new()
    {
        { "random", 1 },
        { "random", 2 },
        { "random", 7 },
        { "random", 50 },
        { "random", 120 },
        { "grcar", 100 },
        { "grcar", 200 },
        { "jordan", 40 },
        { "jordan", 120 },
        { "rotation-blocks", 60 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decompose_IsUnitarySimilarityToTriangular(string kind, int n)
    {
        var a = Build(kind, n);
        var schur = ComplexSchur.Decompose(a);

        Assert.True(schur.Converged, $"QR iteration did not converge after {schur.Iterations} iterations");
        AssertSchurForm(ToComplex(a), schur.T, schur.Z);

        // The trace is invariant under similarity: Σ diag(T) = tr(A), to the backward error of the decomposition.
        Complex trace = Complex.Zero;
        double expected = 0;
        for (int i = 0; i < n; i++)
        {
            trace += schur.T[i, i];
            expected += a[i, i];
        }

        Assert.Equal(expected, trace.Real, 100 * n * Epsilon * Math.Max(1, FrobeniusNorm(ToComplex(a))));
        Assert.Equal(0, trace.Imaginary, 100 * n * Epsilon * Math.Max(1, FrobeniusNorm(ToComplex(a))));
    }

    [Theory]
    [InlineData(7)]
    [InlineData(60)]
    [InlineData(150)]
    public void Eigenvalues_MatchMathNetOnRandomMatrices(int n)
    {
        var a = KrylovTestMatrices.Gaussian(n, n, 100 + n);
        var schur = ComplexSchur.Decompose(a);
        var dense = Matrix<double>.Build.DenseOfArray(a).Evd().EigenValues.ToArray();

        // Eigenvalues of a Gaussian matrix are well conditioned (condition numbers ~ √n): both solvers are backward
        // stable, so they agree to ~κ·n·ε·‖A‖; 1e-9 leaves two orders of magnitude.
        AssertSameSet(dense, schur.Eigenvalues(), 1e-9 * Math.Sqrt(n));
    }

    [Fact]
    public void ComplexInput_TwoByTwoClosedForms()
    {
        // [[0, 1], [−1, 0]] has eigenvalues ±i; [[1, i], [0, 2]] is already triangular.
        var rotation = ComplexSchur.Decompose(new double[,] { { 0, 1 }, { -1, 0 } });
        AssertSameSet([Complex.ImaginaryOne, -Complex.ImaginaryOne], rotation.Eigenvalues(), 1e-15);

        var triangular = ComplexSchur.Decompose(new Complex[,] { { 1, Complex.ImaginaryOne }, { 0, 2 } });
        Assert.Equal(new Complex(1, 0), triangular.T[0, 0]);
        Assert.Equal(new Complex(2, 0), triangular.T[1, 1]);

        var random = ComplexMatrix(30, 9);
        var schur = ComplexSchur.Decompose(random);
        Assert.True(schur.Converged);
        AssertSchurForm(random, schur.T, schur.Z);
    }

    [Theory]
    [InlineData("random", 40)]
    [InlineData("grcar", 100)]
    [InlineData("rotation-blocks", 30)]
    public void Reorder_MovesSelectedEigenvaluesFirstAndKeepsTheDecomposition(string kind, int n)
    {
        var a = Build(kind, n);
        var schur = ComplexSchur.Decompose(a);
        var before = schur.Eigenvalues();

        // Select the eigenvalues in the upper half plane, scattered through the Schur form.
        var selected = before.Select(v => v.Imaginary > 0).ToArray();
        int count = selected.Count(s => s);
        Assert.InRange(count, 1, n - 1);

        var reordered = ComplexSchur.Reorder(schur, selected);
        AssertSchurForm(ToComplex(a), reordered.T, reordered.Z);

        // Swaps are unitary similarities: each eigenvalue moves by about ε·‖A‖ (times its condition number, large for Grcar).
        double tolerance = (kind == "grcar" ? 1e-8 : 1e-11) * FrobeniusNorm(ToComplex(a));
        var after = reordered.Eigenvalues();
        AssertSameSet(before.Where((_, i) => selected[i]).ToArray(), after.Take(count).ToArray(), tolerance);
        AssertSameSet(before.Where((_, i) => !selected[i]).ToArray(), after.Skip(count).ToArray(), tolerance);

        // The leading columns span an invariant subspace: A·Z_p = Z_p·T_pp (T is triangular, so T_pp is its top-left block).
        var za = Multiply(ToComplex(a), reordered.Z);
        double worst = 0;
        for (int i = 0; i < n; i++)
        {
            for (int c = 0; c < count; c++)
            {
                Complex zt = Complex.Zero;
                for (int r = 0; r <= c; r++)
                {
                    zt += reordered.Z[i, r] * reordered.T[r, c];
                }

                worst = Math.Max(worst, Complex.Abs(za[i, c] - zt));
            }
        }

        Assert.True(worst <= 100 * n * Epsilon * FrobeniusNorm(ToComplex(a)), $"‖A·Z_p − Z_p·T_pp‖_max = {worst:E3}");
    }

    [Fact]
    public void InvalidInput_Throws()
    {
        Assert.Throws<ArgumentException>("matrix", () => ComplexSchur.Decompose(new double[2, 3]));
        Assert.Throws<ArgumentException>("matrix", () => ComplexSchur.Decompose(new double[0, 0]));
        Assert.Throws<ArgumentException>("matrix", () => ComplexSchur.Decompose(new double[,] { { 1, double.NaN }, { 0, 1 } }));
        var schur = ComplexSchur.Decompose(new double[,] { { 1, 2 }, { 3, 4 } });
        Assert.Throws<ArgumentException>("selected", () => ComplexSchur.Reorder(schur, [true]));
    }

    internal static double[,] Build(string kind, int n) => kind switch
    {
        "random" => KrylovTestMatrices.Gaussian(n, n, 1000 + n),
        "grcar" => Grcar(n),
        "jordan" => JordanLike(n),
        _ => RotationBlocks(n),
    };

    /// <summary>Grcar matrix: −1 on the subdiagonal, 1 on the diagonal and three superdiagonals (highly non-normal).</summary>
    internal static double[,] Grcar(int n)
    {
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            if (i > 0)
            {
                a[i, i - 1] = -1;
            }

            for (int j = i; j < Math.Min(n, i + 4); j++)
            {
                a[i, j] = 1;
            }
        }

        return a;
    }

    /// <summary>Q·J_n(2)·Qᵀ: a Jordan block (defective, eigenvalue 2 of multiplicity n) in a random orthonormal basis.</summary>
    private static double[,] JordanLike(int n)
    {
        var q = Matrix<double>.Build.DenseOfArray(KrylovTestMatrices.RandomOrthogonal(n, n));
        var j = Matrix<double>.Build.Dense(n, n);
        for (int i = 0; i < n; i++)
        {
            j[i, i] = 2;
            if (i + 1 < n)
            {
                j[i, i + 1] = 1;
            }
        }

        return (q * j * q.Transpose()).ToArray();
    }

    /// <summary>Block diagonal of 2 × 2 rotations scaled by 1..n/2 (complex-conjugate pairs), in a random basis.</summary>
    private static double[,] RotationBlocks(int n)
    {
        var d = Matrix<double>.Build.Dense(n, n);
        for (int b = 0; b + 1 < n; b += 2)
        {
            double r = 1 + (b / 2);
            double angle = 0.3 + (0.1 * b);
            d[b, b] = r * Math.Cos(angle);
            d[b, b + 1] = r * Math.Sin(angle);
            d[b + 1, b] = -r * Math.Sin(angle);
            d[b + 1, b + 1] = r * Math.Cos(angle);
        }

        var q = Matrix<double>.Build.DenseOfArray(KrylovTestMatrices.RandomOrthogonal(n, 2 * n));
        return (q * d * q.Transpose()).ToArray();
    }

    internal static void AssertSchurForm(Complex[,] a, Complex[,] t, Complex[,] z)
    {
        int n = a.GetLength(0);
        double norm = FrobeniusNorm(a);

        // Backward stability of Householder + QR: ‖A − ZTZᴴ‖ ≤ c·n·ε·‖A‖ with a modest c; 20 covers the measured values.
        var zt = Multiply(z, t);
        double error = 0;
        double orthogonality = 0;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                Complex sum = Complex.Zero;
                Complex gram = Complex.Zero;
                for (int k = 0; k < n; k++)
                {
                    sum += zt[i, k] * Complex.Conjugate(z[j, k]);
                    gram += Complex.Conjugate(z[k, i]) * z[k, j];
                }

                error += Complex.Abs(a[i, j] - sum) * Complex.Abs(a[i, j] - sum);
                orthogonality += Complex.Abs(gram - (i == j ? 1 : 0)) * Complex.Abs(gram - (i == j ? 1 : 0));
                if (i > j)
                {
                    Assert.Equal(Complex.Zero, t[i, j]);
                }
            }
        }

        Assert.True(Math.Sqrt(error) <= 20 * n * Epsilon * norm, $"‖A − ZTZᴴ‖_F = {Math.Sqrt(error):E3}, bound {20 * n * Epsilon * norm:E3}");
        Assert.True(Math.Sqrt(orthogonality) <= 20 * n * Epsilon, $"‖ZᴴZ − I‖_F = {Math.Sqrt(orthogonality):E3}");
    }

    internal static void AssertSameSet(IReadOnlyList<Complex> expected, IReadOnlyList<Complex> actual, double tolerance)
    {
        Assert.Equal(expected.Count, actual.Count);
        var used = new bool[actual.Count];
        foreach (var e in expected)
        {
            int best = -1;
            double distance = double.PositiveInfinity;
            for (int i = 0; i < actual.Count; i++)
            {
                if (!used[i] && Complex.Abs(actual[i] - e) < distance)
                {
                    distance = Complex.Abs(actual[i] - e);
                    best = i;
                }
            }

            Assert.True(distance <= tolerance, $"eigenvalue {e} has no partner within {tolerance:E2} (closest {distance:E2})");
            used[best] = true;
        }
    }

    internal static Complex[,] ToComplex(double[,] a)
    {
        var c = new Complex[a.GetLength(0), a.GetLength(1)];
        for (int i = 0; i < a.GetLength(0); i++)
        {
            for (int j = 0; j < a.GetLength(1); j++)
            {
                c[i, j] = a[i, j];
            }
        }

        return c;
    }

    private static Complex[,] ComplexMatrix(int n, int seed)
    {
        var re = KrylovTestMatrices.Gaussian(n, n, seed);
        var im = KrylovTestMatrices.Gaussian(n, n, seed + 1);
        var c = new Complex[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                c[i, j] = new Complex(re[i, j], im[i, j]);
            }
        }

        return c;
    }

    private static Complex[,] Multiply(Complex[,] a, Complex[,] b)
    {
        int n = a.GetLength(0);
        int inner = a.GetLength(1);
        int m = b.GetLength(1);
        var c = new Complex[n, m];
        for (int i = 0; i < n; i++)
        {
            for (int k = 0; k < inner; k++)
            {
                var aik = a[i, k];
                for (int j = 0; j < m; j++)
                {
                    c[i, j] += aik * b[k, j];
                }
            }
        }

        return c;
    }

    private static double FrobeniusNorm(Complex[,] a)
    {
        double sum = 0;
        foreach (var v in a)
        {
            sum += (v.Real * v.Real) + (v.Imaginary * v.Imaginary);
        }

        return Math.Sqrt(sum);
    }
}
