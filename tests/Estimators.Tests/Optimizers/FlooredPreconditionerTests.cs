using SpectralMonitor.Estimators.Cpu;
using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Estimators.Tests.Optimizers;

/// <summary>
/// Adam's next-step second moment and the preconditioner with √v̂ floored, against their definitions
/// (v̂ = u/(1 − β₂^(t+1)), u = β₂·exp_avg_sq or max(max_exp_avg_sq, β₂·exp_avg_sq); P_f = 1/(max(√v̂, f) + ε)).
/// </summary>
public class FlooredPreconditionerTests
{
    private static readonly CpuVectorSpace<double> Space = new(4);

    private static AdamSnapshot<double[]> Snapshot(bool amsgrad) => new(
        new AdamHyperparameters(1e-3, Beta2: 0.99, Epsilon: 1e-6, Amsgrad: amsgrad),
        Step: 4,
        ExpAvg: new double[4],
        ExpAvgSq: [1e-16, 1e-13, 1e-10, 1e-4],
        MaxExpAvgSq: amsgrad ? [1e-12, 0, 0, 0] : null);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SecondMomentAndFlooredPreconditionerFollowTheirDefinitions(bool amsgrad)
    {
        var snapshot = Snapshot(amsgrad);
        double c2 = 1 - Math.Pow(0.99, 5);
        double[] u = [.. snapshot.ExpAvgSq.Select((v, i) => Math.Max(0.99 * v, amsgrad ? snapshot.MaxExpAvgSq![i] : 0))];
        double[] vhat = [.. u.Select(x => x / c2)];

        var measured = OptimizerPreconditioners.AdamSecondMoment(snapshot, Space);
        double floor = 10e-6; // 10ε: √v̂ ≈ 4.5e-8 (4.5e-6 with amsgrad), 1.4e-6, 4.5e-5, 4.5e-2: the floor binds on 0 and 1
        var floored = OptimizerPreconditioners.AdamFloored(snapshot, Space, floor);
        var plain = OptimizerPreconditioners.Adam(snapshot, Space);
        for (int i = 0; i < 4; i++)
        {
            // One multiplication and one division each way: a few ulps.
            Assert.Equal(vhat[i], measured[i], vhat[i] * 1e-14);
            double expected = 1 / (Math.Max(Math.Sqrt(vhat[i]), floor) + 1e-6);
            Assert.Equal(expected, floored[i], expected * 1e-12);
            Assert.True(floored[i] <= plain[i] * (1 + 1e-15));
        }

        // The floor binds where √v̂ < f and nowhere else.
        Assert.True(floored[0] < plain[0] / 1.5);
        Assert.True(floored[1] < plain[1] / 1.5);
        Assert.Equal(plain[2], floored[2], plain[2] * 1e-15);
        Assert.Equal(plain[3], floored[3], plain[3] * 1e-15);
    }

    [Fact]
    public void FlooredOperatorIsTheDenseSPKSWithTheFlooredP()
    {
        var snapshot = Snapshot(amsgrad: false);
        double[,] h = { { 2, 0.5, 0, 0 }, { 0.5, 1, 0.25, 0 }, { 0, 0.25, 3, -1 }, { 0, 0, -1, 4 } };
        var hessian = new Operators.DenseMatrixOperator<double>(h, assumeSymmetric: true);
        var p = OptimizerPreconditioners.AdamFloored(snapshot, Space, 1e-5);
        using var op = UpdateOperators.CreateFlooredPreconditionedHessian(snapshot, hessian, 1e-5);
        var x = new double[4];
        var y = new double[4];
        for (int j = 0; j < 4; j++)
        {
            Array.Clear(x);
            x[j] = 1;
            op.Apply(x, y);
            for (int i = 0; i < 4; i++)
            {
                // Entries up to P ≈ 1/(1e-5) = 1e5 times h: relative rounding of a product of three doubles.
                double expected = Math.Sqrt(p[i]) * h[i, j] * Math.Sqrt(p[j]);
                Assert.Equal(expected, y[i], (Math.Abs(expected) * 1e-13) + 1e-300);
            }
        }

        Assert.Throws<ArgumentException>(() => UpdateOperators.CreateFlooredPreconditionedHessian(snapshot, hessian, 0));
        Assert.Throws<ArgumentException>(() => OptimizerPreconditioners.AdamFloored(snapshot, Space, double.NaN));
    }
}
