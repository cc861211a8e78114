using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Reference.Tests.UpdateOperators;

/// <summary>
/// The dense J against the finite-difference columns written by real PyTorch 1.13 (tests/fixtures/torch/jacobians.json),
/// at the fixture's base state after five training steps (not a stationary point). Compared are the operators that are
/// exact there: SGD, and full-state Adam/AdamW; for RMSprop with momentum, the momentum_buffer columns, which freezing P
/// does not touch. Not compared: amsgrad (no full-state operator) and RMSprop's θ columns (P frozen, not exact here).
/// </summary>
public class TorchFixtureJacobianTests
{
    public static TheoryData<string> Configs => new(["sgd_plain", "sgd_momentum_dampening_weight_decay", "sgd_nesterov", "adam", "adamw", "rmsprop_centered_momentum"]);

    [Theory]
    [MemberData(nameof(Configs))]
    public void DenseJacobianColumnsEqualPyTorchFiniteDifferences(string name)
    {
        var config = TorchFixtures.JacobianConfig(name);
        var (objective, batch, _) = TorchFixtures.Model(TorchFixtures.Jacobians.GetProperty("model"));
        var baseElement = config.GetProperty("base");
        var theta = TorchFixtures.Doubles(baseElement.GetProperty("parameters"));
        var state = TorchFixtures.StateFromJson(baseElement.GetProperty("state"));
        long step = baseElement.TryGetProperty("step_count", out var sc) ? sc.GetInt64() : 0;
        var snapshot = TorchFixtures.Snapshot(TorchFixtures.Hyperparameters(config), state, step);
        var gradient = new double[theta.Length];
        objective.LossAndGradient(theta, batch, gradient);
        var linearization = snapshot is AdamSnapshot<double[]> ? UpdateLinearization.FullState : UpdateLinearization.FrozenPreconditioner;
        var dense = DenseUpdateMatrices.Create(snapshot, ReferenceJacobians.DenseHessian(objective, batch, theta), linearization, gradient, theta);
        int n = theta.Length;
        bool buffersOnly = snapshot is RmsPropSnapshot<double[]>;

        int compared = 0;
        foreach (var column in config.GetProperty("columns").EnumerateArray())
        {
            var inputBlock = Block(column.GetProperty("block").GetString()!);
            if (buffersOnly && inputBlock != StateBlock.MomentumBuffer)
            {
                continue;
            }

            int col = (dense.Layout.IndexOf(inputBlock) * n) + column.GetProperty("index").GetInt32();
            var derivative = column.GetProperty("derivative");
            double scale = derivative.EnumerateObject().SelectMany(p => TorchFixtures.Doubles(p.Value)).Max(Math.Abs);
            foreach (var output in derivative.EnumerateObject())
            {
                int block = dense.Layout.IndexOf(Block(output.Name));
                if (block < 0)
                {
                    // A state the operator holds frozen (square_avg, grad_avg).
                    Assert.True(buffersOnly, $"{name}: output {output.Name} missing from layout {dense.Layout.Description}");
                    continue;
                }

                var expected = TorchFixtures.Doubles(output.Value);
                var actual = Enumerable.Range(0, n).Select(i => dense.Matrix[(block * n) + i, col]).ToArray();

                // PyTorch's central differences (h = 1e-6, or 1e-4 relative for exp_avg_sq) err by h²·|F'''| + ε|F|/h,
                // about 1e-10 of the column's scale (their one-sided gaps are ≤ 1e-6, so h·|F''| is small); 1e-6 bounds
                // that with margin while any wrong coefficient would be off by ≥ 1e-4 of the scale.
                Numerics.AssertClose(expected, actual, 1e-6, $"{name} ∂{output.Name}/∂{column.GetProperty("block").GetString()}[{column.GetProperty("index").GetInt32()}]", Math.Max(scale, 1e-12));
            }

            compared++;
        }

        Assert.True(compared >= 3, $"{name}: only {compared} columns compared");
    }

    private static StateBlock Block(string torchName) => torchName switch
    {
        "parameters" => StateBlock.Parameters,
        "momentum_buffer" => StateBlock.MomentumBuffer,
        "exp_avg" => StateBlock.ExpAvg,
        "exp_avg_sq" => StateBlock.ExpAvgSq,
        "square_avg" or "grad_avg" or "max_exp_avg_sq" => (StateBlock)(-1),
        _ => throw new InvalidDataException(torchName),
    };
}
