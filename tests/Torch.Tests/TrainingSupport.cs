using Microsoft.Extensions.Logging;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

/// <summary>
/// Tests that draw from libtorch's global random generator (dropout) or compare whole training trajectories: they run
/// alone, never in parallel with other tests that might draw from it or load the CPU.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialTorchTests
{
    public const string Name = "Serial torch";
}

/// <summary>
/// Full-batch regression with a small tanh MLP: a fixed synthetic data set (teacher network plus noise), weights drawn
/// from System.Random so that runs are reproducible without libtorch's global generator.
/// </summary>
internal sealed class RegressionRun : IDisposable
{
    public RegressionRun(int seed, int inputs = 4, int hidden = 16, int samples = 64, double dropout = 0, ScalarType dtype = ScalarType.Float64)
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("fc1", nn.Linear(inputs, hidden, dtype: dtype)),
            ("act1", nn.Tanh()),
        };
        if (dropout > 0)
        {
            layers.Add(("drop", nn.Dropout(dropout)));
        }

        layers.Add(("fc2", nn.Linear(hidden, hidden, dtype: dtype)));
        layers.Add(("act2", nn.Tanh()));
        layers.Add(("fc3", nn.Linear(hidden, 1, dtype: dtype)));
        Model = nn.Sequential(layers);
        var random = new Random(seed);
        using (var scope = torch.NewDisposeScope())
        {
            using var noGrad = torch.no_grad();
            foreach (var (name, parameter) in Model.named_parameters())
            {
                // LeCun-normal weights (variance 1/fan_in), zero biases.
                double scale = parameter.dim() == 2 ? 1.0 / Math.Sqrt(parameter.shape[1]) : 0.0;
                var values = TinyMlp.Gaussian(random, (int)parameter.numel(), scale);
                parameter.copy_(torch.tensor(values, parameter.shape, dtype));
            }
        }

        var x = TinyMlp.Gaussian(random, samples * inputs, 1.0);
        var teacher = TinyMlp.Gaussian(random, inputs * 8, 1.0);
        var readout = TinyMlp.Gaussian(random, 8, 1.0);
        var y = new double[samples];
        for (int s = 0; s < samples; s++)
        {
            double sum = 0;
            for (int h = 0; h < 8; h++)
            {
                double z = 0;
                for (int i = 0; i < inputs; i++)
                {
                    z += x[(s * inputs) + i] * teacher[(i * 8) + h];
                }

                sum += readout[h] * Math.Tanh(z);
            }

            y[s] = sum + (0.1 * TinyMlp.Gaussian(random, 1, 1.0)[0]);
        }

        // Copied into libtorch-allocated (64-byte aligned) storage: torch.tensor(double[]) may keep the pinned managed
        // array as storage, whose alignment depends on the GC heap, and the CPU kernels' rounding depends on alignment.
        using (var scope = torch.NewDisposeScope())
        {
            Inputs = torch.tensor(x, new long[] { samples, inputs }, dtype).clone().DetachFromDisposeScope();
            Targets = torch.tensor(y, new long[] { samples, 1 }, dtype).clone().DetachFromDisposeScope();
        }
    }

    public Sequential Model { get; }

    public Tensor Inputs { get; }

    public Tensor Targets { get; }

    /// <summary>Mean squared error on the whole data set (the training loss and the probe loss).</summary>
    public Tensor Loss()
    {
        using var prediction = Model.forward(Inputs);
        using var error = prediction - Targets;
        using var squared = error.square();
        return squared.mean();
    }

    /// <summary>One full-batch step; returns the loss before the update.</summary>
    public double Step(optim.Optimizer optimizer)
    {
        using var scope = torch.NewDisposeScope();
        optimizer.zero_grad();
        var loss = Loss();
        loss.backward();
        optimizer.step();
        return loss.ToDouble();
    }

    /// <summary>All parameters, concatenated on the host.</summary>
    public double[] Parameters()
    {
        var result = new List<double>();
        foreach (var parameter in Model.parameters())
        {
            result.AddRange(Host.ToArray(parameter));
        }

        return result.ToArray();
    }

    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
        Model.Dispose();
    }
}

/// <summary>Loss spikes: loss above twice its running minimum, after a burn-in.</summary>
internal static class Spikes
{
    public static List<int> Find(IReadOnlyList<double> losses, int burnIn, double factor = 2)
    {
        var spikes = new List<int>();
        double minimum = double.PositiveInfinity;
        bool inSpike = false;
        for (int t = 0; t < losses.Count; t++)
        {
            bool spiking = t >= burnIn && (!double.IsFinite(losses[t]) || losses[t] > factor * minimum);
            if (spiking && !inSpike)
            {
                spikes.Add(t);
            }

            inSpike = spiking;
            if (double.IsFinite(losses[t]))
            {
                minimum = Math.Min(minimum, losses[t]);
            }
        }

        return spikes;
    }
}

/// <summary>A logger that records every entry (the feed has no Microsoft.Extensions.Diagnostics.Testing).</summary>
internal sealed class RecordingLogger : ILogger, ILoggerFactory, ILoggerProvider
{
    private readonly object _gate = new();
    private readonly List<(LogLevel Level, EventId Id, string Message)> _entries = [];

    public IReadOnlyList<(LogLevel Level, EventId Id, string Message)> Entries
    {
        get
        {
            lock (_gate)
            {
                return _entries.ToArray();
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_gate)
        {
            _entries.Add((logLevel, eventId, formatter(state, exception)));
        }
    }

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }
}
