using SpectralMonitor.Benchmarks.Detection;
using SpectralMonitor.Examples.Workloads;
using SpectralMonitor.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Benchmarks.Tests;

/// <summary>
/// The model-level step sensor (<see cref="LogitSensor"/>, over the library's <see cref="ForwardLogitHooks"/>, whose
/// statistics are tested against hand-computed values in tests/Torch.Tests): its hooks on a real <see cref="CharGpt"/>
/// (the training forward only, training left bit-identical), a digits model without attention, and the step-signal
/// detector's transforms.
/// </summary>
[Collection(GlobalGeneratorTests.Name)]
public sealed class LogitSensorTests
{
    [Fact]
    public void HooksReadTheTrainingForwardOnlyAndLeaveTrainingBitIdentical()
    {
        var config = new GptConfig(VocabularySize: 11, Context: 6, Layers: 2, ModelWidth: 8, Heads: 2);
        using var inputs = torch.tensor(new long[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 1 }).reshape(2, 6);
        using var targets = inputs.roll(-1, 1);
        using var other = torch.tensor(new long[] { 3, 3, 3, 3, 3, 3 }).reshape(1, 6);

        double[] Train(bool hooked, List<double[]> read, List<double[]> expected)
        {
            torch.manual_seed(7);
            using var model = new CharGpt(config);
            using var optimizer = torch.optim.Adam(model.parameters(), 0.05);
            using var sensor = new LogitSensor();
            var scores = new List<Tensor>();
            if (hooked)
            {
                sensor.Attach(model, optimizer);
                Assert.Equal(2, sensor.AttentionLayers);

                // A second hook on each attention probe point copies the scores the sensor should have seen.
                foreach (var (name, module) in model.named_modules())
                {
                    if (name.EndsWith("." + CharGpt.AttentionScoresModule, StringComparison.Ordinal))
                    {
                        ((nn.Module<Tensor, Tensor>)module).register_forward_hook((_, _, output) =>
                        {
                            scores.Add(output.detach().clone().DetachFromDisposeScope());
                            return null!;
                        });
                    }
                }
            }

            var losses = new List<double>();
            for (int step = 0; step < 4; step++)
            {
                using var scope = torch.NewDisposeScope();
                optimizer.zero_grad();
                var logits = model.call(inputs);
                var loss = nn.functional.cross_entropy(logits.reshape(-1, config.VocabularySize), targets.reshape(-1));
                loss.backward();
                optimizer.step();
                losses.Add(loss.item<float>());
                if (!hooked)
                {
                    continue;
                }

                // Another forward through the attention layers before the read (a probe's): not the one recorded.
                using (torch.no_grad())
                {
                    _ = model.call(other);
                }

                var values = new double[sensor.Signals.Count];
                Array.Fill(values, double.NaN);
                sensor.Read(step, 0.05, values);
                read.Add(values);
                using var output = ForwardLogitHooks.OutputStatistics(logits);
                using var layer0 = ForwardLogitHooks.AttentionStatistics(scores[0]);
                using var layer1 = ForwardLogitHooks.AttentionStatistics(scores[1]);
                double[] o = output.data<double>().ToArray(), a = layer0.data<double>().ToArray(), b = layer1.data<double>().ToArray();
                expected.Add([o[0], o[1], o[2], Math.Max(a[0], b[0]), Math.Min(a[1], b[1])]);
                foreach (var s in scores)
                {
                    s.Dispose();
                }

                scores.Clear();
            }

            return [.. losses];
        }

        double[] plain = Train(hooked: false, [], []);
        var read = new List<double[]>();
        var expected = new List<double[]>();
        double[] hooked = Train(hooked: true, read, expected);

        Assert.Equal(plain, hooked);
        Assert.Equal(4, read.Count);
        for (int step = 0; step < read.Count; step++)
        {
            // The same reductions of the same tensors: equal bit for bit.
            Assert.Equal(expected[step], read[step].AsSpan(0, 5).ToArray());
            Assert.True(read[step][5] >= 0, "the sensor's own time is measured");
        }

        // Training moved the logits: the four reads are not one value repeated.
        Assert.NotEqual(read[0][2], read[3][2]);
    }

    [Fact]
    public void ADigitsModelHasOutputSignalsAndNoAttentionSignals()
    {
        torch.manual_seed(3);
        using var model = new DigitsMlp();
        using var optimizer = torch.optim.SGD(model.parameters(), 0.1);
        using var sensor = new LogitSensor();
        sensor.Attach(model, optimizer);
        using var inputs = torch.ones(4, DigitsDataSet.Features);
        using var logits = model.call(inputs);
        var values = new double[sensor.Signals.Count];
        Array.Fill(values, double.NaN);
        sensor.Read(0, 0.1, values);

        using var stats = ForwardLogitHooks.OutputStatistics(logits);
        Assert.Equal(stats.data<double>().ToArray(), values.AsSpan(0, 3).ToArray());
        Assert.True(double.IsNaN(values[3]) && double.IsNaN(values[4]));
        Assert.Equal(0, sensor.AttentionLayers);
    }

    [Fact]
    public void StepTransformsAreTheBaselineRatioTheSmoothedTrendAndTheHeldWarmup()
    {
        // 0, 1, …, 59: baseline = median of steps 10–19 = 14.5.
        double[] values = [.. Enumerable.Range(0, 60).Select(t => (double)t)];
        var ratio = StepSignalDetector.Transformed(values, StepTransform.RatioToBaseline);
        Assert.All(ratio.Take(StepSignalDetector.BaselineEnd), v => Assert.True(double.IsNaN(v)));
        Assert.Equal(30 / 14.5, ratio[30], 12);

        // The EMA (α = 0.9, started at the first value) of a ramp t lags it by α/(1 − α)·(1 − α^t) exactly.
        static double Ema(int t) => t - (9 * (1 - Math.Pow(0.9, t)));
        var trend = StepSignalDetector.Transformed(values, StepTransform.Trend);
        Assert.True(double.IsNaN(trend[19]));
        Assert.Equal(Ema(45) / Ema(25), trend[45], 10);

        // A value threshold is read from step 0 (on from the step the value reaches it), the transforms from step 20
        // (off before: undefined); nothing is held back to earlier steps.
        var run = new RecordedRun("r", DetectionPlan.Smoke()[0].Setting, 1, SeedRole.Tune, 1, 60, false,
            new Dictionary<string, double[]>(StringComparer.Ordinal) { ["x"] = values }, []);
        var alarm = new StepSignalDetector("x", StepTransform.Value, 5).Alarm(run);
        Assert.Equal(new[] { 5 }, DetectionScoring.Onsets(alarm));
        var below = new StepSignalDetector("x", StepTransform.RatioToBaseline, 2, Above: false).Alarm(run);
        Assert.Equal(new[] { 20 }, DetectionScoring.Onsets(below));
        Assert.True(below[29] && !below[30]);
    }

    [Fact]
    public void CoincidenceIsOnWhileBothZScoresCrossedWithinTheWindow()
    {
        // Two alternating series (z-scores about ±1 after the warm-up) with one jump each: "a" at step 40, "b" at step 43
        // in one run and at step 50 in the other. Each jump alone is a z-score far above 3.
        static double[] Series(int jump) => [.. Enumerable.Range(0, 80).Select(t => (t % 2 == 0 ? 1.0 : -1.0) + (t == jump ? 100 : 0))];
        RecordedRun Run(int jumpB) => new("r", DetectionPlan.Smoke()[0].Setting, 1, SeedRole.Tune, 1, 80, false,
            new Dictionary<string, double[]>(StringComparer.Ordinal) { ["a"] = Series(40), ["b"] = Series(jumpB) }, []);
        var detector = new CoincidenceDetector("a", "b", 3, DetectorCost.Free);
        Assert.True(DetectionScoring.EmaZScores(Series(40), StepZScoreDetector.Alpha, StepZScoreDetector.Warmup)[40] >= 3);

        // b crosses 3 steps after a: on from step 43 (both within the last 5 steps) to step 44 (a's crossing leaves the window at 45).
        var close = detector.Alarm(Run(43));
        Assert.Equal(new[] { 43, 44 }, Enumerable.Range(0, 80).Where(t => close[t]));

        // 10 steps apart: never both within 5 steps.
        Assert.DoesNotContain(true, detector.Alarm(Run(50)));
    }
}

/// <summary>
/// Tests that seed libtorch's global random generator and compare whole training trajectories: they run alone, never
/// in parallel with tests that build models (model construction draws from the same generator).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalGeneratorTests
{
    public const string Name = "Global generator";
}
