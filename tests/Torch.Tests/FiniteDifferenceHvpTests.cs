using SpectralMonitor.Estimators;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

/// <summary>
/// Hessian-vector products by finite differences of gradients (<see cref="HessianVectorProductMethod.ForwardDifference"/>,
/// <see cref="HessianVectorProductMethod.CentralDifference"/>) against double backward, and the parameters they move
/// and must put back exactly.
/// </summary>
public class FiniteDifferenceHvpTests
{
    /// <summary>
    /// Relative errors against double backward on a random direction. Forward differences: truncation ≈ h·‖∇³L‖/2 and
    /// rounding ≈ ε·‖g‖/h with h = √ε, so about √ε times model constants: float64 √ε = 1.5e-8, bound 1e-6; float32
    /// √ε = 3.5e-4, bound 3e-2. Central differences with h = ∛ε: about ε^(2/3) times constants: float64 3.7e-11,
    /// bound 1e-8; float32 2.4e-5, bound 1e-2 (the float32 gradients themselves carry ≈ 1e-6 relative rounding, which
    /// the division by h amplifies). The bounds leave a factor of ten to fifty for the model constants of the test MLP.
    /// </summary>
    [Theory]
    [InlineData(ScalarType.Float64, HessianVectorProductMethod.ForwardDifference, 1e-6)]
    [InlineData(ScalarType.Float64, HessianVectorProductMethod.CentralDifference, 1e-8)]
    [InlineData(ScalarType.Float32, HessianVectorProductMethod.ForwardDifference, 3e-2)]
    [InlineData(ScalarType.Float32, HessianVectorProductMethod.CentralDifference, 1e-2)]
    public void MatchesDoubleBackward(ScalarType dtype, HessianVectorProductMethod method, double bound)
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(dtype, seed: 1, hidden: 8);
        double[] theta = mlp.ParametersToArray();
        using var exact = new HessianVectorProductOperator(mlp.View, mlp.Loss);
        Assert.False(exact.IsInexact);
        var space = (TensorVectorSpace)exact.Space;
        var v = space.CreateVector();
        space.FillRandom(v, RandomKind.Gaussian, 5);
        var expected = space.CreateVector();
        exact.Apply(v, expected);
        double[] reference = Host.ToArray(expected);
        exact.Dispose();

        using var differences = new HessianVectorProductOperator(mlp.View, mlp.Loss, options: new HessianVectorProductOptions { Method = method });
        Assert.Equal(method, differences.Method);

        // Products this inexact make Lanczos orthogonalize fully; the preconditioned operator says so too.
        Assert.True(differences.IsInexact);
        using (var preconditioned = new Estimators.Optimizers.PreconditionedHessianOperator<Tensor>(differences, space.CreateVector()))
        {
            Assert.True(preconditioned.IsInexact);
        }

        Assert.True(differences.FiniteDifferenceStep > 0);
        var y = space.CreateVector();
        differences.Apply(v, y);
        double[] actual = Host.ToArray(y);
        double error = Math.Sqrt(actual.Zip(reference, (a, b) => (a - b) * (a - b)).Sum() / reference.Sum(b => b * b));
        Assert.True(error <= bound, $"relative error {error:E2} above {bound:E0}");

        // The parameters are back, bit for bit; the gradient is the probe gradient; the zero vector gives zero.
        Assert.Equal(theta, mlp.ParametersToArray());
        var g = space.CreateVector();
        differences.CopyGradientTo(g);
        Assert.Equal(mlp.Gradient(), Host.ToArray(g));
        space.Clear(v);
        differences.Apply(v, y);
        Assert.Equal(0, space.Norm(y));
    }

    /// <summary>A loss closure that throws in the middle of a product leaves the parameters exactly as they were.</summary>
    [Fact]
    public void AThrowingLossLeavesTheParametersUnchanged()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 2);
        double[] theta = mlp.ParametersToArray();
        int calls = 0;
        Tensor Loss() => ++calls == 2 ? throw new InvalidOperationException("boom") : mlp.Loss();
        using var hvp = new HessianVectorProductOperator(mlp.View, Loss, options: new HessianVectorProductOptions { Method = HessianVectorProductMethod.ForwardDifference });
        var space = (TensorVectorSpace)hvp.Space;
        var v = space.CreateVector();
        var y = space.CreateVector();
        space.FillRandom(v, RandomKind.Gaussian, 1);
        Assert.Throws<InvalidOperationException>(() => hvp.Apply(v, y));
        Assert.Equal(theta, mlp.ParametersToArray());
    }

    [Fact]
    public void TrainModeAndInvalidStepsAreRejected()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 3, dropout: 0.5);
        var train = Assert.Throws<ArgumentException>(() => new HessianVectorProductOperator(mlp.View, mlp.Loss, mlp.Model, new HessianVectorProductOptions(ProbeModelMode.Train) { Method = HessianVectorProductMethod.ForwardDifference }));
        Assert.Contains("ModelMode", train.Message, StringComparison.Ordinal);
        foreach (double step in new[] { -1e-3, 1.0, double.NaN })
        {
            var error = Assert.Throws<ArgumentException>(() => new HessianVectorProductOperator(mlp.View, mlp.Loss, options: new HessianVectorProductOptions { Method = HessianVectorProductMethod.CentralDifference, FiniteDifferenceStep = step }));
            Assert.Contains("FiniteDifferenceStep", error.Message, StringComparison.Ordinal);
        }

        // Double backward in train mode stays allowed (one mask for the whole probe), and ignores the step.
        using var allowed = new HessianVectorProductOperator(mlp.View, mlp.Loss, mlp.Model, new HessianVectorProductOptions(ProbeModelMode.Train));
        Assert.Equal(0, allowed.FiniteDifferenceStep);
    }

    /// <summary>A probe through the target with forward differences finds the same top eigenvalue as one with double backward.</summary>
    [Fact]
    public void AProbeWithForwardDifferencesAgreesWithDoubleBackward()
    {
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 4, hidden: 6);
        using var optimizer = torch.optim.SGD(mlp.Model.parameters(), 0.01);
        double Sharpness(HessianVectorProductMethod method)
        {
            var target = new TorchSharpProbeTarget(mlp.Model, optimizer, mlp.Loss, new TorchSharpProbeOptions { HessianVectorProducts = method });
            using var monitor = StabilityMonitor.Create(target, new StabilityMonitorOptions { Tolerance = 1e-8, Rules = [] });
            var probe = monitor.ProbeNow(0);
            Assert.NotNull(probe);
            Assert.Equal(ProbeStatus.Succeeded, probe.Status);
            return probe.Indicators[Indicators.Sharpness];
        }

        double exact = Sharpness(HessianVectorProductMethod.DoubleBackward);
        double forward = Sharpness(HessianVectorProductMethod.ForwardDifference);

        // Forward differences in float64: ≈ 1e-7 relative on the products (see MatchesDoubleBackward), so 1e-5 on λ_max.
        Assert.Equal(exact, forward, 1e-5 * Math.Abs(exact));
    }
}
