using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralMonitor.Benchmarks.Torch;

/// <summary>A seeded model with its data: a training batch stream and one fixed probe batch, all on one device.</summary>
internal interface IBenchModel : IDisposable
{
    string Name { get; }

    nn.Module<Tensor, Tensor> Module { get; }

    long ParameterCount { get; }

    /// <summary>The probe batch (inputs, targets), held for the whole run.</summary>
    (Tensor Inputs, Tensor Targets) ProbeBatch { get; }

    /// <summary>The loss of (model output, targets).</summary>
    Tensor Loss(Tensor output, Tensor targets);

    /// <summary>The training batch of step <paramref name="step"/> (deterministic, rows drawn from the training set).</summary>
    (Tensor Inputs, Tensor Targets) TrainingBatch(long step);
}

/// <summary>Model sizes: tiny for tests, ~10⁶ parameters for the CPU probe-cost benchmark, ≥ 10⁷ for the GPU check.</summary>
internal enum ModelSize
{
    Tiny,
    Million,
    TenMillion,
}

/// <summary>
/// One of probe-cost's two cases, shared by the studies that follow the same runs (warm-subspace, stopping-rules): the
/// MLP trained with SGD-momentum at lr 0.05 and the GPT with AdamW at lr 1e-3.
/// </summary>
/// <param name="Name">The <c>--model</c> value: <c>mlp</c> or <c>gpt</c>.</param>
/// <param name="Model">Builds the model at a size, on the CPU.</param>
/// <param name="Optimizer">The optimizer's kind for <see cref="Training.Optimizer"/>.</param>
/// <param name="LearningRate">Its learning rate.</param>
internal sealed record ProbeCostCase(string Name, Func<ModelSize, IBenchModel> Model, string Optimizer, double LearningRate)
{
    /// <summary>Both cases, MLP first.</summary>
    public static IReadOnlyList<ProbeCostCase> All { get; } =
    [
        new("mlp", size => BenchModels.Mlp(size, CPU), "sgd", 0.05),
        new("gpt", size => BenchModels.Gpt(size, CPU), "adamw", 1e-3),
    ];

    /// <summary>The case called <paramref name="name"/>, or null.</summary>
    public static ProbeCostCase? Named(string? name) => All.FirstOrDefault(c => c.Name == name);

    /// <summary>The case's optimizer over <paramref name="model"/>'s parameters.</summary>
    public optim.Optimizer CreateOptimizer(IBenchModel model) => Training.Optimizer(model, Optimizer, LearningRate);
}

/// <summary>Builds the benchmark models.</summary>
internal static class BenchModels
{
    /// <summary>A tanh MLP classifier on a teacher-labelled Gaussian data set.</summary>
    public static IBenchModel Mlp(ModelSize size, Device device, ScalarType dtype = ScalarType.Float32, int seed = 1, int probeRows = 256)
    {
        int[] widths = size switch
        {
            ModelSize.Tiny => [16, 32, 32, 4],
            ModelSize.Million => [512, 1024, 512, 10],
            _ => [1024, 2048, 2048, 2048, 10],
        };
        return new MlpModel(widths, device, dtype, seed, probeRows);
    }

    /// <summary>A small causal transformer (GPT-style, pre-norm) on sequences from a seeded Markov chain.</summary>
    public static IBenchModel Gpt(ModelSize size, Device device, ScalarType dtype = ScalarType.Float32, int seed = 1, int probeSequences = 4)
    {
        var shape = size switch
        {
            ModelSize.Tiny => new GptShape(Vocabulary: 16, Width: 16, Layers: 1, Heads: 2, Context: 8),
            ModelSize.Million => new GptShape(Vocabulary: 64, Width: 128, Layers: 5, Heads: 4, Context: 64),
            _ => new GptShape(Vocabulary: 64, Width: 384, Layers: 6, Heads: 6, Context: 64),
        };
        return new GptModel(shape, device, dtype, seed, probeSequences);
    }

    internal static long Count(nn.Module module) => module.parameters().Sum(p => p.numel());
}

internal sealed record GptShape(int Vocabulary, int Width, int Layers, int Heads, int Context);

internal sealed class MlpModel : IBenchModel
{
    private const int TrainingRows = 4096;
    private const int BatchRows = 128;
    private readonly Tensor _inputs;
    private readonly Tensor _labels;
    private readonly Tensor _probeInputs;
    private readonly Tensor _probeLabels;

    public MlpModel(int[] widths, Device device, ScalarType dtype, int seed, int probeRows)
    {
        torch.manual_seed(seed);
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (int i = 0; i + 1 < widths.Length; i++)
        {
            layers.Add(($"fc{i + 1}", nn.Linear(widths[i], widths[i + 1], dtype: dtype)));
            if (i + 2 < widths.Length)
            {
                layers.Add(($"act{i + 1}", nn.Tanh()));
            }
        }

        Module = nn.Sequential(layers).to(device);
        Name = $"MLP {string.Join("-", widths)}";
        ParameterCount = BenchModels.Count(Module);
        using var generator = new Generator((ulong)seed + 7);
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(new long[] { TrainingRows + probeRows, widths[0] }, dtype, generator: generator);
        var teacher = torch.randn(new long[] { widths[0], widths[^1] }, dtype, generator: generator);
        var labels = x.matmul(teacher).argmax(1);
        _inputs = x.narrow(0, 0, TrainingRows).to(device).DetachFromDisposeScope();
        _labels = labels.narrow(0, 0, TrainingRows).to(device).DetachFromDisposeScope();
        _probeInputs = x.narrow(0, TrainingRows, probeRows).to(device).DetachFromDisposeScope();
        _probeLabels = labels.narrow(0, TrainingRows, probeRows).to(device).DetachFromDisposeScope();
    }

    public string Name { get; }

    public nn.Module<Tensor, Tensor> Module { get; }

    public long ParameterCount { get; }

    public (Tensor Inputs, Tensor Targets) ProbeBatch => (_probeInputs, _probeLabels);

    public Tensor Loss(Tensor output, Tensor targets) => nn.functional.cross_entropy(output, targets);

    public (Tensor Inputs, Tensor Targets) TrainingBatch(long step)
    {
        long start = step * BatchRows % (TrainingRows - BatchRows);
        return (_inputs.narrow(0, start, BatchRows), _labels.narrow(0, start, BatchRows));
    }

    public void Dispose()
    {
        _inputs.Dispose();
        _labels.Dispose();
        _probeInputs.Dispose();
        _probeLabels.Dispose();
        Module.Dispose();
    }
}

internal sealed class GptModel : IBenchModel
{
    private const int TrainingSequences = 512;
    private const int BatchSequences = 8;
    private readonly GptShape _shape;
    private readonly Tensor _tokens;
    private readonly Tensor _probeTokens;
    private readonly Tensor _probeInputs;
    private readonly Tensor _probeTargets;

    public GptModel(GptShape shape, Device device, ScalarType dtype, int seed, int probeSequences)
    {
        _shape = shape;
        torch.manual_seed(seed);
        Module = new Gpt(shape, dtype).to(device);
        Name = $"GPT d{shape.Width} L{shape.Layers} h{shape.Heads} T{shape.Context} V{shape.Vocabulary}";
        ParameterCount = BenchModels.Count(Module);

        // Sequences of a seeded Markov chain with a few likely successors per token: learnable, not trivial.
        var random = new Random(seed + 11);
        int v = shape.Vocabulary;
        var successors = new int[v, 3];
        for (int a = 0; a < v; a++)
        {
            for (int s = 0; s < 3; s++)
            {
                successors[a, s] = random.Next(v);
            }
        }

        int total = TrainingSequences + probeSequences;
        var data = new long[total * (shape.Context + 1)];
        for (int q = 0; q < total; q++)
        {
            int token = random.Next(v);
            for (int t = 0; t <= shape.Context; t++)
            {
                data[(q * (shape.Context + 1)) + t] = token;
                double u = random.NextDouble();
                token = u < 0.1 ? random.Next(v) : successors[token, u < 0.6 ? 0 : u < 0.85 ? 1 : 2];
            }
        }

        using var scope = torch.NewDisposeScope();
        var all = torch.tensor(data, new long[] { total, shape.Context + 1 }).to(device);
        _tokens = all.narrow(0, 0, TrainingSequences).DetachFromDisposeScope();
        _probeTokens = all.narrow(0, TrainingSequences, probeSequences).DetachFromDisposeScope();
        _probeInputs = _probeTokens.narrow(1, 0, shape.Context).DetachFromDisposeScope();
        _probeTargets = _probeTokens.narrow(1, 1, shape.Context).DetachFromDisposeScope();
    }

    public string Name { get; }

    public nn.Module<Tensor, Tensor> Module { get; }

    public long ParameterCount { get; }

    public (Tensor Inputs, Tensor Targets) ProbeBatch => (_probeInputs, _probeTargets);

    public Tensor Loss(Tensor output, Tensor targets)
    {
        using var flatOutput = output.reshape(-1, _shape.Vocabulary);
        using var flatTargets = targets.reshape(-1);
        return nn.functional.cross_entropy(flatOutput, flatTargets);
    }

    public (Tensor Inputs, Tensor Targets) TrainingBatch(long step)
    {
        long start = step * BatchSequences % (TrainingSequences - BatchSequences);
        using var rows = _tokens.narrow(0, start, BatchSequences);
        return (rows.narrow(1, 0, _shape.Context), rows.narrow(1, 1, _shape.Context));
    }

    public void Dispose()
    {
        _probeInputs.Dispose();
        _probeTargets.Dispose();
        _probeTokens.Dispose();
        _tokens.Dispose();
        Module.Dispose();
    }
}

/// <summary>Token and position embeddings, pre-norm blocks (causal self-attention, GELU MLP), final norm, linear head.</summary>
internal sealed class Gpt : nn.Module<Tensor, Tensor>
{
    private readonly Embedding tokens;
    private readonly Embedding positions;
    private readonly ModuleList<GptBlock> blocks;
    private readonly LayerNorm norm;
    private readonly Linear head;

    public Gpt(GptShape shape, ScalarType dtype)
        : base("gpt")
    {
        tokens = nn.Embedding(shape.Vocabulary, shape.Width, dtype: dtype);
        positions = nn.Embedding(shape.Context, shape.Width, dtype: dtype);
        blocks = nn.ModuleList(Enumerable.Range(0, shape.Layers).Select(_ => new GptBlock(shape, dtype)).ToArray());
        norm = nn.LayerNorm(shape.Width, dtype: dtype);
        head = nn.Linear(shape.Width, shape.Vocabulary, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        long t = input.shape[1];
        var index = torch.arange(t, device: input.device);
        var x = tokens.forward(input) + positions.forward(index);
        foreach (var block in blocks)
        {
            x = block.forward(x);
        }

        return head.forward(norm.forward(x)).MoveToOuterDisposeScope();
    }
}

internal sealed class GptBlock : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm norm1;
    private readonly LayerNorm norm2;
    private readonly Linear qkv;
    private readonly Linear projection;
    private readonly Linear up;
    private readonly Linear down;
    private readonly Tensor mask;
    private readonly Tensor scale;
    private readonly int _heads;

    public GptBlock(GptShape shape, ScalarType dtype)
        : base("block")
    {
        _heads = shape.Heads;
        norm1 = nn.LayerNorm(shape.Width, dtype: dtype);
        norm2 = nn.LayerNorm(shape.Width, dtype: dtype);
        qkv = nn.Linear(shape.Width, 3 * shape.Width, dtype: dtype);
        projection = nn.Linear(shape.Width, shape.Width, dtype: dtype);
        up = nn.Linear(shape.Width, 4 * shape.Width, dtype: dtype);
        down = nn.Linear(4 * shape.Width, shape.Width, dtype: dtype);

        // Additive causal mask (0 on and below the diagonal, a large negative number above) and 1/√d as a tensor, so
        // that the forward pass creates no Scalar objects.
        using var ones = torch.ones(shape.Context, shape.Context, dtype: dtype);
        using var upper = torch.triu(ones, 1);
        mask = (upper * -1e9).DetachFromDisposeScope();
        scale = torch.tensor(1.0 / Math.Sqrt(shape.Width / shape.Heads), dtype).DetachFromDisposeScope();
        register_buffer("mask", mask, persistent: false);
        register_buffer("scale", scale, persistent: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], d = x.shape[2];
        long dh = d / _heads;
        var q3 = qkv.forward(norm1.forward(x)).reshape(b, t, 3, _heads, dh).permute(2, 0, 3, 1, 4);
        var q = q3[0];
        var k = q3[1];
        var v = q3[2];
        var maskT = mask.narrow(0, 0, t).narrow(1, 0, t);
        var attention = (q.matmul(k.transpose(-2, -1)) * scale + maskT).softmax(-1);
        var mixed = attention.matmul(v).transpose(1, 2).reshape(b, t, d);
        var h = x + projection.forward(mixed);
        var result = h + down.forward(nn.functional.gelu(up.forward(norm2.forward(h))));
        return result.MoveToOuterDisposeScope();
    }
}
