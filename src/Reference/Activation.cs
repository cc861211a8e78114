namespace SpectralMonitor.Reference;

/// <summary>The activation applied after every hidden layer of an <see cref="MlpArchitecture"/> (the output layer is linear).</summary>
public enum HiddenActivation
{
    /// <summary><c>tanh(x)</c>, as <c>torch.nn.Tanh</c>.</summary>
    Tanh,

    /// <summary><c>max(x, 0)</c>, as <c>torch.nn.ReLU</c> (derivative 0 at 0, second derivative 0).</summary>
    Relu,

    /// <summary>
    /// GELU, tanh approximation, as <c>torch.nn.GELU(approximate="tanh")</c>:
    /// <c>x/2 · (1 + tanh(√(2/π)·(x + 0.044715·x³)))</c>. Smooth, so its Hessian is well defined everywhere.
    /// </summary>
    Gelu,
}

/// <summary>Values and first two derivatives of the hidden activations.</summary>
internal static class ActivationFunctions
{
    private const double GeluScale = 0.7978845608028654; // √(2/π)
    private const double GeluCubic = 0.044715;

    /// <summary>Computes σ(z), σ′(z) and σ″(z) for every entry.</summary>
    public static void Evaluate(HiddenActivation activation, ReadOnlySpan<double> z, Span<double> value, Span<double> first, Span<double> second)
    {
        switch (activation)
        {
            case HiddenActivation.Tanh:
                for (int i = 0; i < z.Length; i++)
                {
                    double t = Math.Tanh(z[i]);
                    double d = 1 - (t * t);
                    value[i] = t;
                    first[i] = d;
                    second[i] = -2 * t * d;
                }

                break;
            case HiddenActivation.Relu:
                for (int i = 0; i < z.Length; i++)
                {
                    bool positive = z[i] > 0;
                    value[i] = positive ? z[i] : 0;
                    first[i] = positive ? 1 : 0;
                    second[i] = 0;
                }

                break;
            case HiddenActivation.Gelu:
                for (int i = 0; i < z.Length; i++)
                {
                    double x = z[i];
                    double x2 = x * x;
                    double u = GeluScale * (x + (GeluCubic * x2 * x));
                    double du = GeluScale * (1 + (3 * GeluCubic * x2));
                    double d2u = 6 * GeluScale * GeluCubic * x;
                    double t = Math.Tanh(u);
                    double sech2 = 1 - (t * t);
                    value[i] = 0.5 * x * (1 + t);
                    first[i] = (0.5 * (1 + t)) + (0.5 * x * sech2 * du);
                    second[i] = sech2 * (du + (0.5 * x * (d2u - (2 * t * du * du))));
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(activation), activation, $"Unknown activation {activation}.");
        }
    }

    /// <summary>Computes σ(z) only.</summary>
    public static void Value(HiddenActivation activation, ReadOnlySpan<double> z, Span<double> value)
    {
        switch (activation)
        {
            case HiddenActivation.Tanh:
                for (int i = 0; i < z.Length; i++)
                {
                    value[i] = Math.Tanh(z[i]);
                }

                break;
            case HiddenActivation.Relu:
                for (int i = 0; i < z.Length; i++)
                {
                    value[i] = z[i] > 0 ? z[i] : 0;
                }

                break;
            case HiddenActivation.Gelu:
                for (int i = 0; i < z.Length; i++)
                {
                    double x = z[i];
                    value[i] = 0.5 * x * (1 + Math.Tanh(GeluScale * (x + (GeluCubic * x * x * x))));
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(activation), activation, $"Unknown activation {activation}.");
        }
    }
}
