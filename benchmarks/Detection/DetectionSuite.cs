using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Reference;
using SpectralMonitor.Reference.Monitoring;

namespace SpectralMonitor.Benchmarks.Detection;

/// <summary>One model and data set of the suite, trained full batch.</summary>
/// <param name="Name">Short name (task and widths).</param>
/// <param name="LayerSizes">MLP widths.</param>
/// <param name="Loss">The loss.</param>
/// <param name="Data">The training set.</param>
/// <param name="Steps">Training steps of every run of this model.</param>
internal sealed record SuiteModel(string Name, int[] LayerSizes, LossKind Loss, Batch Data, int Steps);

/// <summary>One optimizer family of the suite, with the learning rates the benchmark runs.</summary>
/// <param name="Name">"sgdm", "adam" or "adamw".</param>
/// <param name="Create">Hyperparameters for a learning rate.</param>
internal sealed record SuiteOptimizer(string Name, Func<double, object> Create);

/// <summary>The seeded runs of the detection benchmark.</summary>
internal static class DetectionSuite
{
    /// <summary>SGD with momentum 0.9 (PyTorch semantics, no dampening).</summary>
    public static SuiteOptimizer Sgd { get; } = new("sgdm", lr => new SgdHyperparameters(lr, Momentum: 0.9));

    /// <summary>Adam with PyTorch's default betas and epsilon.</summary>
    public static SuiteOptimizer Adam { get; } = new("adam", lr => new AdamHyperparameters(lr));

    /// <summary>AdamW (decoupled weight decay 0.01, PyTorch's default).</summary>
    public static SuiteOptimizer AdamW { get; } = new("adamw", lr => new AdamHyperparameters(lr, WeightDecay: 0.01, Decoupled: true));

    /// <summary>The four models: two- and three-layer regression and classification MLPs (tanh).</summary>
    public static IReadOnlyList<SuiteModel> Models { get; } =
    [
        new("reg 4-16-1", [4, 16, 1], LossKind.MeanSquaredError, SyntheticData.Regression(64, 4, 1, seed: 3), 800),
        new("reg 4-16-16-1", [4, 16, 16, 1], LossKind.MeanSquaredError, SyntheticData.Regression(64, 4, 1, seed: 5), 800),
        new("cls 2-16-3", [2, 16, 3], LossKind.CrossEntropy, SyntheticData.Classification(96, 2, 3, seed: 7, separation: 1.5), 800),
        new("cls 2-12-12-3", [2, 12, 12, 3], LossKind.CrossEntropy, SyntheticData.Classification(96, 2, 3, seed: 11, separation: 1.5), 800),
    ];

    /// <summary>The optimizers.</summary>
    public static IReadOnlyList<SuiteOptimizer> Optimizers { get; } = [Sgd, Adam, AdamW];

    /// <summary>A full-batch run of <paramref name="model"/> with <paramref name="optimizer"/> at <paramref name="learningRate"/>.</summary>
    public static RunSpec Spec(SuiteModel model, SuiteOptimizer optimizer, double learningRate, int seed) => new(
        $"{model.Name} {optimizer.Name} lr={learningRate:G3} seed={seed}",
        new MlpArchitecture(model.LayerSizes, HiddenActivation.Tanh),
        model.Loss,
        model.Data,
        optimizer.Create(learningRate),
        model.Steps,
        model.Data.Count,
        seed);
}
