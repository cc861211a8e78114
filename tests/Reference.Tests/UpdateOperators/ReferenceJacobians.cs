using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Reference.Tests.UpdateOperators;

/// <summary>Dense Hessians from HVPs and central differences of one real reference-optimizer step.</summary>
internal static class ReferenceJacobians
{
    /// <summary>The dense Hessian at θ, one exact HVP (R-operator) per unit vector, symmetrized against rounding.</summary>
    internal static double[,] DenseHessian(MlpObjective objective, Batch batch, double[] theta)
    {
        var hessian = new HessianOperator(objective, theta, batch);
        int n = theta.Length;
        var h = new double[n, n];
        var unit = new double[n];
        var column = new double[n];
        for (int j = 0; j < n; j++)
        {
            unit[j] = 1;
            hessian.Apply(unit, column);
            unit[j] = 0;
            for (int i = 0; i < n; i++)
            {
                h[i, j] = column[i];
            }
        }

        Assert.Equal(n, hessian.Applications);
        for (int i = 0; i < n; i++)
        {
            for (int j = i + 1; j < n; j++)
            {
                double mean = 0.5 * (h[i, j] + h[j, i]);
                h[i, j] = mean;
                h[j, i] = mean;
            }
        }

        return h;
    }

    /// <summary>
    /// Central differences of one step F(state) → state' of a reference optimizer restored from <paramref name="snapshot"/>,
    /// over the blocks of <paramref name="layout"/> (other state held at the snapshot's values). The gradient fed to the
    /// step is ∇L(θ) − <paramref name="tilt"/>: a linear tilt of the loss, which leaves the Hessian unchanged and can make
    /// the base point stationary.
    /// </summary>
    internal static double[,] CentralDifferences(
        MlpObjective objective, Batch batch, OptimizerSnapshot<double[]> snapshot, double[] theta, UpdateStateLayout layout, double[]? tilt = null)
    {
        int n = theta.Length;
        var state = Pack(snapshot, theta, layout);
        int size = state.Length;
        var j = new double[size, size];
        for (int col = 0; col < size; col++)
        {
            var block = layout.Blocks[col / n];

            // θ and first moments: h = 1e-6·max(1, |x|) balances truncation (h²·|F'''| ≈ 1e-12) and rounding
            // (ε·|F|/h ≈ 1e-10). Second moments are ~g² (tiny): a relative step 1e-4·|x| keeps √ smooth.
            double h = block == StateBlock.ExpAvgSq ? 1e-4 * Math.Abs(state[col]) : 1e-6 * Math.Max(1, Math.Abs(state[col]));
            var plus = (double[])state.Clone();
            var minus = (double[])state.Clone();
            plus[col] += h;
            minus[col] -= h;
            var fp = Step(objective, batch, snapshot, plus, layout, n, tilt);
            var fm = Step(objective, batch, snapshot, minus, layout, n, tilt);
            for (int row = 0; row < size; row++)
            {
                j[row, col] = (fp[row] - fm[row]) / (2 * h);
            }
        }

        return j;
    }

    /// <summary>max |a − b| / max(1, max |a|).</summary>
    internal static double RelativeDifference(double[,] a, double[,] b)
    {
        double scale = 1;
        double error = 0;
        for (int i = 0; i < a.GetLength(0); i++)
        {
            for (int k = 0; k < a.GetLength(1); k++)
            {
                scale = Math.Max(scale, Math.Abs(a[i, k]));
                error = Math.Max(error, Math.Abs(a[i, k] - b[i, k]));
            }
        }

        return error / scale;
    }

    internal static double[] Pack(OptimizerSnapshot<double[]> snapshot, double[] theta, UpdateStateLayout layout) =>
        layout.Blocks.SelectMany(block => block == StateBlock.Parameters ? theta : Named(snapshot, block)).ToArray();

    private static double[] Step(MlpObjective objective, Batch batch, OptimizerSnapshot<double[]> snapshot, double[] state, UpdateStateLayout layout, int n, double[]? tilt)
    {
        double[] Block(int b) => state.AsSpan(b * n, n).ToArray();
        var theta = Block(layout.IndexOf(StateBlock.Parameters));
        var perturbed = snapshot switch
        {
            SgdSnapshot<double[]> s => s with { MomentumBuffer = layout.IndexOf(StateBlock.MomentumBuffer) is int b and >= 0 ? Block(b) : s.MomentumBuffer },
            AdamSnapshot<double[]> a => (OptimizerSnapshot<double[]>)(a with
            {
                ExpAvg = layout.IndexOf(StateBlock.ExpAvg) is int m and >= 0 ? Block(m) : a.ExpAvg,
                ExpAvgSq = layout.IndexOf(StateBlock.ExpAvgSq) is int v and >= 0 ? Block(v) : a.ExpAvgSq,
            }),
            RmsPropSnapshot<double[]> r => r with { MomentumBuffer = layout.IndexOf(StateBlock.MomentumBuffer) is int b and >= 0 ? Block(b) : r.MomentumBuffer },
            _ => throw new ArgumentException("Unknown snapshot."),
        };
        var optimizer = ReferenceOptimizer.FromSnapshot(perturbed, n);
        var gradient = new double[n];
        objective.LossAndGradient(theta, batch, gradient);
        if (tilt is not null)
        {
            for (int i = 0; i < n; i++)
            {
                gradient[i] -= tilt[i];
            }
        }

        optimizer.Step(theta, gradient);
        var after = optimizer.Snapshot();
        return layout.Blocks.SelectMany(block => block == StateBlock.Parameters ? theta : Named(after, block)).ToArray();
    }

    private static double[] Named(OptimizerSnapshot<double[]> snapshot, StateBlock block) => (snapshot, block) switch
    {
        (SgdSnapshot<double[]> s, StateBlock.MomentumBuffer) => s.MomentumBuffer!,
        (RmsPropSnapshot<double[]> r, StateBlock.MomentumBuffer) => r.MomentumBuffer!,
        (AdamSnapshot<double[]> a, StateBlock.ExpAvg) => a.ExpAvg,
        (AdamSnapshot<double[]> a, StateBlock.ExpAvgSq) => a.ExpAvgSq,
        _ => throw new ArgumentException($"{snapshot.GetType().Name} has no {block} block."),
    };
}
