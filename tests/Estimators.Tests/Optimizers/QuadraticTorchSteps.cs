using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Estimators.Tests.Optimizers;

/// <summary>
/// One step of torch.optim.SGD / Adam / AdamW / RMSprop on the quadratic loss L(θ) = ½θᵀHθ − bᵀθ (gradient Hθ − b),
/// written out here, line by line after PyTorch's single-tensor implementations (torch/optim/sgd.py, adam.py,
/// adamw.py, rmsprop.py), independently of the library.
/// </summary>
internal sealed class QuadraticTorchSteps(double[,] hessian, double[] b)
{
    private readonly int _n = b.Length;

    private double[] Gradient(double[] theta)
    {
        var g = OptimizerTestData.Multiply(hessian, theta);
        for (int i = 0; i < _n; i++)
        {
            g[i] -= b[i];
        }

        return g;
    }

    /// <summary>Returns (param, momentum_buffer) after one SGD step; the buffer is null without momentum.</summary>
    internal (double[] Theta, double[]? Buffer) Sgd(SgdHyperparameters h, double[] theta, double[]? buffer)
    {
        var g = Gradient(theta);
        var dp = new double[_n];
        for (int i = 0; i < _n; i++)
        {
            dp[i] = h.Maximize ? -g[i] : g[i];
            if (h.WeightDecay != 0)
            {
                dp[i] += h.WeightDecay * theta[i];
            }
        }

        double[]? buf = null;
        if (h.Momentum != 0)
        {
            if (buffer is null)
            {
                buf = (double[])dp.Clone();
            }
            else
            {
                buf = new double[_n];
                for (int i = 0; i < _n; i++)
                {
                    buf[i] = (h.Momentum * buffer[i]) + ((1 - h.Dampening) * dp[i]);
                }
            }

            for (int i = 0; i < _n; i++)
            {
                dp[i] = h.Nesterov ? dp[i] + (h.Momentum * buf[i]) : buf[i];
            }
        }

        var next = new double[_n];
        for (int i = 0; i < _n; i++)
        {
            next[i] = theta[i] - (h.LearningRate * dp[i]);
        }

        return (next, buf);
    }

    /// <summary>Returns (param, exp_avg, exp_avg_sq, max_exp_avg_sq) after one Adam/AdamW step from step count <paramref name="step"/>.</summary>
    internal (double[] Theta, double[] M, double[] V, double[]? VMax) Adam(AdamHyperparameters h, long step, double[] theta, double[] m, double[] v, double[]? vmax)
    {
        var g = Gradient(theta);
        var param = (double[])theta.Clone();
        var m1 = new double[_n];
        var v1 = new double[_n];
        var max1 = h.Amsgrad ? new double[_n] : null;
        long t = step + 1;
        double bc1 = 1 - Math.Pow(h.Beta1, t);
        double bc2 = 1 - Math.Pow(h.Beta2, t);
        double stepSize = h.LearningRate / bc1;
        for (int i = 0; i < _n; i++)
        {
            double grad = h.Maximize ? -g[i] : g[i];
            if (h.Decoupled)
            {
                param[i] *= 1 - (h.LearningRate * h.WeightDecay);
            }
            else if (h.WeightDecay != 0)
            {
                grad += h.WeightDecay * theta[i];
            }

            m1[i] = m[i] + ((grad - m[i]) * (1 - h.Beta1));
            v1[i] = (v[i] * h.Beta2) + ((1 - h.Beta2) * grad * grad);
            double denom;
            if (h.Amsgrad)
            {
                max1![i] = Math.Max(vmax?[i] ?? 0, v1[i]);
                denom = (Math.Sqrt(max1[i]) / Math.Sqrt(bc2)) + h.Epsilon;
            }
            else
            {
                denom = (Math.Sqrt(v1[i]) / Math.Sqrt(bc2)) + h.Epsilon;
            }

            param[i] -= stepSize * m1[i] / denom;
        }

        return (param, m1, v1, max1);
    }

    /// <summary>Returns (param, square_avg, momentum_buffer, grad_avg) after one RMSprop step.</summary>
    internal (double[] Theta, double[] SquareAvg, double[]? Buffer, double[]? GradAvg) RmsProp(RmsPropHyperparameters h, double[] theta, double[] squareAvg, double[]? buffer, double[]? gradAvg)
    {
        var g = Gradient(theta);
        var param = (double[])theta.Clone();
        var sq = new double[_n];
        var buf = h.Momentum > 0 ? new double[_n] : null;
        var ga = h.Centered ? new double[_n] : null;
        for (int i = 0; i < _n; i++)
        {
            double grad = h.Maximize ? -g[i] : g[i];
            if (h.WeightDecay != 0)
            {
                grad += h.WeightDecay * theta[i];
            }

            sq[i] = (squareAvg[i] * h.Alpha) + ((1 - h.Alpha) * grad * grad);
            double avg;
            if (h.Centered)
            {
                double prev = gradAvg?[i] ?? 0;
                ga![i] = prev + ((grad - prev) * (1 - h.Alpha));
                avg = Math.Sqrt(sq[i] - (ga[i] * ga[i]));
            }
            else
            {
                avg = Math.Sqrt(sq[i]);
            }

            avg += h.Epsilon;
            if (h.Momentum > 0)
            {
                buf![i] = ((buffer?[i] ?? 0) * h.Momentum) + (grad / avg);
                param[i] -= h.LearningRate * buf[i];
            }
            else
            {
                param[i] -= h.LearningRate * grad / avg;
            }
        }

        return (param, sq, buf, ga);
    }
}
