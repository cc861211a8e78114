using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Estimators.Tests.Optimizers;

/// <summary>One optimizer configuration to linearize: a snapshot plus what the full-state operator needs.</summary>
internal sealed record OperatorCase(
    string Name,
    OptimizerSnapshot<double[]> Snapshot,
    UpdateLinearization Linearization,
    double[]? Gradient = null,
    double[]? Parameters = null);

/// <summary>Random symmetric Hessians and optimizer states, reproducible by seed.</summary>
internal static class OptimizerTestData
{
    internal const int Dimension = 6;

    internal static double[,] SymmetricMatrix(int n, int seed)
    {
        var random = new Random(seed);
        var h = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double v = (2 * random.NextDouble()) - 1;
                h[i, j] = v;
                h[j, i] = v;
            }
        }

        return h;
    }

    internal static double[] Normal(int n, Random random, double scale = 1)
    {
        var x = new double[n];
        for (int i = 0; i < n; i++)
        {
            double u1 = 1 - random.NextDouble();
            double u2 = random.NextDouble();
            x[i] = scale * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }

        return x;
    }

    internal static double[] Uniform(int n, Random random, double low, double high)
    {
        var x = new double[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = low + ((high - low) * random.NextDouble());
        }

        return x;
    }

    /// <summary>Names of every case, for [MemberData].</summary>
    internal static IEnumerable<string> AllNames => Cases(Dimension, new Random(0)).Select(c => c.Name);

    internal static OperatorCase Case(string name, int n, int seed) =>
        Cases(n, new Random(seed)).Single(c => c.Name == name);

    /// <summary>
    /// Every optimizer configuration the operators support. State is random but well inside the domain
    /// (second moments in [0.2, 1], so √ is smooth there).
    /// </summary>
    internal static IEnumerable<OperatorCase> Cases(int n, Random random)
    {
        const UpdateLinearization Frozen = UpdateLinearization.FrozenPreconditioner;
        const UpdateLinearization Full = UpdateLinearization.FullState;
        double[] V() => Uniform(n, random, 0.2, 1.0);
        double[] M() => Normal(n, random, 0.3);

        yield return new("sgd", new SgdSnapshot<double[]>(new SgdHyperparameters(0.1), null), Frozen);
        yield return new("sgd-wd-maximize", new SgdSnapshot<double[]>(new SgdHyperparameters(0.05, WeightDecay: 0.3, Maximize: true), null), Frozen);
        yield return new("sgd-momentum-dampening", new SgdSnapshot<double[]>(new SgdHyperparameters(0.1, Momentum: 0.9, Dampening: 0.3, WeightDecay: 0.01), M()), Frozen);
        yield return new("sgd-nesterov", new SgdSnapshot<double[]>(new SgdHyperparameters(0.1, Momentum: 0.8, Nesterov: true, WeightDecay: 0.02), M()), Full);
        yield return new("sgd-momentum-first-step", new SgdSnapshot<double[]>(new SgdHyperparameters(0.1, Momentum: 0.9, Dampening: 0.5), null), Frozen);
        yield return new("sgd-nesterov-first-step", new SgdSnapshot<double[]>(new SgdHyperparameters(0.1, Momentum: 0.9, Nesterov: true), null), Frozen);

        yield return new("adam", new AdamSnapshot<double[]>(new AdamHyperparameters(0.01), 7, M(), V(), null), Frozen);
        yield return new("adam-l2", new AdamSnapshot<double[]>(new AdamHyperparameters(0.01, Beta1: 0.8, Beta2: 0.99, WeightDecay: 0.1), 3, M(), V(), null), Frozen);
        yield return new("adamw", new AdamSnapshot<double[]>(new AdamHyperparameters(0.02, WeightDecay: 0.5, Decoupled: true), 12, M(), V(), null), Frozen);
        {
            var v = V();
            var max = v.Select((x, i) => i % 2 == 0 ? x * 1.5 : x * 0.5).ToArray();
            yield return new("adam-amsgrad", new AdamSnapshot<double[]>(new AdamHyperparameters(0.01, Amsgrad: true, Epsilon: 1e-3), 4, M(), v, max), Frozen);
        }

        yield return new("adam-beta1-zero", new AdamSnapshot<double[]>(new AdamHyperparameters(0.01, Beta1: 0, WeightDecay: 0.05), 2, M(), V(), null), Frozen);
        yield return new("adamw-beta1-zero-maximize", new AdamSnapshot<double[]>(new AdamHyperparameters(0.01, Beta1: 0, WeightDecay: 0.05, Decoupled: true, Maximize: true), 9, M(), V(), null), Frozen);
        yield return new("adam-step0", new AdamSnapshot<double[]>(new AdamHyperparameters(0.01, Epsilon: 0.5), 0, new double[n], new double[n], null), Frozen);

        yield return new("adam-full", new AdamSnapshot<double[]>(new AdamHyperparameters(0.01), 7, M(), V(), null), Full, Normal(n, random));
        yield return new("adam-full-l2", new AdamSnapshot<double[]>(new AdamHyperparameters(0.01, Beta1: 0.7, Beta2: 0.95, WeightDecay: 0.2), 3, M(), V(), null), Full, Normal(n, random), Normal(n, random));
        yield return new("adamw-full-maximize", new AdamSnapshot<double[]>(new AdamHyperparameters(0.02, WeightDecay: 0.3, Decoupled: true, Maximize: true), 20, M(), V(), null), Full, Normal(n, random));
        yield return new("adam-full-beta1-zero", new AdamSnapshot<double[]>(new AdamHyperparameters(0.01, Beta1: 0), 5, M(), V(), null), Full, Normal(n, random));
                // Step 0 (zero moments): v' = (1−β₂)ĝ², so the gradient is kept away from 0 (and β₂ lowered) to keep √v' smooth
        // on the finite-difference scale.
        yield return new("adam-full-step0", new AdamSnapshot<double[]>(new AdamHyperparameters(0.01, Beta2: 0.9, Epsilon: 1e-3), 0, new double[n], new double[n], null), Full, Uniform(n, random, 0.5, 1.5).Select((g, i) => i % 2 == 0 ? g : -g).ToArray());

        yield return new("rmsprop", new RmsPropSnapshot<double[]>(new RmsPropHyperparameters(0.01), 5, V(), null, null), Frozen);
        yield return new("rmsprop-momentum", new RmsPropSnapshot<double[]>(new RmsPropHyperparameters(0.01, Momentum: 0.9, WeightDecay: 0.1), 5, V(), M(), null), Frozen);
        {
            var sq = V();
            var ga = sq.Select((x, i) => (i % 2 == 0 ? 0.5 : -0.5) * Math.Sqrt(x)).ToArray();
            yield return new("rmsprop-centered", new RmsPropSnapshot<double[]>(new RmsPropHyperparameters(0.01, Alpha: 0.9, Centered: true), 5, sq, null, ga), Frozen);
            yield return new("rmsprop-centered-momentum-maximize", new RmsPropSnapshot<double[]>(new RmsPropHyperparameters(0.005, Alpha: 0.95, Momentum: 0.5, Centered: true, WeightDecay: 0.2, Maximize: true), 5, sq, M(), ga), Frozen);
        }
    }

    internal static double[] Multiply(double[,] a, double[] x, bool transpose = false)
    {
        int n = a.GetLength(0);
        var y = new double[n];
        for (int i = 0; i < n; i++)
        {
            double sum = 0;
            for (int j = 0; j < n; j++)
            {
                sum += (transpose ? a[j, i] : a[i, j]) * x[j];
            }

            y[i] = sum;
        }

        return y;
    }

    /// <summary>max_i Σ_j |A_ij|·|x_j|: the scale of the rounding error of <c>A·x</c>.</summary>
    internal static double ProductScale(double[,] a, double[] x, bool transpose = false)
    {
        int n = a.GetLength(0);
        double scale = 0;
        for (int i = 0; i < n; i++)
        {
            double sum = 0;
            for (int j = 0; j < n; j++)
            {
                sum += Math.Abs(transpose ? a[j, i] : a[i, j]) * Math.Abs(x[j]);
            }

            scale = Math.Max(scale, sum);
        }

        return scale;
    }

    internal static double MaxAbs(double[,] a)
    {
        double m = 0;
        foreach (double v in a)
        {
            m = Math.Max(m, Math.Abs(v));
        }

        return m;
    }
}
