using Microsoft.Extensions.Logging.Abstractions;
using SpectralMonitor.Probing;
using SpectralMonitor.Tests.Support;

namespace SpectralMonitor.Tests;

/// <summary>
/// The ε-mode stage against a case solved by hand: a 6-coordinate Adam problem whose Hessian couples one ε-dominated
/// coordinate (√v̂ = ε/2) with one healthy one (√v̂ = 10⁻³) and is diagonal elsewhere, so that the top eigenpair of
/// P^½HP^½ is that of a 2×2 block in closed form, with and without the √v̂ floor.
/// </summary>
public class EpsilonModeStageTests
{
    private const double Epsilon = 1e-8;
    private const double Beta2 = 0.999;
    private const long Step = 10;

    // √v̂ per coordinate: below ε (counted at c = 1, 10, 100), below 10ε, below 100ε, then three healthy ones.
    private static readonly double[] RootVhat = [0.5 * Epsilon, 5 * Epsilon, 50 * Epsilon, 1e-3, 1e-3, 1e-3];

    // Coordinates 0 and 3 are coupled; the rest is diagonal with P·h well below the block's top eigenvalue.
    private static readonly double[,] Hessian = Build();

    private static double[,] Build()
    {
        var h = new double[6, 6];
        h[0, 0] = 1e-6;
        h[3, 3] = 1;
        h[0, 3] = h[3, 0] = 1e-3;
        h[1, 1] = 1e-6;
        h[2, 2] = 1e-6;
        h[4, 4] = 0.1;
        h[5, 5] = 0.1;
        return h;
    }

    private static double BiasCorrection2 => 1 - Math.Pow(Beta2, Step + 1);

    /// <summary>Adam's next-step preconditioner with √v̂ floored at <paramref name="floor"/> (0: none).</summary>
    private static double P(int i, double floor = 0) => 1 / (Math.Max(RootVhat[i], floor) + Epsilon);

    /// <summary>The top eigenpair of the symmetric 2×2 block [[a, b], [b, d]]: λ and the first component of its unit vector.</summary>
    private static (double Lambda, double First) TopOf2x2(double a, double b, double d)
    {
        double mean = (a + d) / 2, half = (a - d) / 2;
        double lambda = mean + Math.Sqrt((half * half) + (b * b));

        // (A − λI)v = 0: v ∝ (b, λ − a).
        double norm = Math.Sqrt((b * b) + ((lambda - a) * (lambda - a)));
        return (lambda, b / norm);
    }

    private static (double Lambda, double First) Block(double floor)
    {
        double p0 = P(0, floor), p3 = P(3, floor);
        return TopOf2x2(p0 * Hessian[0, 0], Math.Sqrt(p0 * p3) * Hessian[0, 3], p3 * Hessian[3, 3]);
    }

    private static ProbeResult Probe(ProbeEstimators estimators, bool adaptive = true)
    {
        // exp_avg_sq such that the next step's v̂ = β₂·v/(1 − β₂^(t+1)) has the square roots above.
        var target = new FakeTarget(new double[6], learningRate: 1e-3)
        {
            Adaptive = adaptive,
            DenseHessian = Hessian,
            ExpAvgSq = [.. RootVhat.Select(r => r * r * BiasCorrection2 / Beta2)],
        };
        var options = new StabilityMonitorOptions
        {
            TopModes = 1,
            KrylovDimension = 6,
            MaxHvpsPerProbe = 60,
            Tolerance = 1e-12,
            Estimators = estimators,
        };
        using var runner = new ProbeRunner<double[]>(target, options, NullLogger.Instance);
        return runner.Run(0, TimeProvider.System, TimeProvider.System.GetTimestamp(), TestContext.Current.CancellationToken);
    }

    [Fact]
    public void MassesSharesAndFlooredSharpnessMatchTheClosedForm()
    {
        var probe = Probe(ProbeEstimators.Sharpness | ProbeEstimators.Modes | ProbeEstimators.EpsilonModes);
        Assert.Equal(ProbeStatus.Succeeded, probe.Status);
        var ind = probe.Indicators;

        // The block's top eigenvalue is the sharpness (≈ 1066; the diagonal rest is at most 1000·0.1 = 100, 2·10⁷·10⁻⁶ = 20).
        var (lambda, y0) = Block(0);
        Assert.Equal(lambda, ind[Indicators.Sharpness], lambda * 1e-10);

        // Tolerances: Lanczos on a 6-dimensional operator with a 6-vector basis is exact up to rounding (entries up
        // to 10³, ratios of P up to 10⁵), so eigenvalues agree to ~1e-12 relative and eigenvector components to ~1e-9.
        double[] shares = [1.0 / 6, 2.0 / 6, 3.0 / 6];
        int[] factors = [1, 10, 100];
        double x0 = P(0) * y0 * y0, x3 = P(3) * (1 - (y0 * y0));
        for (int k = 0; k < factors.Length; k++)
        {
            int c = factors[k];
            Assert.Equal(shares[k], ind[Indicators.AtEpsilonFactor(Indicators.EpsilonCoordinateShare, c)], 1e-15);

            // Only coordinate 0 of the block is ε-dominated at every c; the other ε-coordinates carry no part of the mode.
            Assert.Equal(y0 * y0, ind[Indicators.AtEpsilonFactor(Indicators.TopModeEpsilonMass, c)], 1e-9);
            Assert.Equal(x0 / (x0 + x3), ind[Indicators.AtEpsilonFactor(Indicators.UpdateModeEpsilonMass, c)], 1e-9);
        }

        // The mode is split between the ε-coordinate and the healthy one: a non-trivial mass, not 0 or 1.
        Assert.InRange(y0 * y0, 0.05, 0.95);

        // Floored at cε, coordinate 0's P falls from 1/(1.5ε) to 1/((c + 1)ε): the block's top eigenvalue over the same edge.
        double edge = ind[Indicators.SharpnessEdge];
        foreach (int c in new[] { 10, 100 })
        {
            var (capped, _) = Block(c * Epsilon);
            Assert.True(capped < lambda);
            Assert.Equal(capped / edge, ind[Indicators.AtEpsilonFactor(Indicators.CappedSharpnessToEdge, c)], capped / edge * 1e-10);
        }

        Assert.False(ind.ContainsKey(Indicators.AtEpsilonFactor(Indicators.CappedSharpnessToEdge, 1)));
        var exported = Assert.Single(probe.Readings, r => r.Indicator == Indicators.AtEpsilonFactor(Indicators.UpdateModeEpsilonMass, 10));
        Assert.Equal(ProbeMetrics.EpsilonMass, exported.Metric);
        Assert.Equal([new("factor", "10"), new("vector", "update")], exported.Tags);
    }

    [Fact]
    public void TheStageRunsOnlyWhenAskedAndOnlyForAdam()
    {
        var withoutFlag = Probe(ProbeEstimators.Sharpness | ProbeEstimators.Modes);
        var sgd = Probe(ProbeEstimators.Sharpness | ProbeEstimators.EpsilonModes, adaptive: false);

        Assert.Equal(ProbeStatus.Succeeded, withoutFlag.Status);
        Assert.Equal(ProbeStatus.Succeeded, sgd.Status);
        Assert.DoesNotContain(withoutFlag.Indicators.Keys, k => k.StartsWith(Indicators.EpsilonCoordinateShare, StringComparison.Ordinal));
        Assert.DoesNotContain(sgd.Indicators.Keys, k => k.StartsWith(Indicators.EpsilonCoordinateShare, StringComparison.Ordinal));
        Assert.True(sgd.Indicators.ContainsKey(Indicators.Sharpness));
    }
}
