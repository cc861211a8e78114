using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Probing;

namespace SpectralMonitor.Reference.Monitoring;

/// <summary>Returns the current parameters of a training loop (read at probe time, between steps).</summary>
public delegate ReadOnlySpan<double> ParameterAccessor();

/// <summary>
/// The reference backend as a <see cref="IProbeTarget{TVec}"/>: exact Hessian-vector products of an MLP on a fixed
/// probe batch, the reference optimizer's snapshot, and the MLP's weight matrices.
/// </summary>
public sealed class ReferenceProbeTarget : IProbeTarget<double[]>
{
    private readonly MlpObjective _objective;
    private readonly Batch _probeBatch;
    private readonly ParameterAccessor _parameters;
    private readonly IReferenceOptimizer _optimizer;

    /// <summary>Creates the target.</summary>
    /// <param name="objective">The model and loss (its HVPs are not thread-safe: probes run on the training thread).</param>
    /// <param name="probeBatch">The fixed batch every probe differentiates.</param>
    /// <param name="parameters">Reads the training loop's current parameters.</param>
    /// <param name="optimizer">The optimizer being monitored (its snapshot is read; its learning rate may be backed off).</param>
    public ReferenceProbeTarget(MlpObjective objective, Batch probeBatch, ParameterAccessor parameters, IReferenceOptimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(objective);
        ArgumentNullException.ThrowIfNull(probeBatch);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(optimizer);
        _objective = objective;
        _probeBatch = probeBatch;
        _parameters = parameters;
        _optimizer = optimizer;
        LearningRates = new OptimizerLearningRate(optimizer);
    }

    /// <inheritdoc/>
    public string OptimizerName => _optimizer.Kind switch
    {
        OptimizerKind.Sgd => "sgd",
        OptimizerKind.Adam => "adam",
        OptimizerKind.AdamW => "adamw",
        OptimizerKind.RmsProp => "rmsprop",
        _ => _optimizer.Kind.ToString().ToLowerInvariant(),
    };

    /// <inheritdoc/>
    public ILearningRateController? LearningRates { get; }

    /// <inheritdoc/>
    public IProbeContext<double[]> BeginProbe(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var parameters = _parameters().ToArray();
        var architecture = _objective.Architecture;
        var weights = architecture.Parameters
            .Where(view => view.IsWeight)
            .Select(view => (IWeightMatrix)new WeightView(view, parameters))
            .ToArray();
        return new Context(new HessianOperator(_objective, parameters, _probeBatch), _optimizer.Snapshot(), weights);
    }

    private sealed class Context(HessianOperator hessian, OptimizerSnapshot<double[]> snapshot, IReadOnlyList<IWeightMatrix> weights) : IProbeContext<double[]>
    {
        public LinearOperator<double[]> Hessian => hessian;

        public OptimizerSnapshot<double[]>? Optimizer => snapshot;

        public string? OptimizerUnavailableReason => null;

        public IReadOnlyList<IWeightMatrix> Weights => weights;

        public void Dispose()
        {
            // Managed memory only.
        }
    }

    private sealed class WeightView(ParameterView view, double[] parameters) : IWeightMatrix
    {
        public string Name => view.Name;

        public int Rows => view.Rows;

        public int Columns => view.Columns;

        public void Multiply(ReadOnlySpan<double> x, Span<double> result)
        {
            var w = view.Slice((ReadOnlySpan<double>)parameters);
            for (int i = 0; i < Rows; i++)
            {
                double sum = 0;
                var row = w.Slice(i * Columns, Columns);
                for (int j = 0; j < Columns; j++)
                {
                    sum += row[j] * x[j];
                }

                result[i] = sum;
            }
        }

        public void MultiplyTranspose(ReadOnlySpan<double> y, Span<double> result)
        {
            var w = view.Slice((ReadOnlySpan<double>)parameters);
            result.Clear();
            for (int i = 0; i < Rows; i++)
            {
                var row = w.Slice(i * Columns, Columns);
                for (int j = 0; j < Columns; j++)
                {
                    result[j] += row[j] * y[i];
                }
            }
        }

        public double FrobeniusNormSquared()
        {
            double sum = 0;
            foreach (double value in view.Slice((ReadOnlySpan<double>)parameters))
            {
                sum += value * value;
            }

            return sum;
        }
    }

    private sealed class OptimizerLearningRate(IReferenceOptimizer optimizer) : ILearningRateController
    {
        public int GroupCount => 1;

        public double GetLearningRate(int group)
        {
            ArgumentOutOfRangeException.ThrowIfNotEqual(group, 0);
            return optimizer.LearningRate;
        }

        public void SetLearningRate(int group, double value)
        {
            ArgumentOutOfRangeException.ThrowIfNotEqual(group, 0);
            if (!(value > 0) || !double.IsFinite(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "A learning rate must be positive and finite.");
            }

            optimizer.LearningRate = value;
        }
    }
}
