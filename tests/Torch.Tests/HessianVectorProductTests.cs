using SpectralMonitor.Estimators;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

public class HessianVectorProductTests
{
    [Fact]
    public void MatchesCentralFiniteDifferencesOfGradients()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 1);
        var theta = mlp.ParametersToArray();
        var v = TinyMlp.Gaussian(new Random(2), theta.Length, 1.0);
        double[] hv;
        using (var hvp = new HessianVectorProductOperator(mlp.View, mlp.Loss))
        {
            var space = (TensorVectorSpace)hvp.Space;
            using var x = torch.tensor(v, ScalarType.Float64);
            using var y = space.CreateVector();
            hvp.Apply(x, y);
            hv = Host.ToArray(y);
        }

        const double h = 1e-5;
        var plus = theta.Zip(v, (t, d) => t + (h * d)).ToArray();
        var minus = theta.Zip(v, (t, d) => t - (h * d)).ToArray();
        mlp.SetParameters(plus);
        var gPlus = mlp.Gradient();
        mlp.SetParameters(minus);
        var gMinus = mlp.Gradient();
        mlp.SetParameters(theta);
        var fd = gPlus.Zip(gMinus, (a, b) => (a - b) / (2 * h)).ToArray();

        // Central differences: truncation h²·‖∇³L·v·v·v‖/6 ≈ 1e-10 for this O(1) model, rounding ε·‖g‖/h ≈ 1e-11.
        Assert.True(Host.MaxAbsDifference(hv, fd) <= 1e-7 * Math.Max(1, Host.MaxAbs(hv)), $"max |Hv − FD| = {Host.MaxAbsDifference(hv, fd)}");
        Assert.True(Host.MaxAbs(hv) > 1e-3, "the test model must have a non-trivial Hessian");
    }

    [Fact]
    public void IsSymmetric()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 3, hidden: 7);
        using var hvp = new HessianVectorProductOperator(mlp.View, mlp.Loss);
        var space = (TensorVectorSpace)hvp.Space;
        var u = space.CreateVector();
        var v = space.CreateVector();
        var hu = space.CreateVector();
        var hv = space.CreateVector();
        space.FillRandom(u, RandomKind.Gaussian, 11);
        space.FillRandom(v, RandomKind.Gaussian, 12);
        hvp.Apply(u, hu);
        hvp.Apply(v, hv);
        double left = space.Dot(u, hv);
        double right = space.Dot(hu, v);

        // Two different double-backward evaluations of the same symmetric bilinear form: equal up to rounding, a few
        // hundred ulps of the terms summed (n ≈ 50 parameters, values O(1)).
        Assert.Equal(left, right, 1e-12 * Math.Max(1, Math.Abs(left)));
        Assert.Equal(2, hvp.Applications);
    }

    [Fact]
    public void EqualsClosedFormHessianOfLinearLeastSquares()
    {
        // L(w, b) = mean((X·w + b − y)²) over N rows has the constant Hessian H = (2/N)·AᵀA with A = [X 1].
        using var scope = TensorProbeScope.Begin();
        using var model = nn.Linear(3, 1, hasBias: true, dtype: ScalarType.Float64);
        var view = FlatParameterView.FromModule(model);
        var random = new Random(5);
        using (var theta = torch.tensor(TinyMlp.Gaussian(random, 4, 1), ScalarType.Float64))
        {
            view.CopyToParameters(theta);
        }

        const int rows = 7;
        var xData = TinyMlp.Gaussian(random, rows * 3, 1);
        using var x = torch.tensor(xData, new long[] { rows, 3 }, ScalarType.Float64);
        using var y = torch.tensor(TinyMlp.Gaussian(random, rows, 1), new long[] { rows, 1 }, ScalarType.Float64);
        Tensor Loss()
        {
            using var prediction = model.forward(x);
            using var error = prediction - y;
            using var squared = error.square();
            return squared.mean();
        }

        // Flat order is named_parameters(): weight (1×3) then bias.
        Assert.Equal(new[] { "weight", "bias" }, view.Names);
        var a = new double[rows, 4];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < 3; c++)
            {
                a[r, c] = xData[(r * 3) + c];
            }

            a[r, 3] = 1;
        }

        using var hvp = new HessianVectorProductOperator(view, Loss);
        var space = (TensorVectorSpace)hvp.Space;
        using var e = space.CreateVector();
        using var column = space.CreateVector();
        for (int j = 0; j < 4; j++)
        {
            space.Clear(e);
            using (var unit = torch.tensor(Enumerable.Range(0, 4).Select(i => i == j ? 1.0 : 0.0).ToArray(), ScalarType.Float64))
            {
                space.Copy(unit, e);
            }

            hvp.Apply(e, column);
            var computed = Host.ToArray(column);
            for (int i = 0; i < 4; i++)
            {
                double exact = 0;
                for (int r = 0; r < rows; r++)
                {
                    exact += a[r, i] * a[r, j];
                }

                exact *= 2.0 / rows;

                // Exact arithmetic up to a sum of 7 products: a few ulps.
                Assert.Equal(exact, computed[i], 1e-13 * Math.Max(1, Math.Abs(exact)));
            }
        }
    }

    [Fact]
    public void Float32MatchesFloat64()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp64 = new TinyMlp(ScalarType.Float64, seed: 8);
        using var mlp32 = new TinyMlp(ScalarType.Float32, seed: 8);
        var v = TinyMlp.Gaussian(new Random(9), mlp64.View.Dimension, 1);
        double[] Hv(TinyMlp mlp)
        {
            using var hvp = new HessianVectorProductOperator(mlp.View, mlp.Loss);
            var space = (TensorVectorSpace)hvp.Space;
            using var x = torch.tensor(v, mlp.View.ScalarType);
            using var y = space.CreateVector();
            hvp.Apply(x, y);
            Assert.Equal(mlp.View.ScalarType, y.dtype);
            return Host.ToArray(y);
        }

        var exact = Hv(mlp64);
        var single = Hv(mlp32);

        // float32 weights are the float64 ones rounded (relative 6e-8); two backward passes through an O(1) network
        // amplify that by at most a few hundred.
        Assert.True(Host.MaxAbsDifference(exact, single) <= 1e-4 * Math.Max(1, Host.MaxAbs(exact)), $"max diff {Host.MaxAbsDifference(exact, single)}");
    }

    [Fact]
    public void ZeroHessianAndUnusedParametersGiveZeros()
    {
        using var scope = TensorProbeScope.Begin();
        using var used = nn.Linear(2, 1, hasBias: false, dtype: ScalarType.Float64);
        using var unused = nn.Linear(2, 1, hasBias: false, dtype: ScalarType.Float64);
        var view = new FlatParameterView(new[] { ("used", used.weight!), ("unused", unused.weight!) });
        using var x = torch.ones(new long[] { 1, 2 }, ScalarType.Float64);

        // Linear in θ: the gradient is constant (no grad_fn), so H = 0; 'unused' is not in the graph at all.
        using var hvp = new HessianVectorProductOperator(view, () => used.forward(x).sum());
        var space = (TensorVectorSpace)hvp.Space;
        using var v = space.CreateVector();
        using var y = space.CreateVector();
        space.FillRandom(v, RandomKind.Gaussian, 1);
        space.FillRandom(y, RandomKind.Gaussian, 2);
        hvp.Apply(v, y);
        Assert.Equal(0, space.Norm(y));
        using var g = space.CreateVector();
        hvp.CopyGradientTo(g);
        Assert.Equal(new[] { 1.0, 1.0, 0.0, 0.0 }, Host.ToArray(g));
    }

    [Fact]
    public void InvalidUseThrowsManagedExceptionsBeforeNativeCode()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 4);

        var detached = Assert.Throws<ArgumentException>(() => new HessianVectorProductOperator(mlp.View, () => mlp.Loss().detach()));
        Assert.Contains("grad_fn", detached.Message, StringComparison.Ordinal);
        var vector = Assert.Throws<ArgumentException>(() => new HessianVectorProductOperator(mlp.View, () => mlp.Model.forward(mlp.Inputs)));
        Assert.Contains("scalar", vector.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new HessianVectorProductOperator(mlp.View, () => null!));

        var hvp = new HessianVectorProductOperator(mlp.View, mlp.Loss);
        var space = (TensorVectorSpace)hvp.Space;
        using var v = space.CreateVector();
        using var y = space.CreateVector();
        using var wrongType = torch.zeros(new long[] { mlp.View.Dimension }, ScalarType.Float32);
        using var wrongLength = torch.zeros(new long[] { mlp.View.Dimension + 1 }, ScalarType.Float64);
        Assert.Throws<ArgumentException>(() => hvp.Apply(wrongType, y));
        Assert.Throws<ArgumentException>(() => hvp.Apply(v, wrongLength));

        mlp.View.Parameters[0].requires_grad = false;
        Assert.Throws<InvalidOperationException>(() => hvp.Apply(v, y));
        mlp.View.Parameters[0].requires_grad = true;
        hvp.Apply(v, y);

        hvp.Dispose();
        Assert.Throws<ObjectDisposedException>(() => hvp.Apply(v, y));
    }

    [Fact]
    public void ModelModeIsSetDuringTheForwardPassAndRestored()
    {
        using var scope = TensorProbeScope.Begin();
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 6, dropout: 0.5);
        var seen = new List<bool>();
        Tensor Loss()
        {
            seen.Add(mlp.Model.training);
            return mlp.Loss();
        }

        mlp.Model.train(true);
        using (new HessianVectorProductOperator(mlp.View, Loss, mlp.Model))
        {
            Assert.True(mlp.Model.training);
        }

        mlp.Model.eval();
        using (new HessianVectorProductOperator(mlp.View, Loss, mlp.Model, new HessianVectorProductOptions(ProbeModelMode.Train)))
        {
            Assert.False(mlp.Model.training);
        }

        using (new HessianVectorProductOperator(mlp.View, Loss, mlp.Model, new HessianVectorProductOptions(ProbeModelMode.Unchanged)))
        {
            Assert.False(mlp.Model.training);
        }

        // Default Eval, then Train, then the caller's (eval) mode.
        Assert.Equal(new[] { false, true, false }, seen);

        // Eval mode makes the probe deterministic even with dropout: two probes give the same Hv.
        double[] Probe()
        {
            using var hvp = new HessianVectorProductOperator(mlp.View, mlp.Loss, mlp.Model);
            var space = (TensorVectorSpace)hvp.Space;
            using var v = space.CreateVector();
            using var y = space.CreateVector();
            space.FillRandom(v, RandomKind.Rademacher, 3);
            hvp.Apply(v, y);
            return Host.ToArray(y);
        }

        // The model is left in training mode (dropout active). Probes run in eval mode by default, so two probes see the
        // same network and agree exactly; if dropout leaked into a probe, their random masks would differ.
        mlp.Model.train(true);
        double[] first = Probe();
        double[] second = Probe();
        Assert.Equal(first, second);
    }
}
