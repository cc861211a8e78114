using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Reference.Tests;

public class DataAndTrainingTests
{
    [Fact]
    public void GeneratorsAreDeterministicForASeed()
    {
        var a = SyntheticData.Regression(50, 3, 2, seed: 9);
        var b = SyntheticData.Regression(50, 3, 2, seed: 9);
        var c = SyntheticData.Regression(50, 3, 2, seed: 10);
        Assert.Equal(a.Inputs.ToArray(), b.Inputs.ToArray());
        Assert.Equal(a.Targets.ToArray(), b.Targets.ToArray());
        Assert.NotEqual(a.Inputs.ToArray(), c.Inputs.ToArray());

        var p = SyntheticData.Classification(60, 4, 3, seed: 9);
        var q = SyntheticData.Classification(60, 4, 3, seed: 9);
        var r = SyntheticData.Classification(60, 4, 3, seed: 11);
        Assert.Equal(p.Inputs.ToArray(), q.Inputs.ToArray());
        Assert.Equal(p.Labels.ToArray(), q.Labels.ToArray());
        Assert.NotEqual(p.Labels.ToArray(), r.Labels.ToArray());
        Assert.True(p.IsClassification);
        Assert.False(a.IsClassification);
    }

    [Fact]
    public void RegressionTargetsAreTheTeacherPlusNoiseOfTheRequestedSize()
    {
        var clean = SyntheticData.Regression(400, 3, 2, seed: 4, noise: 0);
        var noisy = SyntheticData.Regression(400, 3, 2, seed: 4, noise: 0.5);
        Assert.Equal(clean.Inputs.ToArray(), noisy.Inputs.ToArray());
        double sum = 0;
        for (int i = 0; i < clean.Targets.Length; i++)
        {
            double d = noisy.Targets[i] - clean.Targets[i];
            sum += d * d;
        }

        // Sample standard deviation of 800 N(0, 0.25) draws: within ±10% of 0.5 with overwhelming probability (±4σ).
        double std = Math.Sqrt(sum / clean.Targets.Length);
        Assert.InRange(std, 0.45, 0.55);
    }

    [Fact]
    public void BlobsUseEveryClassAndAreSeparable()
    {
        var data = SyntheticData.Classification(300, 2, 3, seed: 2, separation: 6);
        var counts = new int[3];
        foreach (int label in data.Labels)
        {
            counts[label]++;
        }

        Assert.All(counts, c => Assert.InRange(c, 60, 140));

        // Training a small classifier drives the loss well below log 3 ≈ 1.10 on well-separated blobs.
        var architecture = new MlpArchitecture([2, 8, 3], HiddenActivation.Tanh);
        var objective = new MlpObjective(architecture, LossKind.CrossEntropy);
        var optimizer = new AdamOptimizer(architecture.ParameterCount, new AdamHyperparameters(0.05));
        var trainer = new MiniBatchTrainer(objective, data, optimizer, architecture.InitializeParameters(1), batchSize: 32, seed: 3);
        var run = trainer.Run(200);
        Assert.Equal(TrainingStatus.Completed, run.Status);
        Assert.Equal(200, run.StepsApplied);
        Assert.True(objective.Loss(trainer.Parameters, data) < 0.3, $"final loss {objective.Loss(trainer.Parameters, data)}");
    }

    [Fact]
    public void TrainerIsDeterministicAndReducesTheLoss()
    {
        var data = SyntheticData.Regression(64, 3, 2, seed: 1);
        var architecture = new MlpArchitecture([3, 8, 2], HiddenActivation.Gelu);
        var objective = new MlpObjective(architecture, LossKind.MeanSquaredError);
        var initial = architecture.InitializeParameters(5);

        TrainingRun Train(int seed) =>
            new MiniBatchTrainer(objective, data, new SgdOptimizer(architecture.ParameterCount, new SgdHyperparameters(0.1, 0.9)), initial, batchSize: 16, seed).Run(60);

        var first = Train(7);
        var second = Train(7);
        var other = Train(8);
        Assert.Equal(first.Losses, second.Losses);
        Assert.NotEqual(first.Losses, other.Losses);
        Assert.Equal(60, first.Losses.Count);
        Assert.True(first.Losses.TakeLast(8).Average() < 0.5 * first.Losses.Take(8).Average());
    }

    [Fact]
    public void FullBatchTrainingUsesTheWholeDataEveryStep()
    {
        var data = SyntheticData.Regression(10, 2, 1, seed: 3);
        var architecture = new MlpArchitecture([2, 4, 1], HiddenActivation.Tanh);
        var objective = new MlpObjective(architecture, LossKind.MeanSquaredError);
        var initial = architecture.InitializeParameters(2);
        var trainer = new MiniBatchTrainer(objective, data, new SgdOptimizer(architecture.ParameterCount, new SgdHyperparameters(0.05)), initial, batchSize: 100, seed: 0);
        Assert.Equal(10, trainer.BatchSize);
        var step = trainer.Step();
        Assert.Same(data, trainer.LastBatch);
        Assert.Equal(objective.Loss(initial, data), step.Loss);
        Assert.True(step.Applied);
        Assert.Equal(1, step.Step);
    }

    [Fact]
    public void DivergenceIsAStatusNotAnException()
    {
        var data = SyntheticData.Regression(20, 2, 1, seed: 3, noise: 0);
        var architecture = new MlpArchitecture([2, 4, 1], HiddenActivation.Relu);
        var objective = new MlpObjective(architecture, LossKind.MeanSquaredError);
        var trainer = new MiniBatchTrainer(objective, data, new SgdOptimizer(architecture.ParameterCount, new SgdHyperparameters(1e3)), architecture.InitializeParameters(2), batchSize: 20, seed: 0);
        var run = trainer.Run(500);
        Assert.Equal(TrainingStatus.Diverged, run.Status);
        Assert.Equal(run.Losses.Count - 1, run.StepsApplied);
        Assert.False(double.IsFinite(run.Losses[^1]) && trainer.LastGradient.ToArray().All(double.IsFinite));
    }

    [Fact]
    public void ArchitectureLaysOutParametersLikePyTorch()
    {
        var architecture = new MlpArchitecture([3, 5, 4, 2], HiddenActivation.Tanh);
        Assert.Equal((3 * 5) + 5 + (5 * 4) + 4 + (4 * 2) + 2, architecture.ParameterCount);
        string[] names = ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.2.weight", "layers.2.bias"];
        Assert.Equal(names, architecture.Parameters.Select(v => v.Name));
        Assert.Equal(new ParameterView("layers.1.weight", 20, 4, 5), architecture.Weight(1));
        Assert.Equal(new ParameterView("layers.1.bias", 40, 4, 1), architecture.Bias(1));
        Assert.Equal(architecture.Weight(2), architecture.View("layers.2.weight"));
        Assert.True(architecture.Weight(0).IsWeight);
        Assert.False(architecture.Bias(0).IsWeight);

        var theta = Enumerable.Range(0, architecture.ParameterCount).Select(i => (double)i).ToArray();
        var w = architecture.WeightMatrix(theta, 1);
        Assert.Equal(4, w.GetLength(0));
        Assert.Equal(5, w.GetLength(1));
        Assert.Equal(20 + (2 * 5) + 3, w[2, 3]);

        var ex = Assert.Throws<ArgumentException>(() => new MlpArchitecture([3, 0, 2], HiddenActivation.Tanh));
        Assert.Contains("layerSizes[1] = 0", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => architecture.Weight(3));
        Assert.Throws<ArgumentException>(() => architecture.View("layers.9.bias"));
    }

    [Fact]
    public void BatchesValidateAndSelect()
    {
        var ex = Assert.Throws<ArgumentException>(() => Batch.ForClassification([1.0, 2.0], [0, 5], 1, 3));
        Assert.Contains("labels[1] = 5", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => Batch.ForRegression([1.0, 2.0, 3.0], [1.0], 2, 1));
        Assert.Equal("inputs", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => Batch.ForRegression([1.0, double.NaN], [1.0, 2.0], 1, 1));
        Assert.Contains("inputs[1] = NaN", ex.Message, StringComparison.Ordinal);

        var batch = Batch.ForRegression([1, 2, 3, 4, 5, 6], [10, 20, 30], 2, 1);
        var selected = batch.Select([2, 0, 2]);
        Assert.Equal([5.0, 6, 1, 2, 5, 6], selected.Inputs.ToArray());
        Assert.Equal([30.0, 10, 30], selected.Targets.ToArray());
        Assert.Equal([3.0, 4], batch.Slice(1, 1).Inputs.ToArray());
        Assert.Throws<ArgumentException>(() => batch.Select([3]));
        Assert.Throws<ArgumentException>(() => batch.Slice(2, 2));
    }
}
