using System.Globalization;
using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Benchmarks.Torch;

/// <summary>What the harnesses share: a training step, the optimizers, and a tight reference eigenvalue.</summary>
internal static class Training
{
    public static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>SGD with momentum 0.9 or AdamW (the two optimizer paths of the monitor).</summary>
    public static optim.Optimizer Optimizer(IBenchModel model, string kind, double learningRate) => kind switch
    {
        "sgd" => optim.SGD(model.Module.parameters(), learningRate, momentum: 0.9),
        "adamw" => optim.AdamW(model.Module.parameters(), learningRate, weight_decay: 0.01),
        _ => throw new ArgumentException($"unknown optimizer '{kind}'", nameof(kind)),
    };

    /// <summary>One training step on the model's batch of <paramref name="step"/>; returns the loss.</summary>
    public static double Step(IBenchModel model, optim.Optimizer optimizer, long step)
    {
        using var scope = torch.NewDisposeScope();
        optimizer.zero_grad();
        var (inputs, targets) = model.TrainingBatch(step);
        var loss = model.Loss(model.Module.forward(inputs), targets);
        loss.backward();
        optimizer.step();
        return loss.ToDouble();
    }

    /// <summary>The probe loss on the model's fixed probe batch (all of it, or its first rows).</summary>
    public static Func<Tensor> ProbeLossOf(IBenchModel model, long? rows = null)
    {
        var (inputs, targets) = model.ProbeBatch;
        return ProbeLoss.OnFirstRows(model.Module, inputs, targets, model.Loss, rows ?? inputs.shape[0]);
    }

    /// <summary>The operator a probe's Lanczos runs on: the Hessian, or the optimizer's preconditioned curvature.</summary>
    public static LinearOperator<Tensor> Curvature(LinearOperator<Tensor> hessian, OptimizerSnapshot<Tensor>? snapshot, out IDisposable? owned)
    {
        var preconditioned = snapshot is null ? null : UpdateOperators.CreatePreconditionedHessian(snapshot, hessian);
        owned = preconditioned;
        return preconditioned is null ? hessian : preconditioned;
    }

    /// <summary>
    /// A tight top eigenvalue of the probe's operator: Lanczos to a relative residual of 1e-5 from a random start, so the
    /// eigenvalue is exact to about (1e-5)²/gap, below float32 rounding of the HVPs (≈ 1e-6 relative).
    /// </summary>
    /// <param name="target">The probe target.</param>
    /// <param name="vector">Receives the reference eigenvector, when given.</param>
    /// <param name="start">A start vector (for example an earlier Ritz vector) to save HVPs; the tolerance decides the accuracy, not the start.</param>
    public static (double Value, long Hvps, ConvergenceStatus Status) Reference(TorchSharpProbeTarget target, IBasis<Tensor>? vector = null, Tensor? start = null)
    {
        using var context = target.BeginProbe(CancellationToken.None);
        var op = Curvature(context.Hessian, context.Optimizer, out var owned);
        using (owned)
        {
            var result = Lanczos.Solve(op, new LanczosOptions { Count = 1, KrylovDimension = 30, Tolerance = 1e-5, MaxApplications = 300, Seed = 4242 }, start is null ? null : [start], vector);
            return (result.Eigenvalues.Count > 0 ? result.Eigenvalues[0] : double.NaN, result.Convergence.OperatorApplications, result.Convergence.Status);
        }
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(double.IsFinite).Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : 0.5 * (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]);
    }

    public static string F(double value, string format = "G4") => value.ToString(format, Invariant);

    /// <summary>The flat parameters as doubles on the host.</summary>
    public static double[] ToHost(Tensor flat)
    {
        using var asDouble = flat.detach().to(ScalarType.Float64, torch.CPU);
        return asDouble.data<double>().ToArray();
    }

    public static double RelativeError(double[] actual, double[] expected)
    {
        double difference = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = actual[i] - expected[i];
            difference += d * d;
            norm += expected[i] * expected[i];
        }

        return Math.Sqrt(difference / norm);
    }
}
