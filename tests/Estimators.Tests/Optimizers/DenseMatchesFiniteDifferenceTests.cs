using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Estimators.Tests.Optimizers;

/// <summary>
/// The dense J of every configuration against central finite differences of one torch-semantics step on a quadratic
/// loss. Frozen-preconditioner operators are compared at a stationary point (zero effective gradient, b = Hθ ± λθ), where
/// they are exact; SGD and the full-state Adam operator away from stationarity.
/// </summary>
public class DenseMatchesFiniteDifferenceTests
{
    private const double Step = 1e-5;

    public static TheoryData<string> CaseNames => new(OptimizerTestData.AllNames);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void DenseJacobianEqualsCentralDifferencesOfOneStep(string name)
    {
        int n = OptimizerTestData.Dimension;
        var c = OptimizerTestData.Case(name, n, seed: 41);
        var h = OptimizerTestData.SymmetricMatrix(n, seed: 42);
        var random = new Random(43);
        var theta = c.Parameters ?? OptimizerTestData.Normal(n, random);
        var b = StationaryOrGeneric(c, h, theta, random);
        var dense = DenseUpdateMatrices.Create(c.Snapshot, h, c.Linearization, GradientAt(h, b, theta), theta);
        var steps = new QuadraticTorchSteps(h, b);
        var state = Pack(c, dense.Layout, theta);
        var fd = CentralDifferences(z => StepMap(c, dense.Layout, steps, z, n), state);

        double scale = Math.Max(1, OptimizerTestData.MaxAbs(dense.Matrix));
        double error = MaxDifference(dense.Matrix, fd);

        // Central differences err by O(h²·‖∂³F‖) + O(ε·‖F‖/h) ≈ 1e-11 for these smooth steps (measured: 1e-11 to 3e-11;
        // SGD is linear in the state, Adam/RMSprop rational in √v with v ≥ 0.2), so 1e-9 is a safe bound that still
        // catches any wrong coefficient (the smallest, the ∂P/∂v term, is about 1e-3). The frozen step-0 Adam case is not
        // smooth on the difference scale (there v' = (1−β₂)ĝ² makes √v̂' = |ĝ| = O(h), an O(h/ε) = 2e-5 relative
        // perturbation of P; measured 3.5e-7), hence 1e-6 for it alone. The full-state step-0 case has v' down to 0.025,
        // so ∂³F is (1/v')³ larger than with v ≥ 0.2 (measured 3.9e-9): 1e-7.
        double tolerance = name switch
        {
            "adam-step0" => 1e-6,
            "adam-full-step0" => 1e-7,
            _ => 1e-9,
        };
        Assert.True(error <= tolerance * scale, $"{name}: max |J − J_fd| = {error:G3} (scale {scale:G3}).");
    }

    private static double[] StationaryOrGeneric(OperatorCase c, double[,] h, double[] theta, Random random)
    {
        var ht = OptimizerTestData.Multiply(h, theta);
        if (c.Linearization == UpdateLinearization.FullState || c.Snapshot is SgdSnapshot<double[]>)
        {
            // Away from stationarity. For full-state Adam the gradient used by the operator must be the true one.
            var b = OptimizerTestData.Normal(theta.Length, random);
            if (c.Gradient is not null)
            {
                for (int i = 0; i < b.Length; i++)
                {
                    b[i] = ht[i] - c.Gradient[i];
                }
            }

            return b;
        }

        // Effective gradient ±(Hθ − b) + λθ = 0.
        (bool maximize, double l2) = c.Snapshot switch
        {
            AdamSnapshot<double[]> a => (a.Hyperparameters.Maximize, a.Hyperparameters.Decoupled ? 0 : a.Hyperparameters.WeightDecay),
            RmsPropSnapshot<double[]> r => (r.Hyperparameters.Maximize, r.Hyperparameters.WeightDecay),
            _ => throw new InvalidOperationException(c.Name),
        };
        double sign = maximize ? -1 : 1;
        return ht.Select((x, i) => x + (sign * l2 * theta[i])).ToArray();
    }

    private static double[] GradientAt(double[,] h, double[] b, double[] theta) =>
        OptimizerTestData.Multiply(h, theta).Select((x, i) => x - b[i]).ToArray();

    /// <summary>The perturbed state: the layout's blocks, concatenated.</summary>
    private static double[] Pack(OperatorCase c, UpdateStateLayout layout, double[] theta)
    {
        var z = new List<double>();
        foreach (var block in layout.Blocks)
        {
            z.AddRange(block switch
            {
                StateBlock.Parameters => theta,
                StateBlock.MomentumBuffer => c.Snapshot switch
                {
                    SgdSnapshot<double[]> s => s.MomentumBuffer!,
                    RmsPropSnapshot<double[]> r => r.MomentumBuffer ?? new double[theta.Length],
                    _ => throw new InvalidOperationException(),
                },
                StateBlock.ExpAvg => ((AdamSnapshot<double[]>)c.Snapshot).ExpAvg,
                StateBlock.ExpAvgSq => ((AdamSnapshot<double[]>)c.Snapshot).ExpAvgSq,
                _ => throw new InvalidOperationException(),
            });
        }

        return [.. z];
    }

    /// <summary>One step from the state <paramref name="z"/> (blocks not in the layout held at the snapshot's values).</summary>
    private static double[] StepMap(OperatorCase c, UpdateStateLayout layout, QuadraticTorchSteps steps, double[] z, int n)
    {
        double[]? Block(StateBlock block) => layout.IndexOf(block) is int k and >= 0 ? z.AsSpan(k * n, n).ToArray() : null;
        var theta = Block(StateBlock.Parameters)!;
        var outputs = new Dictionary<StateBlock, double[]>();
        switch (c.Snapshot)
        {
            case SgdSnapshot<double[]> s:
                {
                    var (t, buf) = steps.Sgd(s.Hyperparameters, theta, Block(StateBlock.MomentumBuffer));
                    outputs[StateBlock.Parameters] = t;
                    if (buf is not null)
                    {
                        outputs[StateBlock.MomentumBuffer] = buf;
                    }

                    break;
                }

            case AdamSnapshot<double[]> a:
                {
                    var (t, m, v, _) = steps.Adam(a.Hyperparameters, a.Step, theta, Block(StateBlock.ExpAvg) ?? a.ExpAvg, Block(StateBlock.ExpAvgSq) ?? a.ExpAvgSq, a.MaxExpAvgSq);
                    outputs[StateBlock.Parameters] = t;
                    outputs[StateBlock.ExpAvg] = m;
                    outputs[StateBlock.ExpAvgSq] = v;
                    break;
                }

            case RmsPropSnapshot<double[]> r:
                {
                    var (t, _, buf, _) = steps.RmsProp(r.Hyperparameters, theta, r.SquareAvg, Block(StateBlock.MomentumBuffer) ?? r.MomentumBuffer, r.GradAvg);
                    outputs[StateBlock.Parameters] = t;
                    if (buf is not null)
                    {
                        outputs[StateBlock.MomentumBuffer] = buf;
                    }

                    break;
                }

            default:
                throw new InvalidOperationException(c.Name);
        }

        return layout.Blocks.SelectMany(block => outputs[block]).ToArray();
    }

    internal static double[,] CentralDifferences(Func<double[], double[]> map, double[] z)
    {
        int size = z.Length;
        var j = new double[size, size];
        for (int col = 0; col < size; col++)
        {
            var plus = (double[])z.Clone();
            var minus = (double[])z.Clone();
            plus[col] += Step;
            minus[col] -= Step;
            var fp = map(plus);
            var fm = map(minus);
            for (int row = 0; row < size; row++)
            {
                j[row, col] = (fp[row] - fm[row]) / (2 * Step);
            }
        }

        return j;
    }

    internal static double MaxDifference(double[,] a, double[,] b)
    {
        double m = 0;
        for (int i = 0; i < a.GetLength(0); i++)
        {
            for (int k = 0; k < a.GetLength(1); k++)
            {
                m = Math.Max(m, Math.Abs(a[i, k] - b[i, k]));
            }
        }

        return m;
    }
}
