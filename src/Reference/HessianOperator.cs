using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Cpu;

namespace SpectralMonitor.Reference;

/// <summary>
/// The Hessian <c>H + λI</c> of an <see cref="MlpObjective"/> at fixed parameters on a fixed batch, as a symmetric
/// matrix-free operator on <see cref="CpuVectorSpace{T}"/> of <see cref="double"/>: every application is one exact HVP
/// (Pearlmutter's R-operator), counted by <see cref="LinearOperator{TVec}.Applications"/>.
/// </summary>
/// <remarks>
/// The parameters are copied at construction; the batch is immutable. The operator uses the objective's work arrays, so
/// it is not thread-safe and must not be applied while the same objective is used elsewhere on another thread.
/// </remarks>
public sealed class HessianOperator : LinearOperator<double[]>
{
    private readonly double[] _parameters;

    /// <summary>Creates the operator.</summary>
    /// <param name="objective">The loss and its derivatives.</param>
    /// <param name="parameters">The point θ at which the Hessian is taken (copied).</param>
    /// <param name="batch">The samples of the loss.</param>
    /// <param name="shift">The L2 shift λ (for example weight decay): the operator is <c>H + λI</c>. Must be finite.</param>
    /// <exception cref="ArgumentException">Lengths do not match, the batch does not fit the objective, or <paramref name="shift"/> is not finite.</exception>
    public HessianOperator(MlpObjective objective, ReadOnlySpan<double> parameters, Batch batch, double shift = 0)
        : base(new CpuVectorSpace<double>((objective ?? throw new ArgumentNullException(nameof(objective))).ParameterCount))
    {
        ArgumentNullException.ThrowIfNull(batch);
        objective.Architecture.CheckParameters(parameters.Length, nameof(parameters));
        if (!double.IsFinite(shift))
        {
            throw new ArgumentException($"shift = {shift} must be finite.", nameof(shift));
        }

        // Validates that the batch fits the model and the loss, and that the loss is defined here.
        double loss = objective.Loss(parameters, batch);
        if (!double.IsFinite(loss))
        {
            throw new ArgumentException($"The loss at these parameters is {loss}; the Hessian is not defined.", nameof(parameters));
        }

        Objective = objective;
        Batch = batch;
        Shift = shift;
        _parameters = parameters.ToArray();
    }

    /// <summary>The objective whose Hessian this is.</summary>
    public MlpObjective Objective { get; }

    /// <summary>The batch of the loss.</summary>
    public Batch Batch { get; }

    /// <summary>The L2 shift λ.</summary>
    public double Shift { get; }

    /// <summary>The parameters θ (a copy taken at construction).</summary>
    public ReadOnlySpan<double> Parameters => _parameters;

    /// <inheritdoc/>
    public override bool IsSymmetric => true;

    /// <inheritdoc/>
    protected override void ApplyCore(double[] x, double[] y)
    {
        Objective.HessianVectorProduct(_parameters, Batch, x, y);
        if (Shift != 0)
        {
            for (int i = 0; i < y.Length; i++)
            {
                y[i] += Shift * x[i];
            }
        }
    }
}
