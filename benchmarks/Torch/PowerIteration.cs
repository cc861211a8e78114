using SpectralMonitor.Estimators;

namespace SpectralMonitor.Benchmarks.Torch;

/// <summary>The outcome of a power iteration.</summary>
/// <param name="Value">The last Rayleigh quotient.</param>
/// <param name="Applications">Operator applications.</param>
/// <param name="Stopped">Whether the stopping rule fired (false: the cap was reached).</param>
internal sealed record PowerIterationResult(double Value, int Applications, bool Stopped);

/// <summary>
/// Power iteration on a symmetric operator as PyHessian runs it: a random unit start, <c>v ← Av/‖Av‖</c>, the Rayleigh
/// quotient <c>θ = vᵀAv</c> each step; PyHessian stops when <c>|θ − θ_prev| &lt; tol·|θ_prev|</c>. With an oracle it
/// stops instead as soon as θ is truly within the tolerance of a known eigenvalue (the fair comparison).
/// </summary>
internal static class PowerIteration
{
    public static PowerIterationResult Run<TVec>(LinearOperator<TVec> op, double tolerance, int maxApplications, int seed, double? oracle = null)
        where TVec : class
    {
        var space = op.Space;
        var v = space.CreateVector();
        var w = space.CreateVector();
        try
        {
            space.FillRandom(v, RandomKind.Gaussian, seed);
            space.Scale(v, 1 / space.Norm(v));
            double previous = double.NaN;
            for (int i = 1; i <= maxApplications; i++)
            {
                op.Apply(v, w);
                double theta = space.Dot(v, w);
                bool done = oracle is double reference
                    ? Math.Abs(theta - reference) <= tolerance * Math.Abs(reference)
                    : i > 1 && Math.Abs(theta - previous) < tolerance * Math.Abs(previous);
                if (done || !double.IsFinite(theta))
                {
                    return new PowerIterationResult(theta, i, done);
                }

                previous = theta;
                double norm = space.Norm(w);
                space.Copy(w, v);
                space.Scale(v, 1 / norm);
            }

            return new PowerIterationResult(previous, maxApplications, false);
        }
        finally
        {
            space.Release(v);
            space.Release(w);
        }
    }
}
