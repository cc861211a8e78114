using MathNet.Numerics.LinearAlgebra;

namespace SpectralMonitor.Estimators.Dense;

/// <summary>
/// Largest eigenvalue of a real symmetric matrix given by its product, by explicitly restarted Lanczos with full
/// reorthogonalization. Used by the numerical-radius search, which needs <c>λ_max</c> of many nearby symmetric
/// matrices of size <c>2n</c>: a full MathNet EVD (<c>O(n³)</c> with vectors) per angle would dominate, while this
/// costs a few dozen <c>O(n²)</c> products and warm-starts from the previous angle's eigenvector.
/// </summary>
internal sealed class DenseSymmetricLanczos
{
    private const int MaxRestarts = 50;
    private readonly int _n;
    private readonly int _m;
    private readonly double[][] _basis;
    private readonly double[] _w;
    private readonly double[] _start;
    private readonly double[] _generic;

    internal DenseSymmetricLanczos(int dimension)
    {
        _n = dimension;
        _m = Math.Min(dimension, 100);
        _basis = new double[_m + 1][];
        for (int i = 0; i <= _m; i++)
        {
            _basis[i] = new double[dimension];
        }

        _w = new double[dimension];
        _start = new double[dimension];
        _generic = new double[dimension];
        for (int i = 0; i < dimension; i++)
        {
            _generic[i] = 1 + (0.5 * Math.Sin(0.9 * (i + 1)));
        }

        Normalize(_generic);
    }

    /// <summary>λ_max of the symmetric matrix whose product <c>apply(x, y): y ← Mx</c> is given; <paramref name="scale"/> bounds ‖M‖.</summary>
    internal double LargestEigenvalue(Action<double[], double[]> apply, double scale)
    {
        double best = double.NegativeInfinity;
        for (int restart = 0; restart < MaxRestarts; restart++)
        {
            var (value, converged) = Cycle(apply, scale, mixGeneric: restart == 0);
            best = Math.Max(best, value);
            if (converged)
            {
                break;
            }
        }

        return best;
    }

    private (double Value, bool Converged) Cycle(Action<double[], double[]> apply, double scale, bool mixGeneric)
    {
        var alpha = new double[_m];
        var beta = new double[_m];
        // The previous Ritz vector (warm start) plus a fixed generic vector: the warm start alone can be an exact
        // eigenvector of a different eigenvalue (e.g. for a normal matrix every Re(e^{iθ}A) shares eigenvectors),
        // which would end the Krylov space before it sees the top eigenvalue.
        // Later restarts of the same call continue from the Ritz vector alone.
        Copy(_start, _basis[0]);
        if (mixGeneric)
        {
            Axpy(0.1, _generic, _basis[0]);
        }

        Normalize(_basis[0]);
        int k = 0;
        bool invariant = false;
        for (; k < _m; k++)
        {
            apply(_basis[k], _w);
            // Full reorthogonalization, twice (classical Gram–Schmidt is not enough on its own).
            for (int pass = 0; pass < 2; pass++)
            {
                for (int j = 0; j <= k; j++)
                {
                    double c = Dot(_basis[j], _w);
                    if (j == k)
                    {
                        alpha[k] += c;
                    }

                    Axpy(-c, _basis[j], _w);
                }
            }

            double b = Math.Sqrt(Dot(_w, _w));
            beta[k] = b;
            if (b <= 1e-14 * scale)
            {
                invariant = true;
                k++;
                break;
            }

            if (k + 1 <= _m)
            {
                for (int i = 0; i < _n; i++)
                {
                    _basis[k + 1][i] = _w[i] / b;
                }
            }
        }

        int size = k;
        var t = Matrix<double>.Build.Dense(size, size);
        for (int i = 0; i < size; i++)
        {
            t[i, i] = alpha[i];
            if (i + 1 < size)
            {
                t[i, i + 1] = beta[i];
                t[i + 1, i] = beta[i];
            }
        }

        var evd = t.Evd(Symmetricity.Symmetric);
        int top = 0;
        for (int i = 1; i < size; i++)
        {
            if (evd.EigenValues[i].Real > evd.EigenValues[top].Real)
            {
                top = i;
            }
        }

        double value = evd.EigenValues[top].Real;
        var s = evd.EigenVectors.Column(top);

        // Ritz vector: the next cycle's (and the next call's) start.
        Array.Clear(_start);
        for (int j = 0; j < size; j++)
        {
            Axpy(s[j], _basis[j], _start);
        }

        double residual = invariant ? 0 : Math.Abs(beta[size - 1] * s[size - 1]);
        return (value, invariant || size == _n || residual <= 1e-11 * scale);
    }

    private static double Dot(double[] x, double[] y)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sum += x[i] * y[i];
        }

        return sum;
    }

    private static void Axpy(double a, double[] x, double[] y)
    {
        for (int i = 0; i < x.Length; i++)
        {
            y[i] += a * x[i];
        }
    }

    private static void Copy(double[] source, double[] destination) => Array.Copy(source, destination, source.Length);

    private static void Normalize(double[] x)
    {
        double norm = Math.Sqrt(Dot(x, x));
        for (int i = 0; i < x.Length; i++)
        {
            x[i] /= norm;
        }
    }
}
