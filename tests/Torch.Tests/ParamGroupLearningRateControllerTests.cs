using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

public class ParamGroupLearningRateControllerTests
{
    [Fact]
    public void ChangesTheRateTheOptimizerUses()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 1);
        using var optimizer = torch.optim.SGD(mlp.Model.parameters(), 0.1);
        var controller = new ParamGroupLearningRateController(optimizer);
        Assert.Equal(1, controller.GroupCount);
        Assert.Equal(0.1, controller.GetLearningRate(0));

        controller.SetLearningRate(0, 0.025);
        Assert.Equal(0.025, controller.GetLearningRate(0));
        var theta = mlp.ParametersToArray();
        var g = mlp.Gradient();
        optimizer.zero_grad();
        using (var loss = mlp.Loss())
        {
            loss.backward();
        }

        optimizer.step();
        var after = mlp.ParametersToArray();

        // Plain SGD: θ' = θ − η·g exactly (one multiply-add per element).
        for (int i = 0; i < theta.Length; i++)
        {
            Assert.Equal(theta[i] - (0.025 * g[i]), after[i], 1e-15);
        }
    }

    [Fact]
    public void ValidatesArgumentsAndReachesEveryGroup()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 2);
        var first = mlp.View.Parameters.Take(2);
        var second = mlp.View.Parameters.Skip(2);
        using var optimizer = torch.optim.Adam(new[] { new TorchSharp.Modules.Adam.ParamGroup(first, 0.1), new TorchSharp.Modules.Adam.ParamGroup(second, 0.2) }, 0.3);
        var controller = new ParamGroupLearningRateController(optimizer);
        Assert.Equal(2, controller.GroupCount);
        Assert.Equal(0.2, controller.GetLearningRate(1));
        controller.SetLearningRate(1, 0.05);
        Assert.Equal(0.05, optimizer.ParamGroups.ElementAt(1).LearningRate);
        Assert.Equal(0.1, optimizer.ParamGroups.ElementAt(0).LearningRate);

        Assert.Throws<ArgumentOutOfRangeException>(() => controller.GetLearningRate(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => controller.SetLearningRate(-1, 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => controller.SetLearningRate(0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => controller.SetLearningRate(0, double.NaN));

        controller.ScaleInitialLearningRate(0, 0.5);
        Assert.Equal(0.05, controller.GetInitialLearningRate(0), 1e-15);
    }

    [Fact]
    public void ABackoffCarriesThroughAMultiplicativeScheduler()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 3);
        using var optimizer = torch.optim.SGD(mlp.Model.parameters(), 0.1);
        var scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.5);
        var controller = new ParamGroupLearningRateController(optimizer);
        controller.SetLearningRate(0, 0.01);
        optimizer.step();
        scheduler.step();

        // ExponentialLR multiplies the current rate: the backoff persists (0.01·0.5).
        Assert.Equal(0.005, controller.GetLearningRate(0), 1e-15);
    }
}
