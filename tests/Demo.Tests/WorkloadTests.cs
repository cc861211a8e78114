using SpectralMonitor.Examples.Workloads;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Examples.InstabilityDemo.Tests;

/// <summary>The shipped data, the batchers, the models and the runner of examples/Workloads.</summary>
/// <remarks>In the quick run's collection: these tests train TorchSharp models too, and run after it, not beside it.</remarks>
[Collection(QuickRunGroup.Name)]
public sealed class WorkloadTests
{
    private static readonly WorkloadData Data = new();

    [Fact]
    public void The_digits_are_the_1797_images_of_the_shipped_file()
    {
        var digits = Data.Digits;
        Assert.Equal(1797, digits.Count);
        Assert.Equal(1797 * 64, digits.Pixels.Length);

        // Class sizes of the UCI optdigits test set (zcat data/digits/digits.csv.gz | cut -d, -f65 | sort | uniq -c).
        var counts = new int[10];
        foreach (long label in digits.Labels)
        {
            counts[label]++;
        }

        Assert.Equal([178, 182, 177, 183, 181, 182, 181, 179, 174, 180], counts);

        // The first row of the file is a 0: 0,0,5,13,9,1,0,0,... scaled by 1/16 (exact in binary floating point).
        Assert.Equal(0, digits.Labels[0]);
        Assert.Equal([0f, 0f, 5 / 16f, 13 / 16f, 9 / 16f, 1 / 16f, 0f, 0f], digits.Pixels[..8].ToArray());
        foreach (float p in digits.Pixels)
        {
            Assert.InRange(p, 0f, 1f);
        }
    }

    [Fact]
    public void The_corpus_is_pride_and_prejudice_with_a_75_character_vocabulary()
    {
        var corpus = Data.Corpus;
        Assert.Equal(684_768, corpus.Text.Length);
        Assert.StartsWith("PRIDE AND PREJUDICE\n\nBy Jane Austen", corpus.Text, StringComparison.Ordinal);
        Assert.Contains("It is a truth universally acknowledged", corpus.Text, StringComparison.Ordinal);
        Assert.Equal(75, corpus.VocabularySize);
        Assert.True(corpus.Vocabulary.SequenceEqual(corpus.Vocabulary.Order()), "the vocabulary is sorted");
        Assert.Equal(corpus.Text[..200], corpus.Decode(corpus.Tokens[..200].ToArray()));
        Assert.Equal('e', corpus.Vocabulary[corpus.Encode('e')]);
    }

    [Fact]
    public void Batchers_are_deterministic_per_seed_and_targets_are_the_next_characters()
    {
        using var scope = torch.NewDisposeScope();
        var a = new CharBatcher(Data.Corpus, context: 16, batchSize: 4, seed: 7);
        var b = new CharBatcher(Data.Corpus, context: 16, batchSize: 4, seed: 7);
        var c = new CharBatcher(Data.Corpus, context: 16, batchSize: 4, seed: 8);
        for (int i = 0; i < 3; i++)
        {
            var x = a.NextBatch();
            var y = b.NextBatch();
            Assert.True(x.Inputs.eq(y.Inputs).all().item<bool>());
            Assert.False(x.Inputs.eq(c.NextBatch().Inputs).all().item<bool>());

            // Target t is input t + 1 of the same window.
            Assert.True(x.Targets[.., ..15].eq(x.Inputs[.., 1..]).all().item<bool>());
            Assert.Equal([4L, 16L], x.Inputs.shape);
        }

        Assert.True(a.ProbeBatch().Inputs.eq(a.ProbeBatch().Inputs).all().item<bool>());

        // One epoch of the digits visits distinct images: 28 batches of 64 from a shuffled order of 1797.
        var digits = new DigitsBatcher(Data.Digits, batchSize: 64, seed: 3, images: true);
        var seen = new HashSet<string>();
        for (int i = 0; i < 1797 / 64; i++)
        {
            var batch = digits.NextBatch();
            Assert.Equal([64L, 1L, 8L, 8L], batch.Inputs.shape);
            var rows = batch.Inputs.reshape(64, 64).data<float>().ToArray();
            for (int r = 0; r < 64; r++)
            {
                seen.Add(string.Join(',', rows.Skip(r * 64).Take(64)));
            }
        }

        // Distinct rows of pixels: at most the number of images (the set has a few exact duplicates).
        Assert.InRange(seen.Count, 1790, 1792);
    }

    [Fact]
    public void The_gpt_has_the_documented_size_and_is_causal()
    {
        // The global generator is shared with the quick run's training threads in this process: hold their lock.
        lock (WorkloadRunner.GlobalGeneratorLock)
        {
            GptSizeAndCausality();
        }
    }

    private static void GptSizeAndCausality()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(5);
        var config = new GptConfig(VocabularySize: 75, Context: 32, Layers: 1, ModelWidth: 64, Heads: 4);
        using var model = new CharGpt(config);

        // token 75·64 + position 32·64 + block (2 LayerNorms 2·128, qkv 64·192+192, out 64·64+64, MLP 64·256+256
        // and 256·64+64) + final LayerNorm 128 + head 64·75+75.
        long expected = (75 * 64) + (32 * 64) + (2 * 128) + ((64 * 192) + 192) + ((64 * 64) + 64) + ((64 * 256) + 256) + ((256 * 64) + 64) + 128 + ((64 * 75) + 75);
        Assert.Equal(61_835, expected);
        Assert.Equal(expected, model.parameters().Sum(p => p.numel()));

        model.eval();
        var tokens = torch.randint(0, 75, [2, 32], dtype: ScalarType.Int64);
        var changed = tokens.clone();
        changed[.., 20] = (changed[.., 20] + 1) % 75;
        using var noGrad = torch.no_grad();
        var logits = model.forward(tokens);
        var other = model.forward(changed);
        Assert.Equal([2L, 32L, 75L], logits.shape);

        // Positions before 20 cannot see token 20: bit-identical. Position 20 and after do see it.
        Assert.True(logits[.., ..20].eq(other[.., ..20]).all().item<bool>());
        Assert.False(logits[.., 20..].eq(other[.., 20..]).all().item<bool>());
    }

    [Fact]
    public void Causal_attention_matches_torch_scaled_dot_product_attention()
    {
        lock (WorkloadRunner.GlobalGeneratorLock)
        {
            AttentionAgainstLibtorch();
        }
    }

    private static void AttentionAgainstLibtorch()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(11);
        var config = new GptConfig(VocabularySize: 10, Context: 8, Layers: 1, ModelWidth: 16, Heads: 4);
        using var attention = new CausalSelfAttention(config);
        var parameters = attention.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var x = torch.randn(3, 8, 16);

        using var noGrad = torch.no_grad();
        var actual = attention.forward(x);

        // The same computation through libtorch's own causal attention: q, k, v from one linear map, heads of 4.
        var qkv = nn.functional.linear(x, parameters["queryKeyValue.weight"], parameters["queryKeyValue.bias"]).view(3, 8, 3, 4, 4).permute(2, 0, 3, 1, 4);
        var mixed = nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], is_casual: true);
        var expected = nn.functional.linear(mixed.transpose(1, 2).reshape(3, 8, 16), parameters["output.weight"], parameters["output.bias"]);

        // float32, a softmax over 8 keys and two 16-wide matrix products: agreement to a few ulps of values of
        // order 1 (observed ~1e-7); 1e-5 leaves room for a different summation order.
        Assert.True(actual.allclose(expected, rtol: 0, atol: 1e-5), $"max difference {(actual - expected).abs().max().item<float>()}");
    }

    [Fact]
    public void Runs_are_reproducible_start_at_the_uniform_loss_and_follow_the_warm_up()
    {
        var spec = new RunSpec("t", WorkloadKind.CharGpt, OptimizerKind.AdamW, 0.01, Steps: 30, Seed: 4, BatchSize: 8, WarmupSteps: 10);
        var first = WorkloadRunner.Run(spec, monitorOptions: null, data: Data, cancellationToken: TestContext.Current.CancellationToken);
        var second = WorkloadRunner.Run(spec, monitorOptions: null, data: Data, cancellationToken: TestContext.Current.CancellationToken);
        var other = WorkloadRunner.Run(spec with { Seed = 5 }, monitorOptions: null, data: Data, cancellationToken: TestContext.Current.CancellationToken);

        // One torch thread, seeded weights and batches: bit-identical losses; another seed differs.
        Assert.Equal(first.Losses, second.Losses);
        Assert.NotEqual(first.Losses, other.Losses);

        // GPT-2 initialization (std 0.02) gives near-zero logits: the first loss is ln 75 = 4.3175 up to the logits'
        // spread (|logit| ≲ 0.1 here moves the loss by less than 0.05).
        Assert.InRange(first.Losses[0], Math.Log(75) - 0.05, Math.Log(75) + 0.05);
        Assert.True(first.Losses.Skip(20).Average() < first.Losses.Take(5).Average(), "the loss falls");

        // The learning rate each step used: (t + 1)/10 of the peak during the warm-up, then the peak.
        Assert.Equal(Enumerable.Range(0, 30).Select(t => spec.ScheduledLearningRate(t)), first.LearningRates);
        Assert.Equal(0.001, first.LearningRates[0], 1e-15);
        Assert.Equal(0.01, first.LearningRates[29]);

        var mlp = WorkloadRunner.Run(new RunSpec("m", WorkloadKind.DigitsMlp, OptimizerKind.Adam, 0.003, Steps: 40, Seed: 1, BatchSize: 32), null, data: Data, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(17_226, mlp.ParameterCount);
        Assert.True(mlp.Losses.Skip(30).Average() < 0.8 * mlp.Losses.Take(5).Average(), "the MLP learns");
    }

    [Fact]
    public void A_monitored_run_reports_probes_and_keeps_the_backoff_under_the_schedule()
    {
        var spec = new RunSpec("b", WorkloadKind.DigitsCnn, OptimizerKind.SgdMomentum, 0.2, Steps: 60, Seed: 1, BatchSize: 64) { ProbeBatchSize = 64 };
        var factors = new List<double>();
        var options = new StabilityMonitorOptions { RunName = "b", ProbeInterval = 10, OverheadBudget = 1, Backoff = new Backoff.BackoffOptions() };
        var trace = WorkloadRunner.Run(spec, options, report => factors.Add(report.Monitor!.BackoffFactor), Data, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(60, trace.Losses.Count);
        Assert.NotEmpty(trace.Probes);
        Assert.All(trace.Probes, p => Assert.Equal(ProbeStatus.Succeeded, p.Status));
        Assert.Equal(trace.Probes.Sum(p => p.Duration.Ticks), trace.ProbeTime.Ticks);

        // Step t + 1 runs at the schedule times the factor in force after step t (the governor multiplies the
        // rate that the schedule wrote); exact, as both are the same double products.
        for (int t = 0; t + 1 < trace.LearningRates.Count; t++)
        {
            Assert.Equal(spec.ScheduledLearningRate(t + 1) * factors[t], trace.LearningRates[t + 1], 1e-15);
        }
    }
}
