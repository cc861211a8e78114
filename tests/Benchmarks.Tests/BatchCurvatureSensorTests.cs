using SpectralMonitor.Benchmarks.Detection;
using SpectralMonitor.Examples.Workloads;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Benchmarks.Tests;

/// <summary>
/// <see cref="BatchCurvatureSensor"/> against closed forms: on a least-squares loss, quadratic in the weights, the
/// finite difference it takes is exact, so its reading must equal ΔᵀHΔ / ‖Δ‖²_M over the optimizer's edge with
/// H = 2XᵀX/n, for SGD-momentum (M = I) and Adam (M = diag(√v̂ + ε)); and the held, cadenced step-signal detector
/// that scores it.
/// </summary>
[Collection(GlobalGeneratorTests.Name)]
public sealed class BatchCurvatureSensorTests
{
    private static readonly double[] Inputs = [1, 2, 0, 0, 1, -1, 3, 0, 1, 1, 1, 1, -2, 0, 2];
    private static readonly double[] Targets = [1, -1, 2, 0, 0.5];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadsTheCurvatureAlongTheUpdateOverTheEdgeExactlyOnAQuadraticLoss(bool adam)
    {
        const double rate = 0.05;
        using var x = torch.tensor(Inputs, dtype: ScalarType.Float64).reshape(5, 3);
        using var y = torch.tensor(Targets, dtype: ScalarType.Float64).reshape(5, 1);
        using var model = nn.Linear(3, 1, hasBias: false, dtype: ScalarType.Float64);
        using (torch.no_grad())
        {
            model.weight!.copy_(torch.tensor(new[] { 0.3, -0.2, 0.1 }, dtype: ScalarType.Float64).reshape(1, 3));
        }

        using optim.Optimizer optimizer = adam ? torch.optim.Adam(model.parameters(), rate) : torch.optim.SGD(model.parameters(), rate, momentum: 0.9);
        using var sensor = new BatchCurvatureSensor();
        sensor.Attach(model, optimizer);
        double Loss() => nn.functional.mse_loss(model.forward(x), y).item<double>();

        var readings = new double[2];
        using var secondMoment = torch.zeros(3, dtype: ScalarType.Float64);
        for (int step = 0; step < 3; step++)
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.mse_loss(model.forward(x), y);
            loss.backward();
            double before = loss.item<double>();
            secondMoment.mul_(0.999).add_(model.weight!.grad!.reshape(3).square().mul(0.001));
            var start = model.weight!.detach().clone();
            optimizer.step();
            sensor.AfterUpdate(new AppliedUpdate(step, before, rate, () =>
            {
                using var noGrad = torch.no_grad();
                return Loss();
            }));
            sensor.Read(step, rate, readings);

            // H = 2XᵀX/n for the mean squared error; Δ the step just taken.
            var delta = model.weight!.detach().sub(start).reshape(3);
            var hessian = x.t().matmul(x).mul(2.0 / 5);
            double curvature = delta.dot(hessian.matmul(delta)).item<double>();
            double metric, edge;
            if (adam)
            {
                // Adam's v after step t + 1, kept here from the gradients (β₂ = 0.999), bias-corrected.
                var vHat = secondMoment.div(1 - Math.Pow(0.999, step + 1));
                metric = delta.square().mul(vHat.sqrt().add(1e-8)).sum().item<double>();

                // The frozen-preconditioner edge of the next update, t + 2 in this 0-based loop, with Adam's bias
                // correction c₁ = 1/(1 − β₁ᵗ): the edge the probe reads sharpness against.
                double c1 = 1 / (1 - Math.Pow(0.9, step + 2));
                edge = 2 * 1.9 / (0.1 * rate * c1);
            }
            else
            {
                metric = delta.dot(delta).item<double>();
                edge = 2 * 1.9 / rate;
            }

            // Float64 throughout; the loss difference cancels to about 1e-16 of a loss of order 1 against a quadratic
            // term of order 1e-3–1e-2, so 1e-9 relative is loose.
            Assert.Equal(curvature / metric / edge, readings[0], 1e-9 * Math.Abs(readings[0]));
            Assert.True(readings[1] >= 0);
        }

        // A read without an update in between says nothing.
        sensor.Read(3, rate, readings);
        Assert.True(double.IsNaN(readings[0]));
    }

    [Fact]
    public void HeldCadencedThresholdReadsOnlyItsStepsAndClearsAfterTheHold()
    {
        // Above 1 at steps 7, 12 and 40. Read every 5 steps with a 10-step hold, only step 40 is a read that meets it
        // (7 and 12 fall between reads): on at 40, held through 49, off at the read at 50.
        double[] values = [.. Enumerable.Range(0, 80).Select(t => t is 7 or 12 or 40 ? 2.0 : 0.5)];
        var run = new RecordedRun("r", DetectionPlan.Smoke()[0].Setting, 1, SeedRole.Tune, 1, 80, false,
            new Dictionary<string, double[]>(StringComparer.Ordinal) { ["x"] = values }, []);
        var cadenced = new StepSignalDetector("x", StepTransform.Value, 1, ReadEvery: 5, HoldSteps: 10).Alarm(run);
        Assert.Equal(Enumerable.Range(40, 10), Enumerable.Range(0, 80).Where(t => cadenced[t]));

        // Read at every step with the same hold: on at 7, still on at 12 (met again), held to 21; on again at 40 to 49.
        var every = new StepSignalDetector("x", StepTransform.Value, 1, HoldSteps: 10).Alarm(run);
        Assert.Equal(Enumerable.Range(7, 15).Concat(Enumerable.Range(40, 10)), Enumerable.Range(0, 80).Where(t => every[t]));
        Assert.Equal(new[] { 7, 40 }, DetectionScoring.Onsets(every));
        Assert.Contains("read every 5 steps (held 10 steps)", new StepSignalDetector("x", StepTransform.Value, 1, ReadEvery: 5, HoldSteps: 10).Family, StringComparison.Ordinal);

        // An EMA over the reads (weight 0.5 on the past; a NaN read leaves it alone and meets nothing): reads 0, 2, NaN,
        // 2, 0 at steps 0, 5, 10, 15, 20 average 0, 1, –, 1.5, 0.75, so without a hold "≥ 1" is on at 5–9 and 15–19, and
        // "≥ 1.5" only at 15–19.
        double[] reads = [.. Enumerable.Range(0, 30).Select(t => t switch { 5 or 15 => 2.0, 10 => double.NaN, _ => 0.0 })];
        var smoothRun = new RecordedRun("r", DetectionPlan.Smoke()[0].Setting, 1, SeedRole.Tune, 1, 30, false,
            new Dictionary<string, double[]>(StringComparer.Ordinal) { ["x"] = reads }, []);
        var one = new StepSignalDetector("x", StepTransform.Value, 1, ReadEvery: 5, ReadEma: 0.5).Alarm(smoothRun);
        Assert.Equal(Enumerable.Range(5, 5).Concat(Enumerable.Range(15, 5)), Enumerable.Range(0, 30).Where(t => one[t]));
        var higher = new StepSignalDetector("x", StepTransform.Value, 1.5, ReadEvery: 5, ReadEma: 0.5).Alarm(smoothRun);
        Assert.Equal(Enumerable.Range(15, 5), Enumerable.Range(0, 30).Where(t => higher[t]));
    }
}
