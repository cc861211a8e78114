using Microsoft.Extensions.Logging;
using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Cpu;
using SpectralMonitor.Estimators.Operators;
using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Probing;

namespace SpectralMonitor.Tests.Support;

/// <summary>A learning-rate controller over plain fields.</summary>
internal sealed class FakeLearningRates(params double[] rates) : ILearningRateController
{
    public double[] Rates { get; } = rates;

    public int GroupCount => Rates.Length;

    public double GetLearningRate(int group) => Rates[group];

    public void SetLearningRate(int group, double value) => Rates[group] = value;
}

/// <summary>
/// A probe target whose Hessian is a diagonal matrix with a settable spectrum and whose optimizer is heavy-ball SGD;
/// faults can be injected into the Hessian-vector product.
/// </summary>
internal sealed class FakeTarget : IProbeTarget<double[]>
{
    public FakeTarget(double[] curvatures, double learningRate = 0.1, double momentum = 0.9)
    {
        Curvatures = curvatures;
        LearningRates = new FakeLearningRates(learningRate);
        Momentum = momentum;
    }

    public double[] Curvatures { get; set; }

    public double Momentum { get; }

    public Func<int, Exception?> ThrowOnHvp { get; set; } = _ => null;

    public bool ReturnNaN { get; set; }

    /// <summary>Report an Adam snapshot (non-uniform second moments) instead of heavy-ball SGD.</summary>
    public bool Adaptive { get; set; }

    /// <summary>The Adam snapshot's exp_avg_sq (null: 1e-4·(i + 1)).</summary>
    public double[]? ExpAvgSq { get; set; }

    /// <summary>A dense symmetric Hessian used instead of diag(<see cref="Curvatures"/>) (same dimension).</summary>
    public double[,]? DenseHessian { get; set; }

    public Action? DuringHvp { get; set; }

    /// <summary>Runs when a probe opens, before its context exists (a slow probe-loss evaluation that nothing can interrupt).</summary>
    public Action? OnBeginProbe { get; set; }

    public int ContextsOpened { get; private set; }

    /// <summary>Hessian-vector products over all probes.</summary>
    public int HvpCalls { get; set; }

    public int ContextsDisposed { get; private set; }

    public string OptimizerName { get; set; } = "sgd";

    public FakeLearningRates LearningRates { get; }

    ILearningRateController? IProbeTarget<double[]>.LearningRates => LearningRates;

    public IProbeContext<double[]> BeginProbe(CancellationToken cancellationToken)
    {
        OnBeginProbe?.Invoke();
        ContextsOpened++;
        return new Context(this);
    }

    private sealed class Context(FakeTarget owner) : IProbeContext<double[]>
    {
        public OptimizerSnapshot<double[]>? Optimizer => owner.Adaptive
            ? new AdamSnapshot<double[]>(
                new AdamHyperparameters(owner.LearningRates.Rates[0]),
                Step: 10,
                ExpAvg: new double[owner.Curvatures.Length],
                ExpAvgSq: owner.ExpAvgSq ?? [.. Enumerable.Range(0, owner.Curvatures.Length).Select(i => 1e-4 * (i + 1))],
                MaxExpAvgSq: null)
            : new SgdSnapshot<double[]>(
                new SgdHyperparameters(owner.LearningRates.Rates[0], owner.Momentum),
                new double[owner.Curvatures.Length]);

        public string? OptimizerUnavailableReason => null;

        public IReadOnlyList<IWeightMatrix> Weights { get; } = [new DenseWeight("layer.weight", new double[,] { { 3, 0 }, { 0, 1 }, { 0, 0 } })];

        private LinearOperator<double[]>? _hessian;

        public LinearOperator<double[]> Hessian => _hessian ??= new DelegateOperator<double[]>(
            new CpuVectorSpace<double>(owner.Curvatures.Length),
            Apply,
            isSymmetric: true);

        public void Dispose() => owner.ContextsDisposed++;

        private void Apply(double[] x, double[] y)
        {
            if (owner.ThrowOnHvp(owner.HvpCalls++) is { } error)
            {
                throw error;
            }

            owner.DuringHvp?.Invoke();
            for (int i = 0; i < x.Length; i++)
            {
                double hx = owner.Curvatures[i] * x[i];
                if (owner.DenseHessian is { } h)
                {
                    hx = 0;
                    for (int j = 0; j < x.Length; j++)
                    {
                        hx += h[i, j] * x[j];
                    }
                }

                y[i] = owner.ReturnNaN ? double.NaN : hx;
            }
        }
    }
}

/// <summary>A dense weight matrix.</summary>
internal sealed class DenseWeight(string name, double[,] w) : IWeightMatrix
{
    public string Name => name;

    public int Rows => w.GetLength(0);

    public int Columns => w.GetLength(1);

    public void Multiply(ReadOnlySpan<double> x, Span<double> result)
    {
        for (int i = 0; i < Rows; i++)
        {
            double sum = 0;
            for (int j = 0; j < Columns; j++)
            {
                sum += w[i, j] * x[j];
            }

            result[i] = sum;
        }
    }

    public void MultiplyTranspose(ReadOnlySpan<double> y, Span<double> result)
    {
        for (int j = 0; j < Columns; j++)
        {
            double sum = 0;
            for (int i = 0; i < Rows; i++)
            {
                sum += w[i, j] * y[i];
            }

            result[j] = sum;
        }
    }

    public double FrobeniusNormSquared()
    {
        double sum = 0;
        foreach (double value in w)
        {
            sum += value * value;
        }

        return sum;
    }
}

/// <summary>Collects log entries.</summary>
internal sealed class ListLogger : ILogger, ILoggerFactory, ILoggerProvider
{
    public List<(LogLevel Level, EventId Id, string Message)> Entries { get; } = [];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (Entries)
        {
            Entries.Add((logLevel, eventId, formatter(state, exception)));
        }
    }

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }
}

/// <summary>A clock that advances only when told to.</summary>
internal sealed class ManualTime : TimeProvider
{
    private long _ticks = 1;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _ticks;

    public void Advance(TimeSpan by) => _ticks += by.Ticks;
}

/// <summary>A probe target that is also a step sensor whose every read runs <paramref name="onRead"/> (advancing a manual clock).</summary>
internal sealed class SensingTarget(FakeTarget inner, Action onRead) : IProbeTarget<double[]>, IStepSensor
{
    public List<long> ReadSteps { get; } = [];

    public string OptimizerName => inner.OptimizerName;

    public ILearningRateController? LearningRates => inner.LearningRates;

    public IReadOnlyList<string> SensorIndicators => [Indicators.UpdateToWeight];

    public IProbeContext<double[]> BeginProbe(CancellationToken cancellationToken) => ((IProbeTarget<double[]>)inner).BeginProbe(cancellationToken);

    public bool TryReadStep(long trainingStep, IDictionary<string, double> readings)
    {
        onRead();
        ReadSteps.Add(trainingStep);
        readings[Indicators.UpdateToWeight] = 1e-3;
        return true;
    }
}
