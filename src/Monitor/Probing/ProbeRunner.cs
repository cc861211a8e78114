using Microsoft.Extensions.Logging;
using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Dense;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.Modes;
using SpectralMonitor.Estimators.NonNormality;
using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Telemetry;

namespace SpectralMonitor.Probing;

/// <summary>Runs one probe of a target; never throws (failures become failed <see cref="ProbeResult"/>s).</summary>
internal interface IProbeRunner : IDisposable
{
    string OptimizerName { get; }

    ILearningRateController? LearningRates { get; }

    /// <summary>Whether the latest probe's curvature operator was preconditioned (Adam, RMSprop).</summary>
    bool IsAdaptive { get; }

    ProbeResult Run(long step, TimeProvider time, long startedTimestamp, CancellationToken cancellationToken);
}

/// <summary>
/// The structured probe (DESIGN.md §2–§3): warm-started Lanczos on the optimizer's curvature operator (H̃, or
/// P^½H̃P^½ for adaptive optimizers), optional quadrature nodes of the bulk, the closed-form mode analysis of J on
/// those curvatures, the commutator norm, and the weight matrices' top singular values. Device memory: the Krylov
/// basis (<see cref="StabilityMonitorOptions.KrylovDimension"/> + 1 vectors), the warm-start basis
/// (<see cref="StabilityMonitorOptions.TopModes"/> vectors) and a few work vectors.
/// </summary>
internal sealed class ProbeRunner<TVec> : IProbeRunner
    where TVec : class
{
    private readonly IProbeTarget<TVec> _target;
    private readonly StabilityMonitorOptions _options;
    private readonly ILogger _logger;
    private readonly Dictionary<string, double[]> _singularVectors = new(StringComparer.Ordinal);
    private IBasis<TVec>? _warmStart;
    private bool _unsupportedLogged;
    private int _probes;

    public ProbeRunner(IProbeTarget<TVec> target, StabilityMonitorOptions options, ILogger logger)
    {
        _target = target;
        _options = options;
        _logger = logger;
    }

    public string OptimizerName => _target.OptimizerName;

    public ILearningRateController? LearningRates => _target.LearningRates;

    public bool IsAdaptive { get; private set; }

    public ProbeResult Run(long step, TimeProvider time, long startedTimestamp, CancellationToken cancellationToken)
    {
        var indicators = new Dictionary<string, double>(StringComparer.Ordinal);
        var weights = new List<WeightReading>();
        ConvergenceInfo? convergence = null;
        string path = "curvature-only";
        long hvps = 0;
        LinearOperator<TVec>? hessian = null;
        long hvpsBefore = 0;
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var context = _target.BeginProbe(cancellationToken);
            hessian = context.Hessian;
            hvpsBefore = hessian.TotalApplications;
            var snapshot = context.Optimizer;
            if (snapshot is null && !_unsupportedLogged)
            {
                _unsupportedLogged = true;
                Log.OptimizerUnsupported(_logger, context.OptimizerUnavailableReason ?? "the optimizer is not one the monitor can linearize");
            }

            path = snapshot is null ? "curvature-only" : "structured";
            IsAdaptive = snapshot is AdamSnapshot<TVec> or RmsPropSnapshot<TVec>;
            using var curvature = snapshot is null ? null : UpdateOperators.CreatePreconditionedHessian(snapshot, hessian);
            LinearOperator<TVec> operatorForSpectrum = curvature is null ? hessian : curvature;
            var block = snapshot is null ? null : UpdateBlock.For(snapshot);

            var curvatures = new List<double>();
            if (_options.Estimators.HasFlag(ProbeEstimators.Sharpness))
            {
                var eigen = TopEigenvalues(operatorForSpectrum, hessian, hvpsBefore, cancellationToken);
                convergence = eigen.Convergence;
                if (eigen.Convergence.Status is ConvergenceStatus.NonFiniteOperatorOutput or ConvergenceStatus.Breakdown or ConvergenceStatus.Cancelled)
                {
                    return Failed(step, path, $"the eigensolver ended with {eigen.Convergence.Status}: {eigen.Convergence.Reason}", time, startedTimestamp, hessian.TotalApplications - hvpsBefore, convergence);
                }

                if (eigen.Eigenvalues.Count == 0)
                {
                    return Failed(step, path, "the eigensolver returned no eigenvalue within the HVP budget", time, startedTimestamp, hessian.TotalApplications - hvpsBefore, convergence);
                }

                curvatures.AddRange(eigen.Eigenvalues);
                indicators[Indicators.Sharpness] = eigen.Eigenvalues[0];
                if (block is not null)
                {
                    indicators[Indicators.SharpnessEdge] = block.StabilityEdge;
                    indicators[Indicators.SharpnessToEdge] = eigen.Eigenvalues[0] / block.StabilityEdge;
                }
            }

            if (_options.Estimators.HasFlag(ProbeEstimators.SpectralDensity) && Remaining(hessian, hvpsBefore) >= _options.DensitySteps * _options.DensityProbes)
            {
                var density = StochasticLanczosQuadrature.Estimate(
                    operatorForSpectrum,
                    new SlqOptions { Probes = _options.DensityProbes, Steps = Math.Min(_options.DensitySteps, operatorForSpectrum.Dimension), Seed = _probes },
                    cancellationToken);
                if (density.Convergence.Status == ConvergenceStatus.NonFiniteOperatorOutput)
                {
                    return Failed(step, path, "the spectral density estimate saw a non-finite Hessian-vector product", time, startedTimestamp, hessian.TotalApplications - hvpsBefore, convergence);
                }

                curvatures.AddRange(density.Nodes);
            }

            if (block is not null && curvatures.Count > 0 && _options.Estimators.HasFlag(ProbeEstimators.Modes))
            {
                var modes = ModeAnalysis.Analyze(block, curvatures, Math.Min(_options.TopModes, curvatures.Count), _options.Horizon);
                indicators[Indicators.SpectralRadius] = modes.SpectralRadius;
                indicators[Indicators.OscillatoryRadius] = modes.OscillatoryRadius;
                indicators[Indicators.MonotoneRadius] = modes.MonotoneRadius;
                indicators[Indicators.EigenvectorCondition] = modes.EigenvectorCondition;
                indicators[Indicators.TopEigenvectorCondition] = modes.TopEigenvectorCondition;
                indicators[Indicators.TransientGrowth] = modes.TransientGrowth;
                indicators[Indicators.EdgeDistance] = modes.EdgeDistance;
                if (double.IsFinite(modes.ExceptionalPointDistance))
                {
                    indicators[Indicators.ExceptionalPointDistance] = modes.ExceptionalPointDistance;
                }
            }

            if (_options.Estimators.HasFlag(ProbeEstimators.Commutator) && IsAdaptive && curvature is not null && Remaining(hessian, hvpsBefore) >= 2 * _options.CommutatorProbes)
            {
                var commutator = PreconditionerCommutator.Estimate(curvature, _options.CommutatorProbes, seed: 1 + (_probes * _options.CommutatorProbes), cancellationToken);
                indicators[Indicators.CommutatorNorm] = commutator.Value;
            }

            if (_options.Estimators.HasFlag(ProbeEstimators.Arnoldi) && snapshot is not null && Remaining(hessian, hvpsBefore) >= Math.Min(_options.KrylovDimension, 2 * hessian.Dimension))
            {
                path = path == "structured" && indicators.ContainsKey(Indicators.SpectralRadius) ? "structured+generic" : "generic";
                string? problem = GenericPath(snapshot, hessian, hvpsBefore, indicators, cancellationToken);
                if (problem is not null)
                {
                    return Failed(step, path, problem, time, startedTimestamp, hessian.TotalApplications - hvpsBefore, convergence);
                }
            }

            if (_options.Estimators.HasFlag(ProbeEstimators.WeightSingularValues))
            {
                foreach (var weight in context.Weights)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    weights.Add(SingularValue(weight));
                }

                if (weights.Count > 0)
                {
                    indicators[Indicators.WeightTopSingularValue] = weights.Max(w => w.TopSingularValue);
                    indicators[Indicators.WeightStableRank] = weights.Min(w => w.StableRank);
                }
            }

            hvps = hessian.TotalApplications - hvpsBefore;
            foreach (var (name, value) in indicators)
            {
                if (double.IsNaN(value))
                {
                    return Failed(step, path, $"indicator {name} came out NaN", time, startedTimestamp, hvps, convergence);
                }
            }

            _probes++;
            return new ProbeResult(step, ProbeStatus.Succeeded, null, path, time.GetElapsedTime(startedTimestamp), hvps, indicators, weights, convergence);
        }
        catch (OperationCanceledException)
        {
            return Failed(step, path, "cancelled (probe timeout or monitor disposal)", time, startedTimestamp, Spent(hessian, hvpsBefore), convergence);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return Failed(step, path, $"{ex.GetType().Name}: {ex.Message}", time, startedTimestamp, Spent(hessian, hvpsBefore), convergence);
        }
    }

    public void Dispose()
    {
        _warmStart?.Dispose();
        _warmStart = null;
    }

    private static long Spent(LinearOperator<TVec>? hessian, long before) => hessian is null ? 0 : hessian.TotalApplications - before;

    private static ProbeResult Failed(long step, string path, string reason, TimeProvider time, long started, long hvps, ConvergenceInfo? convergence) =>
        new(step, ProbeStatus.Failed, reason, path, time.GetElapsedTime(started), hvps, new Dictionary<string, double>(), [], convergence);

    private long Remaining(LinearOperator<TVec> hessian, long before) => _options.MaxHvpsPerProbe - (hessian.TotalApplications - before);

    private SymmetricEigenResult TopEigenvalues(LinearOperator<TVec> op, LinearOperator<TVec> hessian, long before, CancellationToken cancellationToken)
    {
        int n = op.Dimension;
        int k = Math.Min(_options.TopModes, n);
        int m = Math.Min(n, Math.Max(_options.KrylovDimension, k + 2));
        if (_warmStart is not null && (_warmStart.Capacity < k || (_warmStart.Count > 0 && !op.Space.IsCompatible(_warmStart[0]))))
        {
            // The model changed shape, device or dtype (or TopModes grew): the old Ritz vectors no longer apply.
            _warmStart.Dispose();
            _warmStart = null;
        }

        _warmStart ??= op.Space.CreateBasis(k);
        var start = Enumerable.Range(0, _warmStart.Count).Select(i => _warmStart[i]).ToArray();
        var options = new LanczosOptions
        {
            Count = k,
            Which = EigenvalueSelection.LargestAlgebraic,
            KrylovDimension = m == n ? n : m,
            Tolerance = _options.Tolerance,
            StoppingRule = LanczosStoppingRule.EigenvalueError,
            MaxApplications = Math.Max(1, Remaining(hessian, before)),
            Seed = _probes,
        };
        return Lanczos.Solve(op, options, start.Length > 0 ? start : null, _warmStart, cancellationToken);
    }

    /// <summary>
    /// The generic path: Arnoldi on J itself (frozen preconditioner), then ρ and its split from the Ritz values, κ over the
    /// converged oscillatory Ritz vectors, and transient growth and the Kreiss constant of the projected matrix restricted
    /// to its stable invariant subspace. Values the structured path already set are kept (they are exact per mode).
    /// </summary>
    private string? GenericPath(OptimizerSnapshot<TVec> snapshot, LinearOperator<TVec> hessian, long before, Dictionary<string, double> indicators, CancellationToken cancellationToken)
    {
        using var update = UpdateOperators.Create(snapshot, hessian);
        int dimension = update.Dimension;
        int k = Math.Min(_options.TopModes, Math.Max(1, dimension - 2));
        int m = Math.Min(dimension, Math.Max(_options.KrylovDimension, k + 2));
        var result = Arnoldi.Solve(
            update,
            new ArnoldiOptions
            {
                Count = k,
                Which = EigenvalueSelection.LargestMagnitude,
                KrylovDimension = m,
                Tolerance = _options.Tolerance,
                MaxApplications = Math.Max(1, Remaining(hessian, before)),
                Seed = _probes,
            },
            cancellationToken: cancellationToken);
        if (result.Convergence.Status is ConvergenceStatus.NonFiniteOperatorOutput or ConvergenceStatus.Breakdown or ConvergenceStatus.Cancelled)
        {
            return $"Arnoldi on J ended with {result.Convergence.Status}: {result.Convergence.Reason}";
        }

        var values = result.Eigenvalues;
        if (values.Count == 0)
        {
            return "Arnoldi on J returned no Ritz value within the HVP budget";
        }

        indicators.TryAdd(Indicators.SpectralRadius, values.Max(z => z.Magnitude));
        indicators.TryAdd(Indicators.OscillatoryRadius, values.Where(z => z.Real < 0).Select(z => z.Magnitude).DefaultIfEmpty(0).Max());
        indicators.TryAdd(Indicators.MonotoneRadius, values.Where(z => z.Real >= 0).Select(z => z.Magnitude).DefaultIfEmpty(0).Max());

        var oscillatory = Enumerable.Range(0, values.Count)
            .Where(i => values[i].Real < 0 && i < result.Convergence.ResidualNorms.Count && result.Convergence.ResidualNorms[i] <= _options.Tolerance * Math.Max(values[i].Magnitude, 1e-300))
            .ToArray();
        if (oscillatory.Length > 0)
        {
            indicators[Indicators.OscillatoryEigenvectorCondition] = EigenvectorCondition.FromRitzCoordinates(result.RitzCoordinates, oscillatory).Value;
        }

        var projected = result.ProjectedMatrix;
        indicators.TryAdd(Indicators.TransientGrowth, TransientGrowth.FromProjectedMatrix(projected, _options.Horizon).Max);
        var stable = StablePart(projected);
        if (stable is not null)
        {
            indicators[Indicators.KreissConstant] = KreissConstant.Dense(stable).Value;
        }

        return null;
    }

    /// <summary>The projected matrix restricted to the invariant subspace of its eigenvalues inside the unit disk (null if none).</summary>
    private static double[,]? StablePart(double[,] projected)
    {
        var schur = ComplexSchur.Decompose(projected);
        int n = projected.GetLength(0);
        var selected = new bool[n];
        for (int i = 0; i < n; i++)
        {
            selected[i] = schur.T[i, i].Magnitude < 1;
        }

        int count = selected.Count(s => s);
        if (count == 0)
        {
            return null;
        }

        if (count == n)
        {
            return projected;
        }

        var u = ComplexSchur.RealInvariantSubspace(schur, selected);
        var restricted = new double[count, count];
        for (int a = 0; a < count; a++)
        {
            for (int b = 0; b < count; b++)
            {
                double sum = 0;
                for (int i = 0; i < n; i++)
                {
                    double row = 0;
                    for (int j = 0; j < n; j++)
                    {
                        row += projected[i, j] * u[j, b];
                    }

                    sum += u[i, a] * row;
                }

                restricted[a, b] = sum;
            }
        }

        return restricted;
    }

    private WeightReading SingularValue(IWeightMatrix weight)
    {
        // Power iteration on WᵀW, warm-started from the previous probe's right singular vector.
        if (!_singularVectors.TryGetValue(weight.Name, out var v) || v.Length != weight.Columns)
        {
            v = new double[weight.Columns];
            var random = new Random(weight.Name.Length + weight.Columns);
            for (int i = 0; i < v.Length; i++)
            {
                v[i] = random.NextDouble() - 0.5;
            }

            _singularVectors[weight.Name] = v;
        }

        var u = new double[weight.Rows];
        double sigma = 0;
        for (int iteration = 0; iteration < _options.SingularValueIterations; iteration++)
        {
            Normalize(v);
            weight.Multiply(v, u);
            sigma = Norm(u);
            if (sigma == 0 || !double.IsFinite(sigma))
            {
                break;
            }

            weight.MultiplyTranspose(u, v);
        }

        Normalize(v);
        double frobenius = weight.FrobeniusNormSquared();
        return new WeightReading(weight.Name, sigma, sigma > 0 ? frobenius / (sigma * sigma) : double.NaN);
    }

    private static double Norm(ReadOnlySpan<double> x)
    {
        double sum = 0;
        foreach (double value in x)
        {
            sum += value * value;
        }

        return Math.Sqrt(sum);
    }

    private static void Normalize(Span<double> x)
    {
        double norm = Norm(x);
        if (norm > 0 && double.IsFinite(norm))
        {
            foreach (ref double value in x)
            {
                value /= norm;
            }
        }
    }
}
