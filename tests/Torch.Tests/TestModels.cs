using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

/// <summary>Small deterministic models and batches (weights from System.Random, never from libtorch's global RNG).</summary>
internal sealed class TinyMlp : IDisposable
{
    public TinyMlp(ScalarType dtype, int seed, int inputs = 3, int hidden = 4, int outputs = 2, int batch = 6, double dropout = 0)
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("fc1", nn.Linear(inputs, hidden, hasBias: true, dtype: dtype)),
            ("act", nn.Tanh()),
        };
        if (dropout > 0)
        {
            layers.Add(("drop", nn.Dropout(dropout)));
        }

        layers.Add(("fc2", nn.Linear(hidden, outputs, hasBias: true, dtype: dtype)));
        Model = nn.Sequential(layers);
        View = FlatParameterView.FromModule(Model);
        var random = new Random(seed);
        using var theta = torch.tensor(Gaussian(random, View.Dimension, 0.7), dtype);
        View.CopyToParameters(theta);
        Inputs = torch.tensor(Gaussian(random, batch * inputs, 1.0), new long[] { batch, inputs }, dtype).DetachFromDisposeScope();
        Targets = torch.tensor(Gaussian(random, batch * outputs, 1.0), new long[] { batch, outputs }, dtype).DetachFromDisposeScope();
    }

    public Sequential Model { get; }

    public FlatParameterView View { get; }

    public Tensor Inputs { get; }

    public Tensor Targets { get; }

    /// <summary>Mean squared error on the fixed batch.</summary>
    public Tensor Loss()
    {
        using var prediction = Model.forward(Inputs);
        using var error = prediction - Targets;
        using var squared = error.square();
        return squared.mean();
    }

    /// <summary>∇L at the current parameters, as a CPU double array (autograd.grad, no graph kept).</summary>
    public double[] Gradient()
    {
        using var scope = torch.NewDisposeScope();
        using var loss = Loss();
        var grads = torch.autograd.grad(new[] { loss }, View.Parameters.Cast<Tensor>().ToArray());
        using var flat = torch.zeros(new long[] { View.Dimension }, View.ScalarType);
        View.Gather(grads.ToArray(), flat);
        return Host.ToArray(flat);
    }

    public double[] ParametersToArray()
    {
        using var flat = torch.zeros(new long[] { View.Dimension }, View.ScalarType);
        View.CopyParametersTo(flat);
        return Host.ToArray(flat);
    }

    public void SetParameters(double[] theta)
    {
        using var flat = torch.tensor(theta, View.ScalarType);
        View.CopyToParameters(flat);
    }

    public static double[] Gaussian(Random random, int length, double scale)
    {
        var values = new double[length];
        for (int i = 0; i < length; i++)
        {
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            values[i] = scale * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }

        return values;
    }

    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
        Model.Dispose();
    }
}

internal static class Host
{
    public static double[] ToArray(Tensor tensor)
    {
        using var asDouble = tensor.detach().to(ScalarType.Float64).cpu().contiguous();
        return asDouble.data<double>().ToArray();
    }

    public static double MaxAbsDifference(double[] a, double[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }

        return max;
    }

    public static double MaxAbs(double[] a) => a.Length == 0 ? 0 : a.Max(Math.Abs);

    public static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }
}
