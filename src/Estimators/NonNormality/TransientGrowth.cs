using SpectralMonitor.Estimators.Dense;

namespace SpectralMonitor.Estimators.NonNormality;

/// <summary>The norms <c>‖Aᵏ‖₂</c> for <c>k = 1 … K</c> and their maximum.</summary>
/// <param name="Norms"><c>Norms[k − 1] = ‖Aᵏ‖₂</c>.</param>
/// <param name="Max"><c>max_{1≤k≤K} ‖Aᵏ‖₂</c>.</param>
/// <param name="Argmax">The smallest <c>k</c> at which <see cref="Max"/> is attained.</param>
/// <param name="Method">"dense" (powers of the full matrix) or "projected" (powers of a Krylov projection).</param>
public sealed record TransientGrowthResult(IReadOnlyList<double> Norms, double Max, int Argmax, string Method)
{
    /// <summary>The horizon <c>K</c>.</summary>
    public int Horizon => Norms.Count;
}

/// <summary>A matrix-free estimate of <c>‖Aᵏ‖₂</c> for one power <c>k</c>.</summary>
/// <param name="Power">The power <c>k</c>.</param>
/// <param name="Norm">The estimate; a lower bound on <c>‖Aᵏ‖₂</c> up to rounding (it is <c>√‖(Aᵏ)ᵀAᵏx‖</c> for a unit <c>x</c>).</param>
/// <param name="Convergence">Iterations, operator applications (forward plus transposed) and the final residual <c>‖(Aᵏ)ᵀAᵏx − σ²x‖</c>.</param>
public sealed record PowerNormEstimate(int Power, double Norm, ConvergenceInfo Convergence);

/// <summary>Options of <see cref="TransientGrowth.PowerIteration{TVec}"/>.</summary>
public sealed record PowerIterationOptions
{
    /// <summary>Stop when the relative change of the estimate between two steps is at most this (default 1e-10).</summary>
    public double Tolerance { get; init; } = 1e-10;

    /// <summary>Maximum power steps; each costs <c>2k</c> operator applications (default 300).</summary>
    public int MaxIterations { get; init; } = 300;

    /// <summary>Seed of the Gaussian start vector when none is given (default 1).</summary>
    public int Seed { get; init; } = 1;
}

/// <summary>
/// Transient growth <c>‖Aᵏ‖₂</c>: exact for dense matrices, matrix-free by power iteration, and cheaply from the
/// projected (Hessenberg) matrix of an Arnoldi run.
/// </summary>
public static class TransientGrowth
{
    /// <summary>Exact <c>‖Aᵏ‖₂</c>, <c>k = 1 … horizon</c>: powers by repeated multiplication, 2-norms by SVD.</summary>
    /// <param name="matrix">A square, finite matrix.</param>
    /// <param name="horizon">The largest power <c>K ≥ 1</c>.</param>
    /// <returns>All norms with their maximum and argmax.</returns>
    /// <exception cref="ArgumentException">The matrix is invalid or <paramref name="horizon"/> is less than 1.</exception>
    public static TransientGrowthResult Dense(double[,] matrix, int horizon) => Compute(matrix, horizon, "dense");

    /// <summary>
    /// <c>‖Hᵏ‖₂</c> of a projected matrix <c>H = QᵀAQ</c> (an Arnoldi Hessenberg matrix). This is the transient growth of
    /// the compression of <c>A</c> to the Krylov space, not of <c>A</c>: for a Krylov space that is (nearly) invariant it
    /// equals the restriction <c>‖Aᵏ|_K‖</c>, which is a lower bound on <c>‖Aᵏ‖₂</c>; in general it is only a
    /// lower-bound-style estimate of <c>A</c>'s growth, cheap (no operator application) and typically of the right
    /// order when the leading Ritz values have converged.
    /// </summary>
    /// <param name="projectedMatrix">The projected matrix, square and finite.</param>
    /// <param name="horizon">The largest power <c>K ≥ 1</c>.</param>
    /// <returns>All norms with their maximum and argmax (<see cref="TransientGrowthResult.Method"/> is "projected").</returns>
    /// <exception cref="ArgumentException">The matrix is invalid or <paramref name="horizon"/> is less than 1.</exception>
    public static TransientGrowthResult FromProjectedMatrix(double[,] projectedMatrix, int horizon) =>
        Compute(projectedMatrix, horizon, "projected");

    /// <summary>
    /// Matrix-free <c>‖Aᵏ‖₂</c> by power iteration on <c>(Aᵏ)ᵀAᵏ</c>: each step applies <c>A</c> <c>k</c> times and
    /// <c>Aᵀ</c> <c>k</c> times. Non-convergence and non-finite operator output are reported in the status.
    /// </summary>
    /// <typeparam name="TVec">The backend's vector type.</typeparam>
    /// <param name="operator">The operator; must support <see cref="LinearOperator{TVec}.ApplyTranspose"/>.</param>
    /// <param name="power">The power <c>k ≥ 1</c>.</param>
    /// <param name="options">Tolerance, iteration cap and seed; null for defaults.</param>
    /// <param name="startVector">Start vector (not modified); null for a seeded Gaussian vector.</param>
    /// <param name="cancellationToken">Cancels between power steps (status <see cref="ConvergenceStatus.Cancelled"/>).</param>
    /// <returns>The estimate with its convergence record.</returns>
    /// <exception cref="ArgumentException"><paramref name="power"/> is less than 1, or an option is out of range.</exception>
    /// <exception cref="NotSupportedException">The operator has no transpose.</exception>
    public static PowerNormEstimate PowerIteration<TVec>(
        LinearOperator<TVec> @operator,
        int power,
        PowerIterationOptions? options = null,
        TVec? startVector = null,
        CancellationToken cancellationToken = default)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(@operator);
        options ??= new PowerIterationOptions();
        Validate(@operator, power, options);
        var space = @operator.Space;
        var x = space.CreateVector();
        var a = space.CreateVector();
        var b = space.CreateVector();
        try
        {
            if (startVector is null)
            {
                space.FillRandom(x, RandomKind.Gaussian, options.Seed);
            }
            else
            {
                space.Copy(startVector, x);
            }

            double start = space.Norm(x);
            if (!double.IsFinite(start) || start == 0)
            {
                return new PowerNormEstimate(power, double.NaN, Info(ConvergenceStatus.Breakdown, "The start vector is zero or not finite.", double.NaN, 0, 0));
            }

            space.Scale(x, 1 / start);
            return Iterate(@operator, power, options, x, a, b, cancellationToken);
        }
        finally
        {
            space.Release(x);
            space.Release(a);
            space.Release(b);
        }
    }

    private static void Validate<TVec>(LinearOperator<TVec> @operator, int power, PowerIterationOptions options)
        where TVec : class
    {
        if (power < 1)
        {
            throw new ArgumentException($"power must be at least 1; got {power}.", nameof(power));
        }

        if (!(options.Tolerance > 0) || options.MaxIterations < 1)
        {
            throw new ArgumentException($"options need Tolerance > 0 and MaxIterations ≥ 1; got Tolerance = {options.Tolerance}, MaxIterations = {options.MaxIterations}.", nameof(options));
        }

        if (!@operator.SupportsTranspose)
        {
            throw new NotSupportedException($"Power iteration on (Aᵏ)ᵀAᵏ needs ApplyTranspose; {@operator.GetType().Name} does not support it.");
        }
    }

    /// <summary>The power steps from the unit vector <paramref name="x"/>, with <paramref name="a"/> and <paramref name="b"/> as work vectors.</summary>
    private static PowerNormEstimate Iterate<TVec>(LinearOperator<TVec> @operator, int power, PowerIterationOptions options, TVec x, TVec a, TVec b, CancellationToken cancellationToken)
        where TVec : class
    {
        var space = @operator.Space;
        double previous = double.NaN;
        long applications = 0;
        for (int iteration = 1; iteration <= options.MaxIterations; iteration++)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return new PowerNormEstimate(power, previous, Info(ConvergenceStatus.Cancelled, "Cancelled by the caller.", double.NaN, iteration - 1, applications));
            }

            var (back, forward) = Apply(@operator, power, x, a, b);
            applications += 2L * power;
            double squared = space.Norm(back);
            if (!double.IsFinite(forward) || !double.IsFinite(squared))
            {
                return new PowerNormEstimate(power, previous, Info(ConvergenceStatus.NonFiniteOperatorOutput, "The operator returned a non-finite vector.", double.NaN, iteration, applications));
            }

            if (squared == 0)
            {
                return new PowerNormEstimate(power, 0, Info(ConvergenceStatus.Converged, "Aᵏ maps the iterate to zero: ‖Aᵏ‖ is estimated as 0 (Aᵏ = 0 or the start vector lies in its null space).", 0, iteration, applications));
            }

            // ‖(Aᵏ)ᵀAᵏx‖ ≥ ‖Aᵏx‖² for unit x and both tend to σ_max²: the first is the tighter lower bound.
            double estimate = Math.Sqrt(squared);
            space.Axpy(-forward * forward, x, back);
            double residual = space.Norm(back);
            space.Axpy(forward * forward, x, back);
            space.Scale(back, 1 / squared);
            space.Copy(back, x);
            if (iteration > 1 && Math.Abs(estimate - previous) <= options.Tolerance * estimate)
            {
                return new PowerNormEstimate(power, estimate, Info(ConvergenceStatus.Converged, $"Relative change below {options.Tolerance:G3}.", residual, iteration, applications));
            }

            previous = estimate;
            if (iteration == options.MaxIterations)
            {
                return new PowerNormEstimate(power, estimate, Info(ConvergenceStatus.MaxIterationsReached, $"No convergence to {options.Tolerance:G3} in {options.MaxIterations} power steps.", residual, iteration, applications));
            }
        }

        throw new InvalidOperationException("Unreachable: the loop returns on its last iteration.");
    }

    /// <summary>(Aᵀ)ᵏAᵏx, ping-ponging between the two work vectors; returns the vector holding it and ‖Aᵏx‖.</summary>
    private static (TVec Back, double Forward) Apply<TVec>(LinearOperator<TVec> @operator, int power, TVec x, TVec a, TVec b)
        where TVec : class
    {
        TVec current = a;
        TVec spare = b;
        @operator.Apply(x, current);
        for (int step = 1; step < power; step++)
        {
            @operator.Apply(current, spare);
            (current, spare) = (spare, current);
        }

        double forward = @operator.Space.Norm(current);
        for (int step = 0; step < power; step++)
        {
            @operator.ApplyTranspose(current, spare);
            (current, spare) = (spare, current);
        }

        return (current, forward);
    }

    private static ConvergenceInfo Info(ConvergenceStatus status, string reason, double residual, int iterations, long applications) =>
        new(status, reason, status == ConvergenceStatus.Converged ? 1 : 0, [residual], iterations, applications);

    private static TransientGrowthResult Compute(double[,] matrix, int horizon, string method)
    {
        DenseLinearAlgebra.CheckSquare(matrix, nameof(matrix));
        if (horizon < 1)
        {
            throw new ArgumentException($"horizon must be at least 1; got {horizon}.", nameof(horizon));
        }

        var norms = new double[horizon];
        var power = (double[,])matrix.Clone();
        double max = double.NegativeInfinity;
        int argmax = 1;
        for (int k = 1; k <= horizon; k++)
        {
            if (k > 1)
            {
                power = DenseLinearAlgebra.Multiply(power, matrix);
            }

            double norm = DenseLinearAlgebra.TwoNorm(power);
            norms[k - 1] = norm;
            if (norm > max)
            {
                max = norm;
                argmax = k;
            }

            if (!double.IsFinite(norm))
            {
                // Overflow: later powers are not meaningful either.
                for (int j = k; j < horizon; j++)
                {
                    norms[j] = double.PositiveInfinity;
                }

                break;
            }
        }

        return new TransientGrowthResult(norms, max, argmax, method);
    }
}
