using SpectralMonitor.Estimators.Cpu;
using SpectralMonitor.Estimators.Krylov;
using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Dense;

/// <summary>
/// Largest eigenvalue of many nearby real symmetric matrices given by their products, by the shared Krylov–Schur
/// restart loop (<see cref="KrylovSchurDriver"/>, thick-restart Lanczos) on CPU vectors. Used by the numerical-radius
/// search, which needs <c>λ_max</c> of one symmetric matrix of size <c>2n</c> per angle: a full MathNet EVD
/// (<c>O(n³)</c> with vectors) per angle would dominate, while this costs a few dozen <c>O(n²)</c> products, reuses one
/// factorization's storage across angles, and warm-starts from the previous angle's Ritz vector.
/// </summary>
/// <remarks>
/// The convergence test is absolute, <c>‖M·x − θ·x‖ ≤ 10⁻¹¹·scale</c> with <c>scale ≥ ‖M‖</c> (the floor of
/// <see cref="SymmetricRitz.Analyze"/>): λ_max may be near zero for some angles, where a relative test would never stop.
/// </remarks>
internal sealed class DenseSymmetricLanczos : IDisposable
{
    private const int MaxRestarts = 50;
    private const double Tolerance = 1e-11;
    private const double GenericWeight = 0.1;
    private readonly CpuVectorSpace<double> _space;
    private readonly KrylovSchurFactorization<double[]> _factorization;
    private readonly int _keep;
    private readonly double[] _previous;
    private readonly double[] _generic;
    private readonly double[] _start;
    private Action<double[], double[]> _apply = (_, _) => { };

    internal DenseSymmetricLanczos(int dimension)
    {
        _space = new CpuVectorSpace<double>(dimension);
        var op = new DelegateOperator<double[]>(_space, (x, y) => _apply(x, y), isSymmetric: true);
        int m = Math.Min(dimension, 100);
        _factorization = new KrylovSchurFactorization<double[]>(op, m, symmetric: true);
        _keep = KrylovOptionChecks.KeepCount(1, m);
        _previous = new double[dimension];
        _start = new double[dimension];
        _generic = new double[dimension];
        for (int i = 0; i < dimension; i++)
        {
            _generic[i] = 1 + (0.5 * Math.Sin(0.9 * (i + 1)));
        }

        DenseVector.Normalize(_generic);
    }

    /// <summary>
    /// λ_max of the symmetric matrix whose product <c>apply(x, y): y ← Mx</c> is given; <paramref name="scale"/> bounds
    /// ‖M‖. Also says whether the Ritz value met the tolerance within the restart cap.
    /// </summary>
    internal (double Value, bool Converged) LargestEigenvalue(Action<double[], double[]> apply, double scale)
    {
        _apply = apply;

        // The previous Ritz vector (warm start) plus a fixed generic vector: the warm start alone can be an exact
        // eigenvector of a different eigenvalue (for a normal matrix every Re(e^{iθ}A) shares eigenvectors), which
        // would end the Krylov space, converged, before it sees the top eigenvalue.
        _previous.AsSpan().CopyTo(_start);
        DenseVector.Axpy(GenericWeight, _generic, _start);
        _factorization.Initialize(_start);
        var outcome = KrylovSchurDriver.Run(
            _factorization,
            new KrylovSchurLimits(Count: 1, Tolerance, MaxRestarts, MaxApplications: 0, Seed: 0),
            f => SymmetricRitz.Analyze(f, EigenvalueSelection.LargestAlgebraic, 1, Tolerance, floor: scale),
            ritz => ritz.KeptVectors(_keep),
            CancellationToken.None);
        int top = outcome.Ritz.Order[0];
        _factorization.CombineBasis(outcome.Ritz.Coordinates(top), _previous);
        DenseVector.Normalize(_previous);
        return (outcome.Ritz.Values[top], outcome.Status == ConvergenceStatus.Converged);
    }

    /// <inheritdoc/>
    public void Dispose() => _factorization.Dispose();
}
