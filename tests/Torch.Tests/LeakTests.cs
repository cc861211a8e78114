using SpectralMonitor.Estimators;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

public class LeakTests
{
    [Fact]
    public void LiveTensorCountIsFlatAcross100Probes()
    {
        using var mlp = new TinyMlp(ScalarType.Float64, seed: 1);
        using var optimizer = torch.optim.Adam(mlp.Model.parameters(), 0.01);
        using var warmStart = new TensorStore();
        Tensor kept;
        using (var first = TensorProbeScope.Begin())
        {
            // Warm up lazily created state (optimizer moments) before counting.
            optimizer.zero_grad();
            mlp.Loss().backward();
            optimizer.step();
            kept = warmStart.Keep(mlp.View.CreateVectorSpace().CreateVector());
        }

        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int probe = 0; probe < 100; probe++)
        {
            using var scope = TensorProbeScope.Begin();
            using var hvp = new HessianVectorProductOperator(mlp.View, mlp.Loss, mlp.Model);
            var space = (TensorVectorSpace)hvp.Space;
            using var basis = space.CreateBasis(3);
            var v = space.CreateVector();
            var w = space.CreateVector();
            space.FillRandom(v, RandomKind.Gaussian, probe);
            space.Axpy(1, kept, v);
            hvp.Apply(v, w);
            if (probe == 0)
            {
                // The instrument sees the probe's tensors (so a flat count below is meaningful).
                Assert.True(DisposeScopeManager.Statistics.ThreadTotalLiveCount > before + 2);
            }

            basis.Append(w);
            var c = new double[1];
            basis.Project(v, c);
            basis.SubtractProjection(v, c);
            basis.Combine(c, w);
            basis.Transform(new double[,] { { 1.0 } });
            _ = OptimizerStateReader.TryRead(optimizer, mlp.View, out _);
            var view = mlp.View.Split(v);
            Assert.Equal(mlp.View.Count, view.Length);
        }

        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.Equal(before, after);
        Assert.False(kept.IsInvalid, "the kept warm-start vector survives every probe scope");
    }
}
