// Two complete TorchSharp training loops, each with a SpectralMonitor attached in ONE line, metrics served for
// Prometheus, alerts logged to the console, and a learning rate that spikes mid-run so that the monitor has something
// to warn about. See README.md in this folder.
using System.Globalization;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using SpectralMonitor;
using SpectralMonitor.Backoff;
using TorchSharpTrainingExample;
using SpectralMonitor.Prometheus;
using SpectralMonitor.Torch;
using TorchSharp;

var settings = Settings.Parse(args);
torch.manual_seed(1);

using var loggerFactory = LoggerFactory.Create(builder => builder
    .AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss ";
    })
    .SetMinimumLevel(LogLevel.Information));

// Metrics: the monitor's Meter through OpenTelemetry, served at http://127.0.0.1:<port>/metrics while the program runs.
using var meterProvider = Sdk.CreateMeterProviderBuilder()
    .AddSpectralMonitorInstrumentation()
    .AddSpectralMonitorPrometheusEndpoint(new PrometheusEndpointOptions { Port = settings.Port, Logger = loggerFactory.CreateLogger("Prometheus") }, out var endpoint)
    .Build();
Console.WriteLine(endpoint.Address is { } address ? $"Prometheus metrics at {address}" : $"Prometheus endpoint not listening: {endpoint.StartupError?.Message}");

if (settings.RunMlp)
{
    Examples.TrainMlp(loggerFactory, settings.Backoff);
}

if (settings.RunCnn)
{
    Examples.TrainCnn(loggerFactory, settings.Backoff);
}

if (settings.HoldSeconds > 0)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Holding the metrics endpoint open for {settings.HoldSeconds} s (Ctrl+C to stop) ..."));
    Thread.Sleep(TimeSpan.FromSeconds(settings.HoldSeconds));
}

namespace TorchSharpTrainingExample
{
    using static TorchSharp.torch;

    /// <summary>Command-line settings: <c>[mlp|cnn] [--port N] [--hold S] [--backoff]</c>.</summary>
    internal sealed record Settings(bool RunMlp, bool RunCnn, int Port, int HoldSeconds, bool Backoff)
    {
        public static Settings Parse(string[] args)
        {
            bool mlp = args.Contains("mlp");
            bool cnn = args.Contains("cnn");
            int port = PrometheusEndpointOptions.DefaultPort;
            int hold = 0;
            for (int i = 0; i + 1 < args.Length; i++)
            {
                if (args[i] == "--port")
                {
                    port = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                }
                else if (args[i] == "--hold")
                {
                    hold = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                }
            }

            return new Settings(mlp || !cnn, cnn || !mlp, port, hold, args.Contains("--backoff"));
        }
    }

    internal static class Examples
    {
        /// <summary>
        /// An MLP on synthetic regression data (a random tanh teacher plus noise), mini-batch SGD with momentum. The
        /// learning rate is multiplied by 8 between steps 600 and 700: the top curvature crosses the edge 2(1+μ)/η and
        /// the monitor warns.
        /// </summary>
        public static void TrainMlp(ILoggerFactory loggerFactory, bool backoff)
        {
            Console.WriteLine("== MLP, synthetic regression, SGD with momentum ==");
            using var scope = torch.NewDisposeScope();
            const int samples = 1024;
            var inputs = torch.randn(samples, 8);
            var teacher = torch.randn(8, 16);
            var readout = torch.randn(16, 1) / 4;
            var targets = torch.tanh(inputs.mm(teacher)).mm(readout) + (0.05 * torch.randn(samples, 1));

            var model = nn.Sequential(
                ("fc1", nn.Linear(8, 64)),
                ("act1", nn.Tanh()),
                ("fc2", nn.Linear(64, 64)),
                ("act2", nn.Tanh()),
                ("fc3", nn.Linear(64, 1)));
            var optimizer = torch.optim.SGD(model.parameters(), 0.05, momentum: 0.9);
            var lossFunction = nn.MSELoss();

            // The probe batch: 256 samples, fixed for the whole run (chosen by the user; here the first 256).
            var xProbe = inputs.narrow(0, 0, 256);
            var yProbe = targets.narrow(0, 0, 256);

            // ONE line to attach the monitor to the existing loop.
            using var monitor = optimizer.AttachSpectralMonitor(
                model,
                probeLoss: () => lossFunction.forward(model.forward(xProbe), yProbe),
                new() { Monitor = Options("mlp", backoff), LoggerFactory = loggerFactory });

            Train(model, optimizer, monitor, lossFunction, inputs, targets, steps: 1000, batchSize: 64, baseRate: 0.05, spikeFactor: 8, spikeFrom: 600, spikeTo: 700);
        }

        /// <summary>
        /// A small convolutional network on synthetic 1×12×12 images of two classes (a horizontal or a vertical bar in
        /// noise), Adam. The learning rate is multiplied by 20 between steps 300 and 400.
        /// </summary>
        public static void TrainCnn(ILoggerFactory loggerFactory, bool backoff)
        {
            Console.WriteLine("== CNN, synthetic 1×12×12 images, two classes, Adam ==");
            using var scope = torch.NewDisposeScope();
            const int samples = 1024;
            var labels = torch.randint(0, 2, new long[] { samples }, dtype: ScalarType.Int64);
            // A bar at a random row (class 0) or column (class 1), in Gaussian noise.
            var position = torch.randint(2, 10, new long[] { samples }, dtype: ScalarType.Int64).view(samples, 1, 1);
            var horizontal = torch.arange(12).view(1, 12, 1).eq(position).expand(samples, 12, 12).to(ScalarType.Float32);
            var vertical = torch.arange(12).view(1, 1, 12).eq(position).expand(samples, 12, 12).to(ScalarType.Float32);
            var isVertical = labels.view(samples, 1, 1).to(ScalarType.Float32);
            var bar = (isVertical * vertical) + ((1 - isVertical) * horizontal);
            var images = (0.5 * torch.randn(samples, 1, 12, 12)) + bar.unsqueeze(1);
            var model = nn.Sequential(
                ("conv1", nn.Conv2d(1, 8, 3)),
                ("relu1", nn.ReLU()),
                ("pool", nn.MaxPool2d(2)),
                ("conv2", nn.Conv2d(8, 16, 3)),
                ("relu2", nn.ReLU()),
                ("flatten", nn.Flatten()),
                ("fc", nn.Linear(16 * 3 * 3, 2)));
            var optimizer = torch.optim.Adam(model.parameters(), 1e-3);
            var lossFunction = nn.CrossEntropyLoss();
            var xProbe = images.narrow(0, 0, 256);
            var yProbe = labels.narrow(0, 0, 256);

            using var monitor = optimizer.AttachSpectralMonitor(
                model,
                probeLoss: () => lossFunction.forward(model.forward(xProbe), yProbe),
                new() { Monitor = Options("cnn", backoff), LoggerFactory = loggerFactory });

            Train(model, optimizer, monitor, lossFunction, images, labels, steps: 600, batchSize: 64, baseRate: 1e-3, spikeFactor: 20, spikeFrom: 300, spikeTo: 400);
        }

        private static StabilityMonitorOptions Options(string run, bool backoff) => new()
        {
            RunName = run,
            ProbeInterval = 10,

            // A demo: probe every 10 steps whatever the cost. The default budget (5 % of training time) stretches the
            // interval when probes are expensive relative to steps, as they are for a model this small.
            OverheadBudget = 1,
            Backoff = backoff ? new BackoffOptions() : null,
        };

        private static void Train(
            nn.Module<Tensor, Tensor> model,
            optim.Optimizer optimizer,
            StabilityMonitor monitor,
            nn.Module<Tensor, Tensor, Tensor> lossFunction,
            Tensor inputs,
            Tensor targets,
            int steps,
            int batchSize,
            double baseRate,
            double spikeFactor,
            int spikeFrom,
            int spikeTo)
        {
            monitor.AlertRaised += (_, alert) => Console.WriteLine($"  >>> {alert.Level} at step {alert.Step}: {alert.Message}");
            long samples = inputs.shape[0];
            var watch = System.Diagnostics.Stopwatch.StartNew();
            for (int step = 0; step < steps; step++)
            {
                // The learning-rate "schedule": constant, with a spike. Set only when it changes, so that a backoff
                // (with --backoff) is not overwritten at every step.
                double scheduled = step >= spikeFrom && step < spikeTo ? baseRate * spikeFactor : baseRate;
                if (step == 0 || step == spikeFrom || step == spikeTo)
                {
                    foreach (var group in optimizer.ParamGroups)
                    {
                        group.LearningRate = scheduled;
                    }
                }

                using var scope = torch.NewDisposeScope();
                long start = (long)step * batchSize % samples;
                var x = inputs.narrow(0, start, batchSize);
                var y = targets.narrow(0, start, batchSize);
                optimizer.zero_grad();
                var loss = lossFunction.forward(model.forward(x), y);
                loss.backward();
                optimizer.step();

                // ONE line per step: never throws; a probe runs inside it when one is due.
                monitor.OnStep(step, loss.item<float>());

                if (step % 100 == 0 || step == steps - 1)
                {
                    var probe = monitor.LatestProbe;
                    string sharpness = probe is not null && probe.Indicators.TryGetValue(Indicators.SharpnessToEdge, out double ratio)
                        ? ratio.ToString("F2", CultureInfo.InvariantCulture)
                        : "-";
                    Console.WriteLine(string.Create(
                        CultureInfo.InvariantCulture,
                        $"step {step,5}  loss {loss.item<float>(),10:G4}  lr {optimizer.ParamGroups.First().LearningRate,8:G3}  sharpness/edge {sharpness,5}  level {monitor.Level}  probes {monitor.ProbeCount} ({monitor.FailedProbeCount} failed)"));
                }
            }

            var latest = monitor.LatestProbe;
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"done in {watch.Elapsed.TotalSeconds:F1} s; last probe {latest?.Duration.TotalMilliseconds:F1} ms, {latest?.HvpCount} HVPs"));
        }
    }
}
