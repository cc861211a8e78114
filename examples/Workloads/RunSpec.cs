namespace SpectralMonitor.Examples.Workloads;

/// <summary>The model and data of a run.</summary>
public enum WorkloadKind
{
    /// <summary><see cref="CharGpt"/> on <i>Pride and Prejudice</i> (<see cref="CharCorpus"/>), next-character cross-entropy.</summary>
    CharGpt,

    /// <summary><see cref="DigitsCnn"/> on the 8×8 digits, cross-entropy.</summary>
    DigitsCnn,

    /// <summary><see cref="DigitsMlp"/> on the 8×8 digits, cross-entropy.</summary>
    DigitsMlp,
}

/// <summary>The optimizer of a run (TorchSharp's, PyTorch's defaults unless the spec says otherwise).</summary>
public enum OptimizerKind
{
    /// <summary><c>torch.optim.SGD</c> with momentum <see cref="RunSpec.Momentum"/> (heavy ball, no Nesterov).</summary>
    SgdMomentum,

    /// <summary><c>torch.optim.Adam</c>, β = (0.9, 0.999), ε = 1e-8, no weight decay.</summary>
    Adam,

    /// <summary><c>torch.optim.AdamW</c>, β = (0.9, 0.999), ε = 1e-8, decoupled weight decay <see cref="RunSpec.WeightDecay"/>.</summary>
    AdamW,
}

/// <summary>
/// One training run: what to train, how, and for how long. The learning rate rises linearly from
/// <see cref="LearningRate"/>/<see cref="WarmupSteps"/> at step 0 to <see cref="LearningRate"/> at step
/// <see cref="WarmupSteps"/> − 1, then stays constant (no warm-up when <see cref="WarmupSteps"/> is 0). Everything
/// random (initial weights, batch order, probe batch) follows from <see cref="Seed"/>, so a run is reproducible on
/// one machine with one torch thread.
/// </summary>
/// <param name="Name">Short name (the monitor's run name and metric tag).</param>
/// <param name="Workload">Model and data.</param>
/// <param name="Optimizer">Optimizer.</param>
/// <param name="LearningRate">Peak (post-warm-up) learning rate.</param>
/// <param name="Steps">Optimizer steps.</param>
/// <param name="Seed">Seed of the initial weights, the batch order and the probe batch.</param>
/// <param name="BatchSize">Training rows per step (images, or text windows).</param>
/// <param name="WarmupSteps">Steps of the linear warm-up (0: none).</param>
public sealed record RunSpec(
    string Name,
    WorkloadKind Workload,
    OptimizerKind Optimizer,
    double LearningRate,
    int Steps,
    int Seed = 0,
    int BatchSize = 32,
    int WarmupSteps = 0)
{
    /// <summary>Momentum of <see cref="OptimizerKind.SgdMomentum"/>.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Decoupled weight decay of <see cref="OptimizerKind.AdamW"/> (PyTorch's default 0.01).</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Size of the GPT for <see cref="WorkloadKind.CharGpt"/>; null for <see cref="DefaultGpt"/> (the vocabulary is the corpus's).</summary>
    public GptConfig? Gpt { get; init; }

    /// <summary>Rows of the fixed probe batch (the monitor's Hessian-vector products use it).</summary>
    public int ProbeBatchSize { get; init; } = 64;

    /// <summary>The GPT used when <see cref="Gpt"/> is null: context 32, one block, d_model 64, 4 heads.</summary>
    public static GptConfig DefaultGpt(int vocabularySize) => new(vocabularySize, Context: 32, Layers: 1, ModelWidth: 64, Heads: 4);

    /// <summary>The scheduled learning rate of <paramref name="step"/> (warm-up, then constant).</summary>
    /// <param name="step">Step number from 0.</param>
    public double ScheduledLearningRate(long step) =>
        WarmupSteps > 0 && step < WarmupSteps ? LearningRate * (step + 1) / WarmupSteps : LearningRate;

    /// <summary>Checks the spec.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        Require(!string.IsNullOrWhiteSpace(Name), nameof(Name), "a non-empty name");
        Require(Enum.IsDefined(Workload), nameof(Workload), "a defined workload");
        Require(Enum.IsDefined(Optimizer), nameof(Optimizer), "a defined optimizer");
        Require(double.IsFinite(LearningRate) && LearningRate > 0, nameof(LearningRate), "positive and finite");
        Require(Steps >= 1, nameof(Steps), "at least 1");
        Require(BatchSize >= 1, nameof(BatchSize), "at least 1");
        Require(WarmupSteps >= 0, nameof(WarmupSteps), "at least 0");
        Require(Momentum is >= 0 and < 1, nameof(Momentum), "in [0, 1)");
        Require(WeightDecay >= 0 && double.IsFinite(WeightDecay), nameof(WeightDecay), "non-negative");
        Require(ProbeBatchSize >= 1, nameof(ProbeBatchSize), "at least 1");
        Gpt?.Validate();
    }

    private void Require(bool condition, string name, string allowed)
    {
        if (!condition)
        {
            throw new ArgumentException($"RunSpec {Name}: {name} must be {allowed}.", name);
        }
    }
}
