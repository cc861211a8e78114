using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralMonitor.Examples.Workloads;

/// <summary>Size of a <see cref="CharGpt"/>.</summary>
/// <param name="VocabularySize">Distinct tokens (characters).</param>
/// <param name="Context">Longest input sequence (positions with a learned embedding).</param>
/// <param name="Layers">Transformer blocks.</param>
/// <param name="ModelWidth">d_model, a multiple of <paramref name="Heads"/>.</param>
/// <param name="Heads">Attention heads per block.</param>
public sealed record GptConfig(int VocabularySize, int Context = 32, int Layers = 1, int ModelWidth = 64, int Heads = 4)
{
    /// <summary>Checks the sizes.</summary>
    /// <exception cref="ArgumentException">A size is not positive, or the width is not a multiple of the heads.</exception>
    public void Validate()
    {
        if (VocabularySize < 2 || Context < 1 || Layers < 1 || ModelWidth < 1 || Heads < 1 || ModelWidth % Heads != 0)
        {
            throw new ArgumentException($"Invalid GPT configuration {this}: sizes must be positive (vocabulary ≥ 2) and ModelWidth a multiple of Heads.");
        }
    }
}

/// <summary>
/// A small decoder-only transformer over characters (GPT-2 layout): token and learned position embeddings, pre-LN
/// blocks (x + attention(LN(x)), then x + MLP(LN(x)) with a 4× GELU MLP), causal multi-head self-attention written
/// out with <see cref="Linear"/> modules and a −∞ mask above the diagonal, a final LayerNorm and a linear head.
/// <c>forward</c> maps token indices [B, T] (T ≤ context) to logits [B, T, vocabulary]. Weights are initialized as in
/// GPT-2: N(0, 0.02), residual output projections N(0, 0.02/√(2·layers)), biases 0, LayerNorm (1, 0).
/// </summary>
public sealed class CharGpt : nn.Module<Tensor, Tensor>
{
    private readonly Embedding token;
    private readonly Embedding position;
    private readonly ModuleList<TransformerBlock> blocks;
    private readonly LayerNorm final;
    private readonly Linear head;

    // 0, 1, …, context − 1: a buffer made once. torch.arange(long) at every forward would convert its bounds to
    // Scalar objects that nothing disposes; TorchSharp frees those in finalizers, which can race with the native call
    // that still uses them (seen once as a corrupted Scalar in a two-thread demo run), so the hot path creates none.
    private readonly Tensor positions;

    /// <summary>Creates the model with fresh weights from torch's global generator (seed it first).</summary>
    /// <param name="config">Its size.</param>
    public CharGpt(GptConfig config)
        : base(nameof(CharGpt))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        token = nn.Embedding(config.VocabularySize, config.ModelWidth);
        position = nn.Embedding(config.Context, config.ModelWidth);
        blocks = nn.ModuleList([.. Enumerable.Range(0, config.Layers).Select(i => new TransformerBlock($"block{i}", config))]);
        final = nn.LayerNorm(config.ModelWidth);
        head = nn.Linear(config.ModelWidth, config.VocabularySize);
        positions = torch.arange(0, config.Context, 1, dtype: ScalarType.Int64);
        RegisterComponents();

        using var noGrad = torch.no_grad();
        double residualStd = 0.02 / Math.Sqrt(2.0 * config.Layers);
        foreach (var (name, parameter) in named_parameters())
        {
            if (name.EndsWith("bias", StringComparison.Ordinal))
            {
                nn.init.zeros_(parameter);
            }
            else if (name.Contains("norm", StringComparison.Ordinal) || name.StartsWith("final", StringComparison.Ordinal))
            {
                nn.init.ones_(parameter);
            }
            else
            {
                nn.init.normal_(parameter, 0, name.EndsWith("output.weight", StringComparison.Ordinal) ? residualStd : 0.02);
            }
        }
    }

    /// <summary>
    /// The last segment of the name (in <c>named_modules()</c>) of each attention layer's probe point: a no-op
    /// <see cref="Identity"/> through which the pre-softmax attention scores [B, heads, T, T] pass, masked entries −∞.
    /// A forward hook registered on it (<c>register_forward_hook</c>) sees the scores of every forward.
    /// </summary>
    public const string AttentionScoresModule = "scores";

    /// <summary>The model's size.</summary>
    public GptConfig Config { get; }

    /// <summary>The names (in <c>named_modules()</c>) of every attention layer's probe point (<see cref="AttentionScoresModule"/>).</summary>
    public IReadOnlyList<string> AttentionScoreModuleNames =>
        [.. named_modules().Select(m => m.name)
            .Where(n => n == AttentionScoresModule || n.EndsWith("." + AttentionScoresModule, StringComparison.Ordinal))];

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        long length = input.shape[1];
        if (length > Config.Context)
        {
            throw new ArgumentException($"Sequences of {length} tokens exceed the context of {Config.Context}.", nameof(input));
        }

        using var scope = torch.NewDisposeScope();
        var x = token.forward(input) + position.forward(positions[..(int)length]);
        foreach (var block in blocks)
        {
            x = block.forward(x);
        }

        return head.forward(final.forward(x)).MoveToOuterDisposeScope();
    }
}

/// <summary>One pre-LN transformer block: x + attention(LN(x)), then x + MLP(LN(x)).</summary>
internal sealed class TransformerBlock : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm norm1;
    private readonly CausalSelfAttention attention;
    private readonly LayerNorm norm2;
    private readonly Linear expand;
    private readonly GELU activation;
    private readonly Linear output;

    public TransformerBlock(string name, GptConfig config)
        : base(name)
    {
        norm1 = nn.LayerNorm(config.ModelWidth);
        attention = new CausalSelfAttention(config);
        norm2 = nn.LayerNorm(config.ModelWidth);
        expand = nn.Linear(config.ModelWidth, 4 * config.ModelWidth);
        activation = nn.GELU();
        output = nn.Linear(4 * config.ModelWidth, config.ModelWidth);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var x = input + attention.forward(norm1.forward(input));
        return (x + output.forward(activation.forward(expand.forward(norm2.forward(x))))).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Causal multi-head self-attention: one linear map to queries, keys and values, softmax(QKᵀ/√d_head + M)V per head
/// with M = −∞ above the diagonal (a position sees itself and the past only), heads concatenated, a linear output.
/// The pre-softmax scores [B, heads, T, T] (masked entries −∞) pass through a no-op probe point, an
/// <see cref="Identity"/> submodule named <see cref="CharGpt.AttentionScoresModule"/> invoked with <c>call</c>, so that
/// a forward hook registered on it sees them; without a hook it returns an alias of the same storage (numerics
/// unchanged, no parameters or buffers).
/// </summary>
internal sealed class CausalSelfAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear queryKeyValue;
    private readonly Linear output;
    private readonly Identity scores;
    private readonly Tensor mask;
    private readonly int _heads;

    // 1/√d_head as a Scalar owned by the module (disposed with it), not one made per call: see CharGpt.positions.
    private readonly Scalar _scale;

    public CausalSelfAttention(GptConfig config)
        : base(nameof(CausalSelfAttention))
    {
        _heads = config.Heads;
        _scale = (1 / Math.Sqrt(config.ModelWidth / config.Heads)).ToScalar();
        queryKeyValue = nn.Linear(config.ModelWidth, 3 * config.ModelWidth);
        output = nn.Linear(config.ModelWidth, config.ModelWidth);
        scores = nn.Identity();

        // An additive mask: 0 on and below the diagonal, −∞ above it. A buffer, not a parameter.
        mask = torch.full(config.Context, config.Context, float.NegativeInfinity).triu(1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        long batch = input.shape[0], length = input.shape[1], width = input.shape[2];
        long headWidth = width / _heads;

        // [B, T, 3C] → [3, B, H, T, C/H]
        var qkv = queryKeyValue.forward(input).view(batch, length, 3, _heads, headWidth).permute(2, 0, 3, 1, 4);
        var query = qkv[0];
        var key = qkv[1];
        var value = qkv[2];
        var logits = scores.call(query.matmul(key.transpose(-2, -1)).mul_(_scale).add_(mask[..(int)length, ..(int)length]));
        var mixed = logits.softmax(-1).matmul(value);
        var merged = mixed.transpose(1, 2).reshape(batch, length, width);
        return output.forward(merged).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _scale.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// A small CNN for the 8×8 digits: conv 3×3 (1→8, padding 1), ReLU, conv 3×3 (8→16, padding 1), ReLU, 2×2 max pool,
/// flatten (16·4·4 = 256), linear 256→64, ReLU, linear 64→10. 18,346 parameters, TorchSharp's default initialization.
/// Inputs [B, 1, 8, 8], logits [B, 10].
/// </summary>
public sealed class DigitsCnn : nn.Module<Tensor, Tensor>
{
    private readonly Sequential layers;

    /// <summary>Creates the model with fresh weights from torch's global generator.</summary>
    public DigitsCnn()
        : base(nameof(DigitsCnn))
    {
        layers = nn.Sequential(
            ("conv1", nn.Conv2d(1, 8, 3, padding: 1)),
            ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(8, 16, 3, padding: 1)),
            ("relu2", nn.ReLU()),
            ("pool", nn.MaxPool2d(2)),
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(256, 64)),
            ("relu3", nn.ReLU()),
            ("fc2", nn.Linear(64, DigitsDataSet.Classes)));
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input) => layers.forward(input);
}

/// <summary>
/// A small MLP for the 8×8 digits: 64→128→64→10 with tanh, 17,226 parameters, TorchSharp's default initialization.
/// Inputs [B, 64], logits [B, 10].
/// </summary>
public sealed class DigitsMlp : nn.Module<Tensor, Tensor>
{
    private readonly Sequential layers;

    /// <summary>Creates the model with fresh weights from torch's global generator.</summary>
    public DigitsMlp()
        : base(nameof(DigitsMlp))
    {
        layers = nn.Sequential(
            ("fc1", nn.Linear(DigitsDataSet.Features, 128)),
            ("tanh1", nn.Tanh()),
            ("fc2", nn.Linear(128, 64)),
            ("tanh2", nn.Tanh()),
            ("fc3", nn.Linear(64, DigitsDataSet.Classes)));
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input) => layers.forward(input);
}
