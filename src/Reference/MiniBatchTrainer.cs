namespace SpectralMonitor.Reference;

/// <summary>How a <see cref="MiniBatchTrainer.Run"/> ended.</summary>
public enum TrainingStatus
{
    /// <summary>Every requested step was taken.</summary>
    Completed,

    /// <summary>The loss or the gradient became non-finite; the step was not applied and the run stopped.</summary>
    Diverged,
}

/// <summary>One optimizer step of a <see cref="MiniBatchTrainer"/>.</summary>
/// <param name="Step">1-based index of the step.</param>
/// <param name="Loss">Mini-batch loss at the parameters before the step.</param>
/// <param name="GradientNorm">‖∇L‖₂ of that mini-batch loss.</param>
/// <param name="LearningRate">The learning rate the step used.</param>
/// <param name="Applied">False when the loss or gradient was not finite and the parameters were left unchanged.</param>
public sealed record TrainingStep(long Step, double Loss, double GradientNorm, double LearningRate, bool Applied);

/// <summary>The losses of a run of <see cref="MiniBatchTrainer.Run"/>.</summary>
/// <param name="Losses">Mini-batch loss before each step taken (including a final non-finite one when diverged).</param>
/// <param name="StepsApplied">Steps actually applied.</param>
/// <param name="Status">How the run ended.</param>
public sealed record TrainingRun(IReadOnlyList<double> Losses, int StepsApplied, TrainingStatus Status);

/// <summary>
/// A plain mini-batch training loop for the examples and the monitor's tests: shuffles the data with a seeded
/// generator each epoch, draws consecutive mini-batches of a fixed size (an incomplete tail is dropped), and applies
/// the optimizer to the mini-batch gradient. A non-finite loss or gradient is a status, not an exception.
/// </summary>
/// <remarks>Not thread-safe. Each mini-batch is a new <see cref="Batch"/> (a copy of its rows).</remarks>
public sealed class MiniBatchTrainer
{
    private readonly double[] _parameters;
    private readonly double[] _gradient;
    private readonly int[] _order;
    private readonly Random _random;
    private int _cursor;

    /// <summary>Creates the trainer.</summary>
    /// <param name="objective">Model and loss.</param>
    /// <param name="data">The training set.</param>
    /// <param name="optimizer">The optimizer (its dimension must be the model's parameter count).</param>
    /// <param name="initialParameters">Starting parameters (copied).</param>
    /// <param name="batchSize">Samples per step; at least the data size means full-batch training (no shuffling).</param>
    /// <param name="seed">Seed of the shuffling.</param>
    /// <exception cref="ArgumentException">Sizes do not agree or <paramref name="batchSize"/> is not positive.</exception>
    public MiniBatchTrainer(MlpObjective objective, Batch data, IReferenceOptimizer optimizer, ReadOnlySpan<double> initialParameters, int batchSize, int seed)
    {
        ArgumentNullException.ThrowIfNull(objective);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(optimizer);
        objective.Architecture.CheckParameters(initialParameters.Length, nameof(initialParameters));
        if (optimizer.Dimension != objective.ParameterCount)
        {
            throw new ArgumentException($"optimizer has dimension {optimizer.Dimension}; the model has {objective.ParameterCount} parameters.", nameof(optimizer));
        }

        if (batchSize <= 0)
        {
            throw new ArgumentException($"batchSize = {batchSize} must be positive.", nameof(batchSize));
        }

        // Validates that the data fit the model and the loss.
        _ = objective.Loss(initialParameters, data.Slice(0, 1));
        Objective = objective;
        Data = data;
        Optimizer = optimizer;
        BatchSize = Math.Min(batchSize, data.Count);
        _parameters = initialParameters.ToArray();
        _gradient = new double[objective.ParameterCount];
        _order = new int[data.Count];
        for (int i = 0; i < _order.Length; i++)
        {
            _order[i] = i;
        }

        _random = new Random(seed);
        _cursor = _order.Length;
    }

    /// <summary>Model and loss.</summary>
    public MlpObjective Objective { get; }

    /// <summary>The training set.</summary>
    public Batch Data { get; }

    /// <summary>The optimizer.</summary>
    public IReferenceOptimizer Optimizer { get; }

    /// <summary>Samples per step (at most the data size).</summary>
    public int BatchSize { get; }

    /// <summary>The current parameters.</summary>
    public ReadOnlySpan<double> Parameters => _parameters;

    /// <summary>The mini-batch gradient of the last step (zeros before the first).</summary>
    public ReadOnlySpan<double> LastGradient => _gradient;

    /// <summary>The mini-batch of the last step (null before the first).</summary>
    public Batch? LastBatch { get; private set; }

    /// <summary>Steps applied so far.</summary>
    public long StepsApplied { get; private set; }

    /// <summary>Draws the next mini-batch, computes its loss and gradient and, when both are finite, applies the optimizer.</summary>
    /// <returns>What happened.</returns>
    public TrainingStep Step()
    {
        var batch = NextBatch();
        LastBatch = batch;
        double loss = Objective.LossAndGradient(_parameters, batch, _gradient);
        double norm = 0;
        foreach (double g in _gradient)
        {
            norm += g * g;
        }

        norm = Math.Sqrt(norm);
        double lr = Optimizer.LearningRate;
        bool finite = double.IsFinite(loss) && double.IsFinite(norm);
        if (finite)
        {
            Optimizer.Step(_parameters, _gradient);
            StepsApplied++;
        }

        return new TrainingStep(StepsApplied + (finite ? 0 : 1), loss, norm, lr, finite);
    }

    /// <summary>Takes up to <paramref name="steps"/> steps, stopping at the first non-finite loss or gradient.</summary>
    /// <exception cref="ArgumentException"><paramref name="steps"/> is negative.</exception>
    public TrainingRun Run(int steps)
    {
        if (steps < 0)
        {
            throw new ArgumentException($"steps = {steps} must be non-negative.", nameof(steps));
        }

        var losses = new List<double>(steps);
        int applied = 0;
        for (int s = 0; s < steps; s++)
        {
            var step = Step();
            losses.Add(step.Loss);
            if (!step.Applied)
            {
                return new TrainingRun(losses, applied, TrainingStatus.Diverged);
            }

            applied++;
        }

        return new TrainingRun(losses, applied, TrainingStatus.Completed);
    }

    private Batch NextBatch()
    {
        if (BatchSize == Data.Count)
        {
            return Data;
        }

        if (_cursor + BatchSize > _order.Length)
        {
            // Fisher–Yates shuffle for a new epoch.
            for (int i = _order.Length - 1; i > 0; i--)
            {
                int j = _random.Next(i + 1);
                (_order[i], _order[j]) = (_order[j], _order[i]);
            }

            _cursor = 0;
        }

        var batch = Data.Select(_order.AsSpan(_cursor, BatchSize));
        _cursor += BatchSize;
        return batch;
    }
}
