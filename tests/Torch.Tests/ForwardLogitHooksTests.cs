using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch.Tests;

/// <summary>
/// <see cref="ForwardLogitHooks"/>: the statistics against values computed by hand in double precision, and the hooks
/// on a tiny model whose logits are known exactly (which forward is read, <c>call</c> against <c>forward</c>, bad
/// names, disposal).
/// </summary>
[Collection(SerialTorchTests.Name)]
public sealed class ForwardLogitHooksTests
{
    // Reductions in float32 of float32 inputs of magnitude ≤ 3 (sums of at most 12 terms): a few float32 ulps
    // (2⁻²³ ≈ 1.2e-7) relative, so 1e-6 relative is safe and still fails on any wrong formula.
    private const double Tolerance = 1e-6;

    [Fact]
    public void OutputStatisticsAreTheMeanLogPartitionTheLargestMagnitudeAndTheRms()
    {
        // Two rows of three classes, given as [B = 1, T = 2, V = 3] so that the reshape to rows is exercised.
        using var logits = torch.tensor(new float[] { 1, -1, 0.5f, 2, 0, -3 }).reshape(1, 2, 3);
        double lse0 = Math.Log(Math.Exp(1) + Math.Exp(-1) + Math.Exp(0.5));
        double lse1 = Math.Log(Math.Exp(2) + Math.Exp(0) + Math.Exp(-3));
        double rms = Math.Sqrt((1 + 1 + 0.25 + 4 + 0 + 9) / 6.0);

        using var stats = ForwardLogitHooks.OutputStatistics(logits);
        double[] read = stats.data<double>().ToArray();

        Assert.Equal(3, read.Length);
        AssertClose((lse0 + lse1) / 2, read[0]);
        AssertClose(3, read[1]);
        AssertClose(rms, read[2]);
    }

    [Fact]
    public void AttentionStatisticsIgnoreMaskedScoresAndTakeTheLastRowsEntropyPerHead()
    {
        // [B = 2, heads = 2, T = 2, T = 2], causal: row 0 sees key 0 only (−∞ on key 1), row 1 sees both keys.
        float ninf = float.NegativeInfinity;
        float[] values =
        [
            0.5f, ninf, 1, 2,     -2.5f, ninf, 0, 0,           // batch 0: head 0, head 1
            3, ninf, -1, 1,        0.25f, ninf, 0.5f, -0.5f,   // batch 1: head 0, head 1
        ];
        using var scores = torch.tensor(values).reshape(2, 2, 2, 2);

        // −Σ p ln p of the last row: a different formula from the hooks' log Z − Σ p·s.
        static double Entropy(double a, double b)
        {
            double pa = Math.Exp(a) / (Math.Exp(a) + Math.Exp(b)), pb = 1 - pa;
            return -((pa * Math.Log(pa)) + (pb * Math.Log(pb)));
        }

        double head0 = (Entropy(1, 2) + Entropy(-1, 1)) / 2;
        double head1 = (Entropy(0, 0) + Entropy(0.5, -0.5)) / 2;

        using var stats = ForwardLogitHooks.AttentionStatistics(scores);
        double[] read = stats.data<double>().ToArray();

        Assert.Equal(2, read.Length);
        AssertClose(3, read[0]);
        AssertClose(Math.Min(head0, head1), read[1]);
        Assert.True(head0 < head1 - 0.1, "the test distinguishes the heads");
    }

    [Fact]
    public void HooksReadTheFirstForwardThroughCallAfterEachRead()
    {
        using var model = new ScoresAndLogits();
        using var hooks = new ForwardLogitHooks(model, outputModule: "", [ScoresAndLogits.ProbeName]);
        Assert.Equal(1, hooks.AttentionLayers);
        Assert.Null(hooks.TryRead());

        // model.forward does not fire the model's hook (the output statistics stay NaN); the probe point inside it is
        // invoked with call and fires. Then call fires both, and a second call before the read is not taken.
        using var x = torch.tensor(new float[] { 1, -1, 0.5f, 2, 0, -3 }).reshape(1, 2, 3);
        using (model.forward(x))
        {
        }

        var viaForward = hooks.TryRead()!;
        Assert.True(double.IsNaN(viaForward.OutputLogPartition) && double.IsNaN(viaForward.MaxAbsOutputLogit) && double.IsNaN(viaForward.OutputLogitRms));
        AssertClose(13, viaForward.MaxAttentionLogit);
        Assert.Null(hooks.TryRead());
        using (model.call(x))
        using (model.call(x * 10))
        {
        }

        var first = hooks.TryRead();
        Assert.NotNull(first);
        using (var expectedOutput = ForwardLogitHooks.OutputStatistics(x))
        using (var expectedAttention = ForwardLogitHooks.AttentionStatistics(ScoresAndLogits.Scores(x)))
        {
            double[] o = expectedOutput.data<double>().ToArray(), a = expectedAttention.data<double>().ToArray();
            Assert.Equal(new ForwardLogitStatistics(o[0], o[1], o[2], a[0], a[1]), first);
        }

        AssertClose(3, first!.MaxAbsOutputLogit);

        // Re-armed by the read: the next call is taken.
        using (model.call(x * 10))
        {
        }

        AssertClose(30, hooks.TryRead()!.MaxAbsOutputLogit);
        Assert.True(hooks.CaptureTime > TimeSpan.Zero);

        hooks.Dispose();
        using (model.call(x))
        {
        }

        Assert.Null(hooks.TryRead());
        hooks.Dispose();
    }

    [Fact]
    public void DisarmedHooksTakeNothingAndArmDiscardsAnEarlierCapture()
    {
        using var model = new ScoresAndLogits();
        using var hooks = new ForwardLogitHooks(model, outputModule: "", [ScoresAndLogits.ProbeName]);
        using var x = torch.tensor(new float[] { 1, -1, 0.5f, 2, 0, -3 }).reshape(1, 2, 3);

        hooks.Disarm();
        using (model.call(x))
        {
        }

        Assert.Equal(TimeSpan.Zero, hooks.CaptureTime); // a disarmed hook does no reduction
        Assert.Null(hooks.TryRead());

        // Armed again by that read; Arm discards the capture of x and the next forward, of 10x, is taken.
        using (model.call(x))
        {
        }

        hooks.Arm();
        using (model.call(x * 10))
        using (model.call(x))
        {
        }

        var read = hooks.TryRead()!;
        AssertClose(30, read.MaxAbsOutputLogit);
        AssertClose(1300, read.MaxAttentionLogit);

        hooks.Disarm();
        hooks.Dispose();
        hooks.Arm(); // after Dispose: nothing, no throw
        Assert.Null(hooks.TryRead());
    }

    [Fact]
    public void OutputOnlyHooksReportNaNForAttentionAndAttentionOnlyHooksNaNForTheOutput()
    {
        using var model = new ScoresAndLogits();
        using var x = torch.tensor(new float[] { 1, -1, 0.5f, 2, 0, -3 }).reshape(1, 2, 3);
        using (var outputOnly = new ForwardLogitHooks(model, "", []))
        using (var attentionOnly = new ForwardLogitHooks(model, null, [ScoresAndLogits.ProbeName]))
        {
            using (model.call(x))
            {
            }

            var o = outputOnly.TryRead()!;
            Assert.True(double.IsFinite(o.OutputLogPartition) && double.IsNaN(o.MaxAttentionLogit) && double.IsNaN(o.MinAttentionEntropy));
            var a = attentionOnly.TryRead()!;
            Assert.True(double.IsNaN(a.OutputLogPartition) && double.IsNaN(a.OutputLogitRms));
            AssertClose(13, a.MaxAttentionLogit); // x·xᵀ of the rows (1, −1, 0.5) and (2, 0, −3): 2.25, 0.5 and 13 below the diagonal
        }
    }

    [Fact]
    public void BadModuleNamesAreRefusedAtConstruction()
    {
        using var model = new ScoresAndLogits();
        Assert.Throws<ArgumentException>(() => new ForwardLogitHooks(model, "nope", []));
        Assert.Throws<ArgumentException>(() => new ForwardLogitHooks(model, "", ["nope"]));
        Assert.Throws<ArgumentException>(() => new ForwardLogitHooks(model, null, []));
    }

    [Fact]
    public void HooksLeaveTrainingBitIdentical()
    {
        double[] Train(bool hooked)
        {
            torch.manual_seed(5);
            using var model = new ScoresAndLogits(trainable: true);
            using var optimizer = torch.optim.Adam(model.parameters(), 0.1);
            using var hooks = hooked ? new ForwardLogitHooks(model, "", [ScoresAndLogits.ProbeName]) : null;
            using var x = torch.tensor(new float[] { 1, -1, 0.5f, 2, 0, -3 }).reshape(1, 2, 3);
            using var target = torch.tensor(new long[] { 2, 0 });
            var losses = new List<double>();
            for (int step = 0; step < 5; step++)
            {
                using var scope = torch.NewDisposeScope();
                optimizer.zero_grad();
                var loss = nn.functional.cross_entropy(model.call(x).reshape(-1, 3), target);
                loss.backward();
                optimizer.step();
                losses.Add(loss.item<float>());
                Assert.True(!hooked || hooks!.TryRead() is not null);
            }

            return [.. losses];
        }

        Assert.Equal(Train(hooked: false), Train(hooked: true));
    }

    private static void AssertClose(double expected, double actual) =>
        Assert.True(Math.Abs(actual - expected) <= Tolerance * Math.Max(1, Math.Abs(expected)), $"expected {expected:R}, got {actual:R}");

    /// <summary>
    /// Known logits: the output is the input (times a scale, 1 unless trainable), and the "attention scores" are the
    /// input's rows against themselves, x·xᵀ with −∞ above the diagonal, passed through an Identity probe point.
    /// </summary>
    internal sealed class ScoresAndLogits : nn.Module<Tensor, Tensor>
    {
        public const string ProbeName = "probe";

        private readonly Identity probe;
        private readonly Parameter scale;

        public ScoresAndLogits(bool trainable = false)
            : base(nameof(ScoresAndLogits))
        {
            probe = nn.Identity();
            scale = new Parameter(torch.ones(1), requires_grad: trainable);
            RegisterComponents();
        }

        /// <summary>x·xᵀ per batch with −∞ above the diagonal: [B, 1 head, T, T].</summary>
        public static Tensor Scores(Tensor x)
        {
            using var scope = torch.NewDisposeScope();
            long t = x.shape[1];
            var mask = torch.full(t, t, float.NegativeInfinity).triu(1);
            return (x.matmul(x.transpose(-2, -1)) + mask).unsqueeze(1).MoveToOuterDisposeScope();
        }

        public override Tensor forward(Tensor input)
        {
            using var scope = torch.NewDisposeScope();
            var scaled = input * scale;
            _ = probe.call(Scores(scaled));
            return scaled.MoveToOuterDisposeScope();
        }
    }
}
