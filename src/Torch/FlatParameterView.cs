using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch;

/// <summary>
/// The trainable parameters of a model seen as one flat vector <c>θ ∈ ℝⁿ</c>: parameter <c>i</c> occupies
/// <c>[Offsets[i], Offsets[i] + Lengths[i])</c>, in the order of <c>named_parameters()</c>. Only parameters with
/// <c>requires_grad</c> are included. Flat vectors are 1-D tensors of length <see cref="Dimension"/> on the parameters'
/// device and dtype; conversions between flat and per-parameter form use <c>narrow</c>/<c>view</c> on the device, never
/// host copies.
/// </summary>
/// <remarks>
/// The view holds references to the parameters (it does not own them). All parameters must share one dtype
/// (float32 or float64) and one device.
/// </remarks>
public sealed class FlatParameterView
{
    private readonly Parameter[] _parameters;
    private readonly string[] _names;
    private readonly long[][] _shapes;
    private readonly long[] _offsets;
    private readonly long[] _lengths;

    /// <summary>Creates the view of <paramref name="namedParameters"/>, keeping those that require gradients.</summary>
    /// <param name="namedParameters">Parameters with their names, for example <c>module.named_parameters()</c>.</param>
    /// <exception cref="ArgumentException">No parameter requires grad, dtypes or devices differ, a dtype is not floating point, or the total length exceeds <see cref="int.MaxValue"/>.</exception>
    public FlatParameterView(IEnumerable<(string Name, Parameter Parameter)> namedParameters)
    {
        ArgumentNullException.ThrowIfNull(namedParameters);
        var kept = namedParameters.Where(p => p.Parameter is not null && p.Parameter.requires_grad).ToArray();
        if (kept.Length == 0)
        {
            throw new ArgumentException("No parameter requires grad: there is nothing to monitor.", nameof(namedParameters));
        }

        _parameters = new Parameter[kept.Length];
        _names = new string[kept.Length];
        _shapes = new long[kept.Length][];
        _offsets = new long[kept.Length];
        _lengths = new long[kept.Length];
        var first = kept[0].Parameter;
        ScalarType = first.dtype;
        if (ScalarType != ScalarType.Float32 && ScalarType != ScalarType.Float64)
        {
            throw new ArgumentException($"Parameter '{kept[0].Name}' has dtype {ScalarType}; only Float32 and Float64 are supported.", nameof(namedParameters));
        }

        DeviceType = first.device_type;
        DeviceIndex = first.device_index;
        long offset = 0;
        for (int i = 0; i < kept.Length; i++)
        {
            var (name, parameter) = kept[i];
            if (parameter.dtype != ScalarType)
            {
                throw new ArgumentException($"Parameter '{name}' has dtype {parameter.dtype}; '{kept[0].Name}' has {ScalarType}. All monitored parameters must share one dtype.", nameof(namedParameters));
            }

            if (parameter.device_type != DeviceType || parameter.device_index != DeviceIndex)
            {
                throw new ArgumentException($"Parameter '{name}' is on {parameter.device_type}:{parameter.device_index}; '{kept[0].Name}' is on {DeviceType}:{DeviceIndex}. All monitored parameters must share one device.", nameof(namedParameters));
            }

            _parameters[i] = parameter;
            _names[i] = name;
            _shapes[i] = parameter.shape;
            _offsets[i] = offset;
            _lengths[i] = parameter.numel();
            offset += _lengths[i];
        }

        if (offset > int.MaxValue)
        {
            throw new ArgumentException($"The monitored parameters have {offset} elements in total; at most {int.MaxValue} are supported.", nameof(namedParameters));
        }

        Dimension = (int)offset;
    }

    /// <summary>Creates the view of the trainable parameters of <paramref name="module"/> (recursively).</summary>
    /// <param name="module">The model.</param>
    /// <returns>The view, in <c>named_parameters()</c> order.</returns>
    public static FlatParameterView FromModule(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        return new FlatParameterView(module.named_parameters().Select(p => (p.name, p.parameter)));
    }

    /// <summary>Total number of monitored parameter elements <c>n</c>.</summary>
    public int Dimension { get; }

    /// <summary>Number of monitored parameter tensors.</summary>
    public int Count => _parameters.Length;

    /// <summary>The parameters' dtype (float32 or float64).</summary>
    public ScalarType ScalarType { get; }

    /// <summary>The parameters' device type.</summary>
    public DeviceType DeviceType { get; }

    /// <summary>The parameters' device index (−1 when the device has no index, as on the CPU).</summary>
    public int DeviceIndex { get; }

    /// <summary>The parameters' device.</summary>
    public Device Device => _parameters[0].device;

    /// <summary>The monitored parameters, in flat order.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>Their names (as given by <c>named_parameters()</c>).</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>Offset of each parameter in the flat vector.</summary>
    public IReadOnlyList<long> Offsets => _offsets;

    /// <summary>Number of elements of each parameter.</summary>
    public IReadOnlyList<long> Lengths => _lengths;

    /// <summary>The shape of parameter <paramref name="index"/> (a copy).</summary>
    /// <param name="index">Parameter index in flat order.</param>
    /// <returns>Its shape.</returns>
    public long[] GetShape(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return (long[])_shapes[index].Clone();
    }

    /// <summary>The shape of parameter <paramref name="index"/> without a copy (callers must not modify it).</summary>
    internal long[] GetShapeView(int index) => _shapes[index];

    /// <summary>Index of <paramref name="parameter"/> in flat order, or −1 when it is not monitored.</summary>
    /// <param name="parameter">A parameter (matched by object identity, then by native handle).</param>
    /// <returns>Its index, or −1.</returns>
    public int IndexOf(Tensor parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        for (int i = 0; i < _parameters.Length; i++)
        {
            if (ReferenceEquals(_parameters[i], parameter))
            {
                return i;
            }
        }

        if (parameter.IsInvalid)
        {
            return -1;
        }

        for (int i = 0; i < _parameters.Length; i++)
        {
            if (!_parameters[i].IsInvalid && _parameters[i].Handle == parameter.Handle)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Creates the vector space of flat vectors on the parameters' device and dtype.</summary>
    /// <returns>The space.</returns>
    public TensorVectorSpace CreateVectorSpace() => new(Dimension, ScalarType, Device);

    /// <summary>Whether <paramref name="flat"/> is a defined 1-D tensor of length <see cref="Dimension"/> on the parameters' device and dtype.</summary>
    /// <param name="flat">A candidate flat vector.</param>
    /// <returns>Whether it matches.</returns>
    public bool IsFlatVector(Tensor? flat) =>
        flat is not null && !flat.IsInvalid && flat.dim() == 1 && flat.shape[0] == Dimension && flat.dtype == ScalarType
        && flat.device_type == DeviceType && flat.device_index == DeviceIndex;

    /// <summary>
    /// Views of <paramref name="flat"/> shaped like each parameter (no copies: writing a view writes the flat vector).
    /// The views are new tensor handles in the current dispose scope; dispose them (or the scope) when done.
    /// </summary>
    /// <param name="flat">A contiguous flat vector.</param>
    /// <returns>One view per parameter, in flat order.</returns>
    public Tensor[] Split(Tensor flat)
    {
        CheckFlat(flat, nameof(flat));
        var views = new Tensor[_parameters.Length];
        for (int i = 0; i < views.Length; i++)
        {
            using var slice = flat.narrow(0, _offsets[i], _lengths[i]);
            views[i] = slice.view(_shapes[i]);
        }

        return views;
    }

    /// <summary>
    /// Copies per-parameter tensors into <paramref name="destination"/> (device to device). A null or undefined entry
    /// writes zeros (an unused parameter's gradient).
    /// </summary>
    /// <param name="tensors">One tensor per parameter, in flat order, shaped like the parameter.</param>
    /// <param name="destination">The flat vector to write.</param>
    /// <exception cref="ArgumentException">The count or a shape does not match.</exception>
    public void Gather(IReadOnlyList<Tensor?> tensors, Tensor destination)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        CheckFlat(destination, nameof(destination));
        if (tensors.Count != _parameters.Length)
        {
            throw new ArgumentException($"Expected {_parameters.Length} tensors (one per monitored parameter), got {tensors.Count}.", nameof(tensors));
        }

        using var noGrad = torch.no_grad();
        for (int i = 0; i < _parameters.Length; i++)
        {
            using var slice = destination.narrow(0, _offsets[i], _lengths[i]);
            var source = tensors[i];
            if (source is null || source.IsInvalid)
            {
                slice.zero_();
                continue;
            }

            if (source.numel() != _lengths[i])
            {
                throw new ArgumentException($"Tensor {i} ('{_names[i]}') has {source.numel()} elements; the parameter has {_lengths[i]}.", nameof(tensors));
            }

            using var flatSource = source.reshape(-1);
            slice.copy_(flatSource);
        }
    }

    /// <summary>Copies the current parameter values into <paramref name="destination"/>.</summary>
    /// <param name="destination">The flat vector to write.</param>
    public void CopyParametersTo(Tensor destination) => Gather(_parameters, destination);

    /// <summary>Writes <paramref name="source"/> into the parameters (in place, under <c>no_grad</c>).</summary>
    /// <param name="source">A flat vector.</param>
    public void CopyToParameters(Tensor source)
    {
        CheckFlat(source, nameof(source));
        using var noGrad = torch.no_grad();
        for (int i = 0; i < _parameters.Length; i++)
        {
            using var slice = source.narrow(0, _offsets[i], _lengths[i]);
            using var shaped = slice.view(_shapes[i]);
            _parameters[i].copy_(shaped);
        }
    }

    private void CheckFlat(Tensor flat, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(flat, parameterName);
        if (!IsFlatVector(flat))
        {
            string description = flat.IsInvalid
                ? "a disposed tensor"
                : $"a tensor of shape [{string.Join(", ", flat.shape)}], {flat.dtype} on {flat.device_type}:{flat.device_index}";
            throw new ArgumentException(
                $"Expected a 1-D {ScalarType} tensor of length {Dimension} on {DeviceType}:{DeviceIndex}; got {description}.",
                parameterName);
        }
    }
}
