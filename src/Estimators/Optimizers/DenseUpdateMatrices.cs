using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Estimators.Optimizers;

/// <summary>A dense update matrix with the layout of its state.</summary>
/// <param name="Matrix">The full augmented matrix <c>J</c>, <c>(blocks·n) × (blocks·n)</c>, blocks in <see cref="UpdateStateLayout.Blocks"/> order.</param>
/// <param name="Layout">Which state blocks the rows and columns are.</param>
public sealed record DenseUpdateMatrix(double[,] Matrix, UpdateStateLayout Layout);

/// <summary>
/// Dense builders of the same update operators as <see cref="UpdateOperators"/>, for small <c>n</c>: the full augmented
/// <c>J</c> as a <c>double[,]</c> from a dense Hessian and a snapshot with <c>double[]</c> state. Same semantics, layouts and
/// validation as the matrix-free operators; the arithmetic is written out entry by entry, independently of them, so that each
/// checks the other. For tests, the command-line tool and examples.
/// </summary>
public static class DenseUpdateMatrices
{
    /// <summary>The dense counterpart of <see cref="UpdateOperators.Create{TVec}"/>.</summary>
    /// <param name="snapshot">The optimizer state before the step.</param>
    /// <param name="hessian">The symmetric Hessian, <c>n × n</c>.</param>
    /// <param name="linearization">Frozen preconditioner (default) or full state.</param>
    /// <param name="gradient">The loss gradient (full-state Adam).</param>
    /// <param name="parameters">The parameters (full-state Adam with L2 weight decay).</param>
    /// <exception cref="ArgumentException">An input is invalid; the message names it.</exception>
    public static DenseUpdateMatrix Create(
        OptimizerSnapshot<double[]> snapshot,
        double[,] hessian,
        UpdateLinearization linearization = UpdateLinearization.FrozenPreconditioner,
        double[]? gradient = null,
        double[]? parameters = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var h = CheckHessian(hessian);
        switch (snapshot)
        {
            case SgdSnapshot<double[]> sgd:
                {
                    var settings = SgdUpdateOperator<double[]>.Resolve(sgd, h);
                    return new DenseUpdateMatrix(BuildSgd(settings, hessian), settings.Layout);
                }

            case AdamSnapshot<double[]> adam when linearization == UpdateLinearization.FullState:
                {
                    if (gradient is null)
                    {
                        throw new ArgumentException("gradient is null; the full-state Adam operator needs the current gradient.", nameof(gradient));
                    }

                    var settings = AdamFullStateUpdateOperator<double[]>.Resolve(adam, h, gradient, parameters);
                    return new DenseUpdateMatrix(BuildAdamFullState(adam, settings, hessian, gradient, parameters), AdamFullStateUpdateOperator<double[]>.MakeLayout(adam.Hyperparameters, settings));
                }

            case AdamSnapshot<double[]> adam:
                {
                    var settings = AdamSettings.Resolve(adam, h.Space);
                    return new DenseUpdateMatrix(BuildAdamFrozen(adam, settings, hessian), AdamUpdateOperator<double[]>.MakeLayout(adam.Hyperparameters, settings));
                }

            case RmsPropSnapshot<double[]> when linearization == UpdateLinearization.FullState:
                throw new ArgumentException("linearization is FullState, which is not available for RMSprop; use FrozenPreconditioner.", nameof(linearization));
            case RmsPropSnapshot<double[]> rms:
                RmsPropSettings.Resolve(rms, h.Space);
                return new DenseUpdateMatrix(BuildRmsProp(rms, hessian), RmsPropUpdateOperator<double[]>.MakeLayout(rms.Hyperparameters));
            default:
                throw new ArgumentException($"snapshot is a {snapshot.GetType().Name} (kind {snapshot.Kind}), for which no update operator is known.", nameof(snapshot));
        }
    }

    /// <summary>Dense <see cref="SgdUpdateOperator{TVec}"/>.</summary>
    /// <param name="snapshot">SGD state before the step.</param>
    /// <param name="hessian">The symmetric Hessian.</param>
    public static double[,] Sgd(SgdSnapshot<double[]> snapshot, double[,] hessian) => Create(snapshot, hessian).Matrix;

    /// <summary>Dense <see cref="AdamUpdateOperator{TVec}"/> (frozen preconditioner; θ alone when β₁ = 0).</summary>
    /// <param name="snapshot">Adam/AdamW state before the step.</param>
    /// <param name="hessian">The symmetric Hessian.</param>
    public static double[,] AdamFrozen(AdamSnapshot<double[]> snapshot, double[,] hessian) => Create(snapshot, hessian).Matrix;

    /// <summary>Dense <see cref="AdamFullStateUpdateOperator{TVec}"/>.</summary>
    /// <param name="snapshot">Adam/AdamW state before the step.</param>
    /// <param name="hessian">The symmetric Hessian.</param>
    /// <param name="gradient">The loss gradient <c>param.grad</c>.</param>
    /// <param name="parameters">The parameters (needed with Adam's L2 weight decay).</param>
    public static double[,] AdamFullState(AdamSnapshot<double[]> snapshot, double[,] hessian, double[] gradient, double[]? parameters = null) =>
        Create(snapshot, hessian, UpdateLinearization.FullState, gradient, parameters).Matrix;

    /// <summary>Dense <see cref="RmsPropUpdateOperator{TVec}"/>.</summary>
    /// <param name="snapshot">RMSprop state before the step.</param>
    /// <param name="hessian">The symmetric Hessian.</param>
    public static double[,] RmsProp(RmsPropSnapshot<double[]> snapshot, double[,] hessian) => Create(snapshot, hessian).Matrix;

    /// <summary>Dense <see cref="UpdateOperators.CreatePreconditionedHessian{TVec}"/>: <c>S·K·S</c>, <c>n × n</c>.</summary>
    /// <param name="snapshot">The optimizer state before the step.</param>
    /// <param name="hessian">The symmetric Hessian.</param>
    /// <exception cref="ArgumentException">An input is invalid; the message names it.</exception>
    public static double[,] PreconditionedHessian(OptimizerSnapshot<double[]> snapshot, double[,] hessian)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var h = CheckHessian(hessian);
        int n = h.Dimension;
        double[] p;
        double[,] k;
        switch (snapshot)
        {
            case SgdSnapshot<double[]> sgd:
                SgdUpdateOperator<double[]>.Resolve(sgd, h);
                p = Enumerable.Repeat(1.0, n).ToArray();
                k = Curvature(hessian, sgd.Hyperparameters.Maximize, sgd.Hyperparameters.WeightDecay);
                break;
            case AdamSnapshot<double[]> adam:
                {
                    var settings = AdamSettings.Resolve(adam, h.Space);
                    p = FrozenAdamPreconditioner(adam, settings);
                    k = Curvature(hessian, adam.Hyperparameters.Maximize, settings.L2);
                    break;
                }

            case RmsPropSnapshot<double[]> rms:
                RmsPropSettings.Resolve(rms, h.Space);
                p = FrozenRmsPropPreconditioner(rms);
                k = Curvature(hessian, rms.Hyperparameters.Maximize, rms.Hyperparameters.WeightDecay);
                break;
            default:
                throw new ArgumentException($"snapshot is a {snapshot.GetType().Name} (kind {snapshot.Kind}), for which no preconditioner is known.", nameof(snapshot));
        }

        var result = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                result[i, j] = Math.Sqrt(p[i]) * k[i, j] * Math.Sqrt(p[j]);
            }
        }

        return result;
    }

    private static double[,] BuildSgd(SgdUpdateOperator<double[]>.Settings s, double[,] hessian)
    {
        var k = Curvature(hessian, s.Sign < 0, s.WeightDecay);
        int n = k.GetLength(0);
        var j = new double[s.HasBuffer ? 2 * n : n, s.HasBuffer ? 2 * n : n];
        for (int r = 0; r < n; r++)
        {
            for (int c = 0; c < n; c++)
            {
                j[r, c] = Delta(r, c) - (s.A * k[r, c]);
                if (s.HasBuffer)
                {
                    j[n + r, c] = s.E * k[r, c];
                }
            }

            if (s.HasBuffer)
            {
                j[r, n + r] = -s.C;
                j[n + r, n + r] = s.Mu;
            }
        }

        return j;
    }

    private static double[,] BuildAdamFrozen(AdamSnapshot<double[]> snapshot, AdamSettings s, double[,] hessian)
    {
        var k = Curvature(hessian, s.Sign < 0, s.L2);
        var p = FrozenAdamPreconditioner(snapshot, s);
        int n = k.GetLength(0);
        double b1 = s.Beta1;
        bool moment = b1 > 0;
        var j = new double[moment ? 2 * n : n, moment ? 2 * n : n];
        for (int r = 0; r < n; r++)
        {
            for (int c = 0; c < n; c++)
            {
                j[r, c] = (s.Decay * Delta(r, c)) - (s.StepSize * (1 - b1) * p[r] * k[r, c]);
                if (moment)
                {
                    j[n + r, c] = (1 - b1) * k[r, c];
                }
            }

            if (moment)
            {
                j[r, n + r] = -s.StepSize * b1 * p[r];
                j[n + r, n + r] = b1;
            }
        }

        return j;
    }

    private static double[,] BuildAdamFullState(AdamSnapshot<double[]> snapshot, AdamSettings s, double[,] hessian, double[] gradient, double[]? parameters)
    {
        var k = Curvature(hessian, s.Sign < 0, s.L2);
        int n = k.GetLength(0);
        var j = new double[3 * n, 3 * n];
        for (int r = 0; r < n; r++)
        {
            double g = (s.Sign * gradient[r]) + (s.L2 != 0 ? s.L2 * parameters![r] : 0);
            double m1 = (s.Beta1 * snapshot.ExpAvg[r]) + ((1 - s.Beta1) * g);
            double v1 = (s.Beta2 * snapshot.ExpAvgSq[r]) + ((1 - s.Beta2) * g * g);
            double root = Math.Sqrt(v1 / s.BiasCorrection2);
            double p = 1 / (root + s.Epsilon);

            // ∂θ'/∂v' = −ηc₁·m'·p'(v'), p'(u) = −p²/(2·b₂·√(u/b₂)); 0 where m' = 0 (see the matrix-free operator).
            double q = m1 == 0 ? 0 : s.StepSize * m1 * p * p / (2 * s.BiasCorrection2 * root);
            if (!double.IsFinite(q))
            {
                throw new ArgumentException($"The full-state Adam Jacobian is undefined at index {r}: the next exp_avg_sq is zero where the next exp_avg is not, and √ is not differentiable at 0.", nameof(snapshot));
            }

            double gCoupling = 2 * (1 - s.Beta2) * g;
            for (int c = 0; c < n; c++)
            {
                // θ row: d·I − ηc₁(1−β₁)·P·K + Q·G·K
                j[r, c] = (s.Decay * Delta(r, c)) - (s.StepSize * (1 - s.Beta1) * p * k[r, c]) + (q * gCoupling * k[r, c]);
                j[n + r, c] = (1 - s.Beta1) * k[r, c];
                j[(2 * n) + r, c] = gCoupling * k[r, c];
            }

            j[r, n + r] = -s.StepSize * s.Beta1 * p;
            j[r, (2 * n) + r] = q * s.Beta2;
            j[n + r, n + r] = s.Beta1;
            j[(2 * n) + r, (2 * n) + r] = s.Beta2;
        }

        return j;
    }

    private static double[,] BuildRmsProp(RmsPropSnapshot<double[]> snapshot, double[,] hessian)
    {
        var h = snapshot.Hyperparameters;
        var k = Curvature(hessian, h.Maximize, h.WeightDecay);
        var p = FrozenRmsPropPreconditioner(snapshot);
        int n = k.GetLength(0);
        bool buffer = h.Momentum > 0;
        double eta = h.LearningRate;
        var j = new double[buffer ? 2 * n : n, buffer ? 2 * n : n];
        for (int r = 0; r < n; r++)
        {
            for (int c = 0; c < n; c++)
            {
                j[r, c] = Delta(r, c) - (eta * p[r] * k[r, c]);
                if (buffer)
                {
                    j[n + r, c] = p[r] * k[r, c];
                }
            }

            if (buffer)
            {
                j[r, n + r] = -eta * h.Momentum;
                j[n + r, n + r] = h.Momentum;
            }
        }

        return j;
    }

    private static double[] FrozenAdamPreconditioner(AdamSnapshot<double[]> snapshot, AdamSettings s)
    {
        int n = snapshot.ExpAvgSq.Length;
        var p = new double[n];
        for (int i = 0; i < n; i++)
        {
            double u = s.Beta2 * snapshot.ExpAvgSq[i];
            if (s.Amsgrad && snapshot.MaxExpAvgSq is not null)
            {
                u = Math.Max(snapshot.MaxExpAvgSq[i], u);
            }

            p[i] = 1 / (Math.Sqrt(u / s.BiasCorrection2) + s.Epsilon);
            CheckFinite(p[i], i, "Adam's preconditioner 1/(√v̂ + ε)", s.Amsgrad && snapshot.MaxExpAvgSq is not null ? snapshot.MaxExpAvgSq : snapshot.ExpAvgSq, s.Amsgrad ? "AdamSnapshot.ExpAvgSq / MaxExpAvgSq" : "AdamSnapshot.ExpAvgSq");
        }

        return p;
    }

    private static double[] FrozenRmsPropPreconditioner(RmsPropSnapshot<double[]> snapshot)
    {
        var h = snapshot.Hyperparameters;
        int n = snapshot.SquareAvg.Length;
        var p = new double[n];
        for (int i = 0; i < n; i++)
        {
            double u = h.Alpha * snapshot.SquareAvg[i];
            if (h.Centered && snapshot.GradAvg is not null)
            {
                double a = h.Alpha * snapshot.GradAvg[i];
                u -= a * a;
            }

            p[i] = 1 / (Math.Sqrt(u) + h.Epsilon);
            CheckFinite(p[i], i, "RMSprop's preconditioner 1/(√avg + ε)", snapshot.SquareAvg, h.Centered ? "RmsPropSnapshot.SquareAvg − GradAvg²" : "RmsPropSnapshot.SquareAvg");
        }

        return p;
    }

    private static void CheckFinite(double value, int index, string what, double[] source, string sourceField, string parameterName = SnapshotValidation.SnapshotParameter)
    {
        if (!double.IsFinite(value))
        {
            // Same message as the matrix-free path (SnapshotValidation.DerivedFinite).
            string negative = Array.FindIndex(source, x => x < 0) is int j and >= 0 ? $" ({sourceField} is negative at index {j})" : string.Empty;
            throw new ArgumentException($"{what} is not finite at index {index}{negative}; {sourceField} must hold non-negative averages of squares.", parameterName);
        }
    }

    /// <summary><c>K = ±H + λI</c>.</summary>
    private static double[,] Curvature(double[,] hessian, bool maximize, double weightDecay)
    {
        int n = hessian.GetLength(0);
        var k = new double[n, n];
        for (int r = 0; r < n; r++)
        {
            for (int c = 0; c < n; c++)
            {
                k[r, c] = (maximize ? -hessian[r, c] : hessian[r, c]) + (weightDecay * Delta(r, c));
            }
        }

        return k;
    }

    private static double Delta(int r, int c) => r == c ? 1 : 0;

    /// <summary>Checks the dense Hessian (square, finite, symmetric) and wraps it as an operator for the shared validation.</summary>
    private static DenseMatrixOperator<double> CheckHessian(double[,] hessian)
    {
        ArgumentNullException.ThrowIfNull(hessian);
        int n = hessian.GetLength(0);
        if (n == 0 || hessian.GetLength(1) != n)
        {
            throw new ArgumentException($"hessian must be square and non-empty; it is {n} × {hessian.GetLength(1)}.", nameof(hessian));
        }

        double maxAbs = 0;
        foreach (double v in hessian)
        {
            if (!double.IsFinite(v))
            {
                throw new ArgumentException($"hessian has a non-finite entry ({v}).", nameof(hessian));
            }

            maxAbs = Math.Max(maxAbs, Math.Abs(v));
        }

        // A Hessian assembled column by column from HVPs of unit vectors is symmetric only to rounding (about 1e-15
        // relative to its largest entry for small models); 1e-12 leaves room for that and still catches real asymmetry.
        double tolerance = 1e-12 * maxAbs;
        for (int r = 0; r < n; r++)
        {
            for (int c = r + 1; c < n; c++)
            {
                if (Math.Abs(hessian[r, c] - hessian[c, r]) > tolerance)
                {
                    throw new ArgumentException($"hessian is not symmetric: entry ({r}, {c}) = {hessian[r, c]} differs from ({c}, {r}) = {hessian[c, r]}.", nameof(hessian));
                }
            }
        }

        return new DenseMatrixOperator<double>(Symmetrized(hessian), assumeSymmetric: true);
    }

    private static double[,] Symmetrized(double[,] hessian)
    {
        int n = hessian.GetLength(0);
        var s = new double[n, n];
        for (int r = 0; r < n; r++)
        {
            for (int c = 0; c < n; c++)
            {
                s[r, c] = 0.5 * (hessian[r, c] + hessian[c, r]);
            }
        }

        return s;
    }
}
