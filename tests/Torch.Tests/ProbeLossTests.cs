using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

public class ProbeLossTests
{
    /// <summary>The sub-batch closure is the loss on exactly the first rows (views of the held batch, no copy).</summary>
    [Fact]
    public void OnFirstRowsIsTheLossOfTheLeadingRows()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 1, batch: 10);
        static Tensor MeanSquare(Tensor prediction, Tensor target) => (prediction - target).square().mean();
        var closure = ProbeLoss.OnFirstRows(mlp.Model, mlp.Inputs, mlp.Targets, MeanSquare, 4);
        using var expected = MeanSquare(mlp.Model.forward(mlp.Inputs.narrow(0, 0, 4)), mlp.Targets.narrow(0, 0, 4));
        using var actual = closure();
        Assert.Equal(expected.ToDouble(), actual.ToDouble());
        Assert.NotEqual(mlp.Loss().ToDouble(), actual.ToDouble());

        // All rows: the plain loss.
        using var all = ProbeLoss.OnFirstRows(mlp.Model, mlp.Inputs, mlp.Targets, MeanSquare, 10)();
        Assert.Equal(mlp.Loss().ToDouble(), all.ToDouble(), 1e-15);

        // A Hessian of the sub-batch loss is what the target probes.
        using var hvp = new HessianVectorProductOperator(mlp.View, closure);
        Assert.Equal(expected.ToDouble(), hvp.Loss);
    }

    [Fact]
    public void BadRowCountsAreRejected()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 1, batch: 6);
        static Tensor Loss(Tensor p, Tensor t) => (p - t).square().mean();
        Assert.Throws<ArgumentOutOfRangeException>(() => ProbeLoss.OnFirstRows(mlp.Model, mlp.Inputs, mlp.Targets, Loss, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ProbeLoss.OnFirstRows(mlp.Model, mlp.Inputs, mlp.Targets, Loss, 7));
        using var fewer = mlp.Targets.narrow(0, 0, 5);
        Assert.Throws<ArgumentException>(() => ProbeLoss.OnFirstRows(mlp.Model, mlp.Inputs, fewer, Loss, 3));
    }
}
