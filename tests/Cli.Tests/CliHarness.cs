using System.Globalization;
using System.Text.Json;

namespace SpectralMonitor.Cli.Tests;

/// <summary>The values <c>analyze --json</c> prints, for comparison with exact answers.</summary>
internal sealed record ExpectedReport(
    double SpectralRadius,
    double EigenvectorCondition,
    int RitzCount,
    double TransientGrowth,
    int TransientArgmax,
    double KreissConstant,
    double NumericalAbscissa,
    double NumericalRadius,
    string Method);

/// <summary>Runs the CLI in-process and checks its two kinds of outcome: one JSON object, or exit 2 with one line.</summary>
internal static class CliHarness
{
    public static readonly string[] Fields =
    [
        "n", "spectralRadius", "eigenvectorCondition", "ritzCount", "transientGrowth", "transientArgmax",
        "kreissConstant", "numericalAbscissa", "numericalRadius", "matvecs", "converged", "method",
    ];

    public static (int Code, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = CliApp.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    public static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    public static double Number(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Number => element.GetDouble(),
        JsonValueKind.String => element.GetString() switch
        {
            "Infinity" => double.PositiveInfinity,
            "-Infinity" => double.NegativeInfinity,
            "NaN" => double.NaN,
            var other => throw new FormatException($"unexpected string {other}"),
        },
        _ => throw new FormatException($"unexpected {element.ValueKind}"),
    };

    public static JsonElement ParseSingleObject(string output)
    {
        using var document = JsonDocument.Parse(output);
        var root = document.RootElement.Clone();
        Assert.Equal(JsonValueKind.Object, root.ValueKind);
        Assert.Equal(Fields, root.EnumerateObject().Select(p => p.Name).ToArray());
        return root;
    }

    /// <summary>Exit code 2, nothing on stdout, exactly one line on stderr that starts with "error: " and carries no stack trace or control character.</summary>
    public static string AssertOneLineError(int code, string output, string error)
    {
        Assert.True(code == CliApp.InputError, $"expected exit code 2, got {code}; stderr: {error}; stdout: {output}");
        Assert.Equal(string.Empty, output);
        AssertOneErrorLine(error);
        return error.TrimEnd('\n');
    }

    /// <summary>The stderr text is one line "error: …\n" without a stack trace or control characters.</summary>
    public static void AssertOneErrorLine(string error)
    {
        Assert.EndsWith("\n", error, StringComparison.Ordinal);
        string line = error[..^1];
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", line, StringComparison.Ordinal);
        Assert.All(line, c => Assert.False(char.IsControl(c) || c is '\u2028' or '\u2029' or '\uFEFF', $"control character U+{(int)c:X4} in: {line}"));
    }

    /// <summary>Runs <c>analyze FILE --json</c> plus <paramref name="extra"/> and checks exit 0, empty stderr and one JSON object.</summary>
    public static JsonElement Analyze(string path, params string[] extra)
    {
        var (code, output, error) = Run(["analyze", path, "--json", .. extra]);
        Assert.True(code == 0, $"exit code {code}; stderr: {error}");
        Assert.Equal(string.Empty, error);
        return ParseSingleObject(output);
    }

    /// <summary>
    /// Compares every field with <paramref name="expected"/>: infinities and NaN exactly, finite values to relative
    /// tolerance <paramref name="tolerance"/> (or exactly when the expected value is 0).
    /// </summary>
    public static void AssertReport(ExpectedReport expected, JsonElement json, double tolerance, double? kappaTolerance = null, double? kreissTolerance = null)
    {
        AssertClose(expected.SpectralRadius, Number(json.GetProperty("spectralRadius")), tolerance, "spectralRadius");
        AssertClose(expected.EigenvectorCondition, Number(json.GetProperty("eigenvectorCondition")), kappaTolerance ?? tolerance, "eigenvectorCondition");
        Assert.Equal(expected.RitzCount, json.GetProperty("ritzCount").GetInt32());
        AssertClose(expected.TransientGrowth, Number(json.GetProperty("transientGrowth")), tolerance, "transientGrowth");
        Assert.Equal(expected.TransientArgmax, json.GetProperty("transientArgmax").GetInt32());
        AssertClose(expected.KreissConstant, Number(json.GetProperty("kreissConstant")), kreissTolerance ?? tolerance, "kreissConstant");
        AssertClose(expected.NumericalAbscissa, Number(json.GetProperty("numericalAbscissa")), tolerance, "numericalAbscissa");
        AssertClose(expected.NumericalRadius, Number(json.GetProperty("numericalRadius")), tolerance, "numericalRadius");
        Assert.Equal(expected.Method, json.GetProperty("method").GetString());
    }

    public static void AssertClose(double expected, double actual, double relativeTolerance, string what)
    {
        if (!double.IsFinite(expected) || expected == 0)
        {
            Assert.True(expected.Equals(actual), $"{what}: expected {expected:R}, got {actual:R}");
            return;
        }

        double error = Math.Abs(actual - expected) / Math.Abs(expected);
        Assert.True(error <= relativeTolerance, $"{what}: expected {expected:R}, got {actual:R} (relative error {error:G3} > {relativeTolerance:G3})");
    }

    /// <summary>‖M‖₂ of a 2 × 2 matrix [[a, b], [c, d]] in closed form: σ_max² = (F² + √(F⁴ − 4·det²))/2.</summary>
    public static double TwoByTwoNorm(double a, double b, double c, double d)
    {
        double scale = Math.Max(Math.Max(Math.Abs(a), Math.Abs(b)), Math.Max(Math.Abs(c), Math.Abs(d)));
        if (scale == 0)
        {
            return 0;
        }

        (a, b, c, d) = (a / scale, b / scale, c / scale, d / scale);
        double f2 = (a * a) + (b * b) + (c * c) + (d * d);
        double det = (a * d) - (b * c);
        return scale * Math.Sqrt((f2 + Math.Sqrt(Math.Max(0, (f2 * f2) - (4 * det * det)))) / 2);
    }

    /// <summary>max_{1≤k≤K} ‖Aᵏ‖₂ and its first argmax for A = [[λ, b], [0, λ]].</summary>
    public static (double Max, int Argmax) JordanBlockGrowth(double lambda, double b, int horizon) =>
        TriangularGrowth(lambda, b, lambda, horizon);

    /// <summary>
    /// max_{1≤k≤K} ‖Aᵏ‖₂ and its first argmax for A = [[a, b], [0, d]], from the closed form
    /// Aᵏ = [[aᵏ, b·(aᵏ − dᵏ)/(a − d)], [0, dᵏ]] (k·b·aᵏ⁻¹ when a = d). With s = max(|a|, |b|, |d|) and B = A/s,
    /// ‖Aᵏ‖ = sᵏ‖Bᵏ‖: the argmax is taken on k·log s + log‖Bᵏ‖, so that it is right even where sᵏ overflows, and the
    /// maximum is then ‖Bᵏ‖·sᵏ (+∞ when beyond the double range).
    /// </summary>
    public static (double Max, int Argmax) TriangularGrowth(double a, double b, double d, int horizon)
    {
        double s = Math.Max(Math.Abs(a), Math.Max(Math.Abs(b), Math.Abs(d)));
        (double x, double y, double z) = (a / s, b / s, d / s);
        double NormOfPower(int k)
        {
            double top = Math.Pow(x, k);
            double bottom = Math.Pow(z, k);
            double corner = x == z ? k * y * Math.Pow(x, k - 1) : y * (top - bottom) / (x - z);
            return TwoByTwoNorm(top, corner, 0, bottom);
        }

        double bestLog = double.NegativeInfinity;
        int argmax = 1;
        for (int k = 1; k <= horizon; k++)
        {
            double log = (k * Math.Log(s)) + Math.Log(NormOfPower(k));
            if (log > bestLog)
            {
                (bestLog, argmax) = (log, k);
            }
        }

        return (NormOfPower(argmax) * Math.Pow(s, argmax), argmax);
    }

    /// <summary>
    /// Every measure of A = [[a, b], [0, d]] (real a, d) in closed form, for horizon 50: ρ = max(|a|, |d|); κ(V) from the
    /// cosine c = |b|/√(b² + (d − a)²) between the unit eigenvectors e₁ and (b, d − a), κ = √((1 + c)/(1 − c)) (+∞ for a
    /// Jordan block a = d, b ≠ 0); W(A) is the ellipse with foci a, d and minor axis |b| (the elliptical range theorem), so
    /// ω = (a + d)/2 + √(((a − d)/2)² + (b/2)²) and r = |a + d|/2 + √(((a − d)/2)² + (b/2)²); Kreiss +∞ when ρ ≥ 1,
    /// 1 when ‖A‖ ≤ 1, and otherwise (a Jordan block only) <see cref="KreissOfJordanBlock"/>.
    /// </summary>
    public static ExpectedReport Triangular(double a, double b, double d)
    {
        double rho = Math.Max(Math.Abs(a), Math.Abs(d));
        double kappa;
        if (b == 0)
        {
            kappa = 1;
        }
        else if (a == d)
        {
            kappa = double.PositiveInfinity;
        }
        else
        {
            double c = Math.Abs(b) / double.Hypot(b, d - a);
            kappa = Math.Sqrt((1 + c) / (1 - c));
        }

        var (growth, argmax) = TriangularGrowth(a, b, d, 50);
        double center = (a / 2) + (d / 2);
        double semiMajor = double.Hypot((a / 2) - (d / 2), b / 2);
        double norm = TriangularGrowth(a, b, d, 1).Max;
        double kreiss = rho >= 1 ? double.PositiveInfinity
            : norm <= 1 ? 1
            : a == d ? KreissOfJordanBlock(a, Math.Abs(b))
            : throw new ArgumentException("no closed form for this Kreiss constant");
        return new ExpectedReport(rho, kappa, 2, growth, argmax, kreiss, center + semiMajor, Math.Abs(center) + semiMajor, "dense");
    }

    /// <summary>
    /// The Kreiss constant of [[λ, b], [0, λ]] with real λ ∈ [0, 1) and b ≥ 0, from its definition: the resolvent is
    /// [[1/t', b/t'²], [0, 1/t']] (t' = z − λ), whose norm (b/|t'|² + √(b²/|t'|⁴ + 4/|t'|²))/2 depends on |t'| only and
    /// decreases in it; on |z| = r the nearest point to λ is z = r, so K = sup_{r>1} (r − 1)(b + √(b² + 4t²))/(2t²), t = r − λ.
    /// That one-dimensional function is maximized on a fine log grid in r − 1, then by golden section (to 1e-14 relative).
    /// </summary>
    public static double KreissOfJordanBlock(double lambda, double b)
    {
        double F(double logDistance)
        {
            double d = Math.Exp(logDistance);
            double t = 1 + d - lambda;
            // (r − 1)(b + √(b² + 4t²))/(2t²) without overflowing b²: hypot.
            return d * (b + double.Hypot(b, 2 * t)) / (2 * t * t);
        }

        double bestLog = 0;
        double best = double.NegativeInfinity;
        for (int i = 0; i <= 100_000; i++)
        {
            double x = -30 + (60.0 * i / 100_000);
            double value = F(x);
            if (value > best)
            {
                (best, bestLog) = (value, x);
            }
        }

        double lo = bestLog - 6e-4;
        double hi = bestLog + 6e-4;
        double ratio = (Math.Sqrt(5) - 1) / 2;
        for (int i = 0; i < 200; i++)
        {
            double x1 = hi - (ratio * (hi - lo));
            double x2 = lo + (ratio * (hi - lo));
            if (F(x1) >= F(x2))
            {
                hi = x2;
            }
            else
            {
                lo = x1;
            }
        }

        // The supremum is at least the limit 1 (|z| → ∞).
        return Math.Max(1, Math.Max(best, F((lo + hi) / 2)));
    }
}
