using SpectralMonitor.Estimators.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

public class OptimizerStateReaderTests
{
    internal static void Step(TinyMlp mlp, optim.Optimizer optimizer)
    {
        using var scope = torch.NewDisposeScope();
        optimizer.zero_grad();
        using var loss = mlp.Loss();
        loss.backward();
        optimizer.step();
    }

    /// <summary>The per-parameter state tensors, concatenated in flat order on the host.</summary>
    private static double[] Concatenate(TinyMlp mlp, optim.Optimizer optimizer, Func<OptimizerState, Tensor?> select)
    {
        var state = ((OptimizerHelper)optimizer).state_dict().State;
        var result = new List<double>();
        for (int i = 0; i < mlp.View.Count; i++)
        {
            // One group, built from model.parameters(): state entries are in the view's order.
            var tensor = select(state[i]);
            Assert.NotNull(tensor);
            Assert.Equal(mlp.View.GetShape(i), tensor!.shape);
            result.AddRange(Host.ToArray(tensor.reshape(-1)));
        }

        return result.ToArray();
    }

    [Fact]
    public void SgdMomentumBufferAndHyperparameters()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 1);
        using var optimizer = torch.optim.SGD(mlp.Model.parameters(), 0.05, momentum: 0.9, dampening: 0.1, weight_decay: 0.01);

        var before = Assert.IsType<SgdSnapshot<Tensor>>(OptimizerStateReader.TryRead(optimizer, mlp.View, out var reason));
        Assert.Null(reason);
        Assert.Null(before.MomentumBuffer);
        Assert.Equal(new SgdHyperparameters(0.05, 0.9, 0.1, 0.01, false, false), before.Hyperparameters);

        var theta = mlp.ParametersToArray();
        var g = mlp.Gradient();
        Step(mlp, optimizer);
        var first = Assert.IsType<SgdSnapshot<Tensor>>(OptimizerStateReader.TryRead(optimizer, mlp.View, out _));

        // PyTorch starts the buffer at the first (L2-regularized) gradient, without dampening.
        var expected = g.Zip(theta, (gi, ti) => gi + (0.01 * ti)).ToArray();
        Assert.True(Host.MaxAbsDifference(expected, Host.ToArray(first.MomentumBuffer!)) <= 1e-14, "first buffer = g + λθ");

        Step(mlp, optimizer);
        var second = Assert.IsType<SgdSnapshot<Tensor>>(OptimizerStateReader.TryRead(optimizer, mlp.View, out _));
        Assert.Equal(Concatenate(mlp, optimizer, s => ((SGD.State)s).momentum_buffer), Host.ToArray(second.MomentumBuffer!));
        Assert.Equal(OptimizerKind.Sgd, second.Kind);
        Assert.True(mlp.View.IsFlatVector(second.MomentumBuffer));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AdamAndAdamWState(bool decoupled)
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 2);
        optim.Optimizer optimizer = decoupled
            ? torch.optim.AdamW(mlp.Model.parameters(), 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-7, weight_decay: 0.02, amsgrad: true)
            : torch.optim.Adam(mlp.Model.parameters(), 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-7, weight_decay: 0.02, amsgrad: true);
        using var disposeOptimizer = optimizer;

        var g = mlp.Gradient();
        var theta = mlp.ParametersToArray();
        Step(mlp, optimizer);
        var first = Assert.IsType<AdamSnapshot<Tensor>>(OptimizerStateReader.TryRead(optimizer, mlp.View, out var reason));
        Assert.Null(reason);
        Assert.Equal(1, first.Step);

        // After one step m = (1 − β₁)·g̃ with g̃ = g (+ λθ for Adam's L2 decay).
        var gTilde = decoupled ? g : g.Zip(theta, (gi, ti) => gi + (0.02 * ti)).ToArray();
        Assert.True(Host.MaxAbsDifference(gTilde.Select(x => 0.2 * x).ToArray(), Host.ToArray(first.ExpAvg)) <= 1e-14, "m after one step");

        Step(mlp, optimizer);
        var snapshot = Assert.IsType<AdamSnapshot<Tensor>>(OptimizerStateReader.TryRead(optimizer, mlp.View, out _));
        Assert.Equal(decoupled ? OptimizerKind.AdamW : OptimizerKind.Adam, snapshot.Kind);
        Assert.Equal(new AdamHyperparameters(0.01, 0.8, 0.99, 1e-7, 0.02, true, decoupled, false), snapshot.Hyperparameters);
        Assert.Equal(2, snapshot.Step);
        if (decoupled)
        {
            Assert.Equal(Concatenate(mlp, optimizer, s => ((AdamW.State)s).exp_avg), Host.ToArray(snapshot.ExpAvg));
            Assert.Equal(Concatenate(mlp, optimizer, s => ((AdamW.State)s).exp_avg_sq), Host.ToArray(snapshot.ExpAvgSq));
            Assert.Equal(Concatenate(mlp, optimizer, s => ((AdamW.State)s).max_exp_avg_sq), Host.ToArray(snapshot.MaxExpAvgSq!));
        }
        else
        {
            Assert.Equal(Concatenate(mlp, optimizer, s => ((Adam.State)s).exp_avg), Host.ToArray(snapshot.ExpAvg));
            Assert.Equal(Concatenate(mlp, optimizer, s => ((Adam.State)s).exp_avg_sq), Host.ToArray(snapshot.ExpAvgSq));
            Assert.Equal(Concatenate(mlp, optimizer, s => ((Adam.State)s).max_exp_avg_sq), Host.ToArray(snapshot.MaxExpAvgSq!));
        }
    }

    [Fact]
    public void RmsPropState()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 3);
        using var optimizer = torch.optim.RMSProp(mlp.Model.parameters(), 0.01, alpha: 0.9, eps: 1e-6, weight_decay: 0.001, momentum: 0.5, centered: true);
        Step(mlp, optimizer);
        Step(mlp, optimizer);
        var snapshot = Assert.IsType<RmsPropSnapshot<Tensor>>(OptimizerStateReader.TryRead(optimizer, mlp.View, out var reason));
        Assert.Null(reason);
        Assert.Equal(new RmsPropHyperparameters(0.01, 0.9, 1e-6, 0.001, 0.5, true, false), snapshot.Hyperparameters);
        Assert.Equal(2, snapshot.Step);
        Assert.Equal(Concatenate(mlp, optimizer, s => ((RMSProp.State)s).square_avg), Host.ToArray(snapshot.SquareAvg));
        Assert.Equal(Concatenate(mlp, optimizer, s => ((RMSProp.State)s).momentum_buffer), Host.ToArray(snapshot.MomentumBuffer!));
        Assert.Equal(Concatenate(mlp, optimizer, s => ((RMSProp.State)s).grad_avg), Host.ToArray(snapshot.GradAvg!));

        using var plain = torch.optim.RMSProp(mlp.Model.parameters(), 0.01);
        var plainSnapshot = Assert.IsType<RmsPropSnapshot<Tensor>>(OptimizerStateReader.TryRead(plain, mlp.View, out _));
        Assert.Null(plainSnapshot.MomentumBuffer);
        Assert.Null(plainSnapshot.GradAvg);
        Assert.Equal(0, plainSnapshot.Step);
    }

    [Fact]
    public void UnsupportedOptimizersAndMixedGroupsGiveNullWithReason()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 4);
        using var adagrad = torch.optim.Adagrad(mlp.Model.parameters(), 0.1);
        Assert.Null(OptimizerStateReader.TryRead(adagrad, mlp.View, out var reason));
        Assert.Contains("Adagrad", reason, StringComparison.Ordinal);

        var fc1 = mlp.View.Parameters.Take(2);
        var fc2 = mlp.View.Parameters.Skip(2);
        using var grouped = torch.optim.SGD(new[] { new SGD.ParamGroup(fc1, 0.1), new SGD.ParamGroup(fc2, 0.2) }, 0.1);
        Assert.Null(OptimizerStateReader.TryRead(grouped, mlp.View, out reason));
        Assert.Contains("different hyperparameters", reason, StringComparison.Ordinal);

        using var sameGroups = torch.optim.SGD(new[] { new SGD.ParamGroup(fc2, 0.1), new SGD.ParamGroup(fc1, 0.1) }, 0.1);
        Assert.IsType<SgdSnapshot<Tensor>>(OptimizerStateReader.TryRead(sameGroups, mlp.View, out reason));
        Assert.Null(reason);

        using var partial = torch.optim.SGD(fc1, 0.1);
        Assert.Null(OptimizerStateReader.TryRead(partial, mlp.View, out reason));
        Assert.Contains("not updated", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void GroupOrderDoesNotMisalignState()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 5);

        // Groups listed in reverse flat order: entries must still land at the right offsets.
        var reversed = mlp.View.Parameters.Reverse().ToArray();
        using var optimizer = torch.optim.SGD(reversed, 0.05, momentum: 0.9);
        Step(mlp, optimizer);
        var snapshot = Assert.IsType<SgdSnapshot<Tensor>>(OptimizerStateReader.TryRead(optimizer, mlp.View, out _));
        var state = optimizer.state_dict().State;
        var expected = new List<double>();
        for (int i = 0; i < mlp.View.Count; i++)
        {
            var buffer = ((SGD.State)state[mlp.View.Count - 1 - i]).momentum_buffer!;
            expected.AddRange(Host.ToArray(buffer.reshape(-1)));
        }

        Assert.Equal(expected.ToArray(), Host.ToArray(snapshot.MomentumBuffer!));
    }
}
