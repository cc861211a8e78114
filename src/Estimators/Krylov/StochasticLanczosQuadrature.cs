using MathNet.Numerics.LinearAlgebra;

namespace SpectralMonitor.Estimators.Krylov;

/// <summary>Options of <see cref="StochasticLanczosQuadrature.Estimate"/>.</summary>
public sealed record SlqOptions
{
    /// <summary>Number of Rademacher probe vectors (≥ 1). Default 10.</summary>
    public int Probes { get; init; } = 10;

    /// <summary>Lanczos steps per probe (≥ 1; at most <c>n</c> are taken). Each step is one operator application. Default 30.</summary>
    public int Steps { get; init; } = 30;

    /// <summary>Seed of the first probe; probe <c>i</c> uses <c>Seed + i</c>. Default 0.</summary>
    public int Seed { get; init; }
}

/// <summary>
/// A spectral density estimate by stochastic Lanczos quadrature: for each probe, the Gauss quadrature rule of the
/// spectral measure <c>μ_z = Σᵢ (uᵢᵀz)²/‖z‖² δ(λᵢ)</c> has the Ritz values as nodes and the squared first
/// components of the Ritz vectors as weights; the rules are pooled (each probe weighted 1/ProbeCount).
/// </summary>
/// <param name="Nodes">Quadrature nodes of every probe, concatenated (probe 0 first).</param>
/// <param name="Weights">Pooled weights, one per node, summing to 1.</param>
/// <param name="TraceEstimate">Hutchinson estimate of <c>tr(A) = n·Σ wᵢ·θᵢ</c> (exact per probe: <c>zᵀAz/‖z‖²·n</c>).</param>
/// <param name="ProbeTraces">Each probe's own estimate <c>zᵀAz</c> (their mean is <paramref name="TraceEstimate"/>; their spread measures its variance).</param>
/// <param name="ProbeCount">Probes completed.</param>
/// <param name="OperatorApplications">Operator applications spent.</param>
/// <param name="Convergence">Status (cancellation, non-finite output); residual norms are not applicable and empty.</param>
public sealed record SpectralDensityResult(
    IReadOnlyList<double> Nodes,
    IReadOnlyList<double> Weights,
    double TraceEstimate,
    IReadOnlyList<double> ProbeTraces,
    int ProbeCount,
    long OperatorApplications,
    ConvergenceInfo Convergence)
{
    /// <summary>
    /// The Gaussian-smoothed density <c>ρ(t) = Σᵢ wᵢ·φ_σ(t − θᵢ)</c> on <paramref name="grid"/> (it integrates to 1 over ℝ).
    /// </summary>
    /// <param name="grid">Points at which to evaluate the density.</param>
    /// <param name="sigma">Standard deviation of the Gaussian kernel, positive and finite.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="sigma"/> is not positive and finite.</exception>
    public double[] Density(ReadOnlySpan<double> grid, double sigma)
    {
        if (!(sigma > 0 && double.IsFinite(sigma)))
        {
            throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "sigma must be positive and finite.");
        }

        var density = new double[grid.Length];
        double normalization = 1 / (sigma * Math.Sqrt(2 * Math.PI));
        for (int g = 0; g < grid.Length; g++)
        {
            double sum = 0;
            for (int i = 0; i < Nodes.Count; i++)
            {
                double z = (grid[g] - Nodes[i]) / sigma;
                sum += Weights[i] * Math.Exp(-0.5 * z * z);
            }

            density[g] = sum * normalization;
        }

        return density;
    }
}

/// <summary>Stochastic Lanczos quadrature (Ubaru, Chen and Saad 2017) over the Krylov–Schur factorization.</summary>
public static class StochasticLanczosQuadrature
{
    /// <summary>Estimates the spectral density and trace of the symmetric operator <paramref name="op"/>.</summary>
    /// <typeparam name="TVec">The backend's vector type.</typeparam>
    /// <param name="op">A symmetric operator.</param>
    /// <param name="options">Probes, steps, seed.</param>
    /// <param name="cancellationToken">Checked before every operator application.</param>
    /// <returns>Pooled nodes and weights of the completed probes; a non-finite operator output or a cancellation is a status.</returns>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public static SpectralDensityResult Estimate<TVec>(LinearOperator<TVec> op, SlqOptions options, CancellationToken cancellationToken = default)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(op);
        Validate(options);
        int n = op.Dimension;
        int steps = Math.Min(options.Steps, n);
        var space = op.Space;
        var nodes = new List<double>();
        var rawWeights = new List<double>();
        var probeTraces = new List<double>();
        var status = ConvergenceStatus.Converged;
        string reason = $"{options.Probes} probes of {steps} Lanczos steps completed.";
        using var factorization = new KrylovSchurFactorization<TVec>(op, steps, symmetric: true);
        var probe = space.CreateVector();
        try
        {
            for (int p = 0; p < options.Probes; p++)
            {
                space.FillRandom(probe, RandomKind.Rademacher, unchecked(options.Seed + p));
                factorization.Initialize(probe);
                var outcome = factorization.Expand(steps, 0, cancellationToken);
                if (outcome == FactorizationStatus.NonFiniteOperatorOutput)
                {
                    status = ConvergenceStatus.NonFiniteOperatorOutput;
                    reason = $"The operator returned a non-finite value during probe {p}; results are from the {p} probes before it.";
                    break;
                }

                if (outcome == FactorizationStatus.Cancelled)
                {
                    status = ConvergenceStatus.Cancelled;
                    reason = $"Cancelled by the caller during probe {p}; results are from the {p} probes before it.";
                    break;
                }

                probeTraces.Add(n * GaussQuadrature(factorization.ProjectedMatrix(), nodes, rawWeights));
            }
        }
        finally
        {
            space.Release(probe);
        }

        return Pool(nodes, rawWeights, probeTraces, factorization.OperatorApplications, status, reason);
    }

    private static void Validate(SlqOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Probes < 1)
        {
            throw new ArgumentException($"SlqOptions.Probes is {options.Probes}; it must be ≥ 1.", nameof(options));
        }

        if (options.Steps < 1)
        {
            throw new ArgumentException($"SlqOptions.Steps is {options.Steps}; it must be ≥ 1.", nameof(options));
        }
    }

    /// <summary>
    /// Appends the Gauss rule of one probe (Ritz values of the tridiagonal <paramref name="projected"/>, squared first
    /// components of its eigenvectors) and returns <c>Σ wᵢθᵢ = e₁ᵀTe₁</c>. Steps short of the target mean an
    /// invariant subspace: its quadrature is exact.
    /// </summary>
    private static double GaussQuadrature(double[,] projected, List<double> nodes, List<double> weights)
    {
        var evd = Matrix<double>.Build.DenseOfArray(projected).Evd(Symmetricity.Symmetric);
        double trace = 0;
        for (int i = 0; i < projected.GetLength(0); i++)
        {
            double theta = evd.EigenValues[i].Real;
            double first = evd.EigenVectors[0, i];
            nodes.Add(theta);
            weights.Add(first * first);
            trace += first * first * theta;
        }

        return trace;
    }

    /// <summary>Pools the probes' rules (each probe weighted 1/completed) into the result.</summary>
    private static SpectralDensityResult Pool(List<double> nodes, List<double> rawWeights, List<double> probeTraces, long applications, ConvergenceStatus status, string reason)
    {
        int completed = probeTraces.Count;
        var weights = new double[rawWeights.Count];
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = rawWeights[i] / completed;
        }

        double traceEstimate = completed == 0 ? double.NaN : probeTraces.Average();
        var info = new ConvergenceInfo(status, reason, completed, [], completed, applications);
        return new SpectralDensityResult(nodes.ToArray(), weights, traceEstimate, probeTraces.ToArray(), completed, applications, info);
    }
}
