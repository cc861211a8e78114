using System.Collections.ObjectModel;

namespace SpectralMonitor.Reference;

/// <summary>
/// A multilayer perceptron <c>n₀ → n₁ → … → n_L</c> of fully connected layers with one hidden activation after every
/// layer but the last (the output is linear), laid out like a PyTorch <c>nn.ModuleList</c> of <c>nn.Linear</c> named
/// <c>layers</c>: the flat parameter vector is <c>layers.0.weight</c> (n₁ × n₀, row-major), <c>layers.0.bias</c>,
/// <c>layers.1.weight</c>, … — exactly <c>torch.cat([p.reshape(-1) for p in model.parameters()])</c>.
/// </summary>
public sealed class MlpArchitecture
{
    private readonly int[] _sizes;
    private readonly ParameterView[] _views;

    /// <summary>Creates the architecture.</summary>
    /// <param name="layerSizes">Widths <c>n₀ … n_L</c> (input, hidden layers, output); at least two, all positive.</param>
    /// <param name="activation">Activation after every hidden layer.</param>
    /// <exception cref="ArgumentException">Fewer than two sizes, a size that is not positive, or an unknown activation.</exception>
    public MlpArchitecture(IReadOnlyList<int> layerSizes, HiddenActivation activation)
    {
        ArgumentNullException.ThrowIfNull(layerSizes);
        if (layerSizes.Count < 2)
        {
            throw new ArgumentException($"layerSizes needs at least an input and an output size; got {layerSizes.Count} size(s).", nameof(layerSizes));
        }

        if (!Enum.IsDefined(activation))
        {
            throw new ArgumentException($"activation {(int)activation} is not a HiddenActivation.", nameof(activation));
        }

        _sizes = new int[layerSizes.Count];
        for (int i = 0; i < _sizes.Length; i++)
        {
            if (layerSizes[i] <= 0)
            {
                throw new ArgumentException($"layerSizes[{i}] = {layerSizes[i]} must be positive.", nameof(layerSizes));
            }

            _sizes[i] = layerSizes[i];
        }

        Activation = activation;
        _views = new ParameterView[2 * LayerCount];
        long offset = 0;
        for (int l = 0; l < LayerCount; l++)
        {
            int inputs = _sizes[l];
            int outputs = _sizes[l + 1];
            var weight = new ParameterView($"layers.{l}.weight", checked((int)offset), outputs, inputs);
            offset += (long)outputs * inputs;
            var bias = new ParameterView($"layers.{l}.bias", checked((int)offset), outputs, 1);
            offset += outputs;
            if (offset > Array.MaxLength)
            {
                throw new ArgumentException($"layerSizes describe {offset}+ parameters, more than an array can hold.", nameof(layerSizes));
            }

            _views[2 * l] = weight;
            _views[(2 * l) + 1] = bias;
        }

        ParameterCount = (int)offset;
        LayerSizes = new ReadOnlyCollection<int>(_sizes);
        Parameters = new ReadOnlyCollection<ParameterView>(_views);
    }

    /// <summary>Widths <c>n₀ … n_L</c>.</summary>
    public IReadOnlyList<int> LayerSizes { get; }

    /// <summary>The hidden activation.</summary>
    public HiddenActivation Activation { get; }

    /// <summary>Number of linear layers <c>L</c>.</summary>
    public int LayerCount => _sizes.Length - 1;

    /// <summary>Input width <c>n₀</c>.</summary>
    public int InputDimension => _sizes[0];

    /// <summary>Output width <c>n_L</c> (regression outputs or classes).</summary>
    public int OutputDimension => _sizes[^1];

    /// <summary>Length of the flat parameter vector.</summary>
    public int ParameterCount { get; }

    /// <summary>Every parameter block in flat order: weight then bias of each layer.</summary>
    public IReadOnlyList<ParameterView> Parameters { get; }

    /// <summary>The weight matrix view of linear layer <paramref name="layer"/> (<c>n_{l+1} × n_l</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="layer"/> is not in [0, <see cref="LayerCount"/>).</exception>
    public ParameterView Weight(int layer)
    {
        CheckLayer(layer);
        return _views[2 * layer];
    }

    /// <summary>The bias view of linear layer <paramref name="layer"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="layer"/> is not in [0, <see cref="LayerCount"/>).</exception>
    public ParameterView Bias(int layer)
    {
        CheckLayer(layer);
        return _views[(2 * layer) + 1];
    }

    /// <summary>The view named <paramref name="name"/> (for example <c>layers.1.weight</c>).</summary>
    /// <exception cref="ArgumentException">No view has that name.</exception>
    public ParameterView View(string name)
    {
        foreach (var view in _views)
        {
            if (view.Name == name)
            {
                return view;
            }
        }

        throw new ArgumentException($"name '{name}' is not a parameter of this architecture.", nameof(name));
    }

    /// <summary>Copies the weight matrix of layer <paramref name="layer"/> out of <paramref name="parameters"/> (for singular values).</summary>
    /// <exception cref="ArgumentException"><paramref name="parameters"/> does not have <see cref="ParameterCount"/> entries.</exception>
    public double[,] WeightMatrix(ReadOnlySpan<double> parameters, int layer)
    {
        CheckParameters(parameters.Length, nameof(parameters));
        return Weight(layer).ToMatrix(parameters);
    }

    /// <summary>
    /// Draws parameters like PyTorch's default <c>nn.Linear</c> initialization in distribution (every weight and bias
    /// uniform in <c>±1/√fan_in</c>), from a seeded <see cref="Random"/> (so not the same numbers as PyTorch).
    /// </summary>
    /// <param name="seed">Seed: equal seeds give equal parameters.</param>
    /// <returns>A new flat parameter vector.</returns>
    public double[] InitializeParameters(int seed)
    {
        var parameters = new double[ParameterCount];
        var random = new Random(seed);
        for (int l = 0; l < LayerCount; l++)
        {
            double bound = 1.0 / Math.Sqrt(_sizes[l]);
            var weight = Weight(l).Slice(parameters.AsSpan());
            var bias = Bias(l).Slice(parameters.AsSpan());
            for (int i = 0; i < weight.Length; i++)
            {
                weight[i] = bound * ((2 * random.NextDouble()) - 1);
            }

            for (int i = 0; i < bias.Length; i++)
            {
                bias[i] = bound * ((2 * random.NextDouble()) - 1);
            }
        }

        return parameters;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{string.Join("→", _sizes)} {Activation}";

    internal void CheckParameters(int length, string name)
    {
        if (length != ParameterCount)
        {
            throw new ArgumentException($"{name} has length {length}; the architecture {this} has {ParameterCount} parameters.", name);
        }
    }

    private void CheckLayer(int layer)
    {
        if ((uint)layer >= (uint)LayerCount)
        {
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"layer must be in [0, {LayerCount}).");
        }
    }
}
