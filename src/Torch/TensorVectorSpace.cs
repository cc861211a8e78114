using SpectralMonitor.Estimators;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Torch;

/// <summary>
/// The device backend of the Krylov solvers: vectors are flat 1-D TorchSharp tensors of length <see cref="Dimension"/>
/// on one device and dtype (float32 or float64; CPU or CUDA). Every operation runs on the device under <c>no_grad</c>;
/// only reductions cross to the host, converted to <see cref="double"/> at once.
/// </summary>
/// <remarks>
/// <para>Vectors made by <see cref="CreateVector"/> are ordinary tensors registered in the current <see cref="DisposeScope"/>
/// (if any): they are freed by <see cref="Release"/> or, at the latest, when the probe's scope ends
/// (see <see cref="TensorProbeScope"/>). Move a vector that must outlive the probe (a warm start) into a
/// <see cref="TensorStore"/>.</para>
/// <para>Device memory of a probe, in parameter-sized vectors (<c>n</c> elements each), beyond the first-order autograd
/// graph of the probe batch and the optimizer-state copies: the Krylov basis, at most <c>k = KrylovDimension + 1</c>
/// vectors allocated in blocks of <see cref="TensorBasis.BlockRows"/> as it grows (a warm probe that stops after six
/// products holds eight); operator outputs are written straight into it (no work vector); at any one time either one
/// Hessian-vector product's working memory (its per-parameter output, one vector, plus autograd's sum of two
/// contributions to one parameter, at most the largest parameter tensor: together at most two), or one temporary inside
/// <see cref="Basis{TVec}.Transform"/>, or the new Ritz vectors (<c>TopModes</c>, combined straight into the warm-start
/// basis, which is emptied as soon as the start vector is built); and for Adam and RMSprop the preconditioner's square
/// root and one scratch vector. At most <c>k + 2</c> for SGD and <c>k + 4</c> for Adam and RMSprop with the default
/// <c>TopModes</c> = 1 (<c>k + max(2, TopModes)</c>, plus two for the adaptive ones, in general), checked by a test
/// that measures the peak of live allocations (tests/Torch.Tests/ProbeMemoryTests.cs). The second backward pass also
/// allocates activation-sized temporaries of the probe batch while it runs, about what a training step's backward on
/// that batch allocates.</para>
/// </remarks>
public sealed class TensorVectorSpace : IElementwiseVectorSpace<Tensor>
{
    private long _hostReads;
    private long _hostUploads;

    /// <summary>Creates the space of flat vectors of length <paramref name="dimension"/>.</summary>
    /// <param name="dimension">Vector length <c>n</c>.</param>
    /// <param name="scalarType">Float32 or Float64.</param>
    /// <param name="device">The device holding every vector (null: CPU).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is not positive.</exception>
    /// <exception cref="ArgumentException"><paramref name="scalarType"/> is not Float32 or Float64.</exception>
    public TensorVectorSpace(int dimension, ScalarType scalarType, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        if (scalarType != ScalarType.Float32 && scalarType != ScalarType.Float64)
        {
            throw new ArgumentException($"scalarType is {scalarType}; only Float32 and Float64 are supported.", nameof(scalarType));
        }

        Dimension = dimension;
        ScalarType = scalarType;
        Device = device ?? torch.CPU;
        DeviceType = Device.type;
        // A tensor created on "cuda" reports the current device's index; record what the device really gives.
        using var probe = torch.empty(new long[] { 1 }, scalarType, Device);
        DeviceIndex = probe.device_index;
    }

    /// <inheritdoc/>
    public int Dimension { get; }

    /// <summary>The dtype of every vector.</summary>
    public ScalarType ScalarType { get; }

    /// <summary>The device of every vector.</summary>
    public Device Device { get; }

    /// <summary>The device type of every vector.</summary>
    public DeviceType DeviceType { get; }

    /// <summary>The device index of every vector (−1 on the CPU).</summary>
    public int DeviceIndex { get; }

    /// <inheritdoc/>
    public Tensor CreateVector() => torch.zeros(new long[] { Dimension }, ScalarType, Device);

    /// <inheritdoc/>
    public void Release(Tensor vector)
    {
        ArgumentNullException.ThrowIfNull(vector);
        vector.Dispose();
    }

    /// <inheritdoc/>
    public bool IsCompatible(Tensor vector) =>
        vector is not null && !vector.IsInvalid && vector.dim() == 1 && vector.shape[0] == Dimension
        && vector.dtype == ScalarType && vector.device_type == DeviceType && vector.device_index == DeviceIndex;

    /// <inheritdoc/>
    /// <remarks>
    /// <para>Deterministic for a given seed and dtype, and the SAME vector on every device: the entries are drawn on the
    /// host by a fresh CPU <see cref="torch.Generator"/> seeded with <paramref name="seed"/> and copied to the device
    /// (on the CPU they are drawn in place). TorchSharp's <c>Generator</c> is always a CPU generator whatever device it
    /// is given (its native constructor ignores the device), and libtorch's CUDA kernels reject a CPU generator, so a
    /// generator must never be bound to the vectors' device. Off the CPU a draw holds one host vector of length
    /// <see cref="Dimension"/> for the duration of the call and counts one <see cref="HostUploads">upload</see>.
    /// Sequences differ from the CPU backend's.</para>
    /// </remarks>
    public void FillRandom(Tensor vector, RandomKind kind, int seed)
    {
        Check(vector, nameof(vector));
        using var noGrad = torch.no_grad();
        using var generator = new Generator(unchecked((ulong)seed));
        if (kind == RandomKind.GaussianProduct)
        {
            FillGaussianProduct(vector, generator);
            return;
        }

        if (DeviceType == DeviceType.CPU && !StageRandomDrawsOnHost)
        {
            Draw(vector, kind, generator);
            return;
        }

        using var staging = torch.empty(new long[] { Dimension }, ScalarType, torch.CPU);
        Draw(staging, kind, generator);
        vector.copy_(staging);
        CountHostUpload();
    }

    /// <inheritdoc/>
    public void Clear(Tensor vector)
    {
        Check(vector, nameof(vector));
        using var noGrad = torch.no_grad();
        vector.zero_();
    }

    /// <inheritdoc/>
    public double Dot(Tensor x, Tensor y)
    {
        Check(x, nameof(x));
        Check(y, nameof(y));
        using var noGrad = torch.no_grad();
        using var result = x.dot(y);
        return ReadScalar(result);
    }

    /// <inheritdoc/>
    public double MaxAbs(Tensor x)
    {
        Check(x, nameof(x));
        using var noGrad = torch.no_grad();
        using var magnitude = x.abs();
        using var result = magnitude.max();
        return ReadScalar(result);
    }

    /// <inheritdoc/>
    public double Norm(Tensor x)
    {
        Check(x, nameof(x));
        using var noGrad = torch.no_grad();
        using var result = x.norm();
        return ReadScalar(result);
    }

    /// <inheritdoc/>
    public void Axpy(double alpha, Tensor x, Tensor y)
    {
        Check(x, nameof(x));
        Check(y, nameof(y));
        using var noGrad = torch.no_grad();
        using var a = alpha.ToScalar();
        y.add_(x, a);
    }

    /// <inheritdoc/>
    public void Scale(Tensor x, double alpha)
    {
        Check(x, nameof(x));
        using var noGrad = torch.no_grad();
        using var a = alpha.ToScalar();
        x.mul_(a);
    }

    /// <inheritdoc/>
    public void Copy(Tensor source, Tensor destination)
    {
        Check(source, nameof(source));
        Check(destination, nameof(destination));
        using var noGrad = torch.no_grad();
        destination.copy_(source);
    }

    /// <inheritdoc/>
    public void Multiply(Tensor x, Tensor y, Tensor destination)
    {
        Check(x, nameof(x));
        Check(y, nameof(y));
        Check(destination, nameof(destination));
        using var noGrad = torch.no_grad();
        if (ReferenceEquals(destination, x))
        {
            destination.mul_(y);
        }
        else if (ReferenceEquals(destination, y))
        {
            destination.mul_(x);
        }
        else
        {
            destination.copy_(x).mul_(y);
        }
    }

    /// <inheritdoc/>
    public void Maximum(Tensor x, Tensor y, Tensor destination)
    {
        Check(x, nameof(x));
        Check(y, nameof(y));
        Check(destination, nameof(destination));
        using var noGrad = torch.no_grad();
        using var result = x.maximum(y);
        destination.copy_(result);
    }

    /// <inheritdoc/>
    public void IndicatorBelow(Tensor x, double threshold, Tensor destination)
    {
        Check(x, nameof(x));
        Check(destination, nameof(destination));
        using var noGrad = torch.no_grad();
        using var t = threshold.ToScalar();
        using var below = x.lt(t);
        destination.copy_(below);
    }

    /// <inheritdoc/>
    public void Sqrt(Tensor x, Tensor destination)
    {
        Check(x, nameof(x));
        Check(destination, nameof(destination));
        using var noGrad = torch.no_grad();
        if (!ReferenceEquals(x, destination))
        {
            destination.copy_(x);
        }

        destination.sqrt_();
    }

    /// <inheritdoc/>
    public void InverseSqrtPlusEpsilon(Tensor x, double scale, double epsilon, Tensor destination)
    {
        Check(x, nameof(x));
        Check(destination, nameof(destination));
        using var noGrad = torch.no_grad();
        if (!ReferenceEquals(x, destination))
        {
            destination.copy_(x);
        }

        // Same order of operations as Adam's denominator: √(scale·x) + ε, then the reciprocal.
        using var s = scale.ToScalar();
        destination.mul_(s).sqrt_().PlusInPlace(epsilon).reciprocal_();
    }

    /// <summary>
    /// Device-to-host reads this space (and its bases and the Hessian operators built on it) has made: reduction results
    /// (<see cref="Dot"/>, <see cref="Norm"/>, <see cref="MaxAbs"/>), basis coefficients and the probe loss. On an
    /// accelerator each one waits for the device to finish all queued work (a host synchronisation); on the CPU it is
    /// a plain read. A Krylov step on <see cref="TensorBasis"/> makes one, or two when the DGKS test asks for a second
    /// Gram–Schmidt pass.
    /// </summary>
    public long HostReads => Interlocked.Read(ref _hostReads);

    /// <summary>
    /// Host-to-device copies this space and its bases have made: coefficient arrays (<see cref="Basis{TVec}.SubtractProjection"/>,
    /// <see cref="Basis{TVec}.Combine"/>, <see cref="Basis{TVec}.Transform"/>) and random vectors drawn on the host off the CPU.
    /// </summary>
    public long HostUploads => Interlocked.Read(ref _hostUploads);

    /// <summary>Draw random vectors through the host staging path even on the CPU (tests: it must give the same bits as the in-place draw).</summary>
    internal bool StageRandomDrawsOnHost { get; init; }

    /// <summary>Counts one device-to-host read.</summary>
    internal void CountHostRead() => Interlocked.Increment(ref _hostReads);

    /// <summary>Counts one host-to-device copy.</summary>
    internal void CountHostUpload() => Interlocked.Increment(ref _hostUploads);

    /// <summary>Reads a one-element tensor to the host as a double, counting the read.</summary>
    internal double ReadScalar(Tensor scalar)
    {
        CountHostRead();
        return scalar.ToDouble();
    }

    /// <summary>
    /// Reads the 1-D tensor <paramref name="packed"/> (the scalars of one operation, concatenated on the device) to the
    /// host as doubles in one transfer, counting the read; <paramref name="destination"/> must have its length.
    /// </summary>
    internal void ReadToHost(Tensor packed, Span<double> destination)
    {
        using var onHost = packed.to(ScalarType.Float64, torch.CPU);
        CountHostRead();
        using var accessor = onHost.data<double>();
        accessor.CopyTo(destination);
    }

    /// <summary>Uploads <paramref name="values"/> as a 1-D tensor of this space's dtype and device, counting the copy.</summary>
    internal Tensor Upload(ReadOnlySpan<double> values)
    {
        CountHostUpload();
        return torch.tensor(values.ToArray(), ScalarType, Device);
    }

    /// <inheritdoc/>
    IBasis<Tensor> IVectorSpace<Tensor>.CreateBasis(int capacity) => CreateBasis(capacity);

    /// <summary>Creates an empty basis of <paramref name="capacity"/> vectors stored as one <c>capacity × n</c> tensor.</summary>
    /// <param name="capacity">Maximum number of vectors.</param>
    /// <returns>The basis; dispose it to free its device memory.</returns>
    public TensorBasis CreateBasis(int capacity) => new(this, capacity);

    /// <summary>
    /// <see cref="RandomKind.GaussianProduct"/>: the two factors (about 2√n numbers) are drawn on the host and moved to
    /// the device; the product is formed there in place (a broadcast copy, then a broadcast multiply): no
    /// parameter-sized temporary, and on a GPU an upload of 2√n numbers instead of n.
    /// </summary>
    private void FillGaussianProduct(Tensor vector, Generator generator)
    {
        using var scope = torch.NewDisposeScope();
        long columns = (long)Math.Ceiling(Math.Sqrt(Dimension));
        long rows = (Dimension + columns - 1) / columns;
        var factors = torch.empty(new long[] { rows + columns }, ScalarType, torch.CPU).normal_(0, 1, generator);
        if (DeviceType != DeviceType.CPU)
        {
            factors = factors.to(vector.device);
            CountHostUpload();
        }

        var b = factors.narrow(0, 0, rows);
        var a = factors.narrow(0, rows, columns);
        long fullRows = Dimension / columns;
        if (fullRows > 0)
        {
            var block = vector.narrow(0, 0, fullRows * columns).view(fullRows, columns);
            block.copy_(a.unsqueeze(0).expand(fullRows, columns));
            block.mul_(b.narrow(0, 0, fullRows).unsqueeze(1));
        }

        long tail = Dimension - (fullRows * columns);
        if (tail > 0)
        {
            var last = vector.narrow(0, fullRows * columns, tail);
            last.copy_(a.narrow(0, 0, tail));
            last.mul_(b.narrow(0, fullRows, 1));
        }
    }

    private static void Draw(Tensor destination, RandomKind kind, Generator generator)
    {
        if (kind == RandomKind.Rademacher)
        {
            // Bernoulli(½) ∈ {0, 1} mapped to {−1, +1} in place.
            using var two = 2.ToScalar();
            using var one = 1.ToScalar();
            destination.bernoulli_(0.5, generator).mul_(two).sub_(one);
            return;
        }

        destination.normal_(0, 1, generator);
    }

    internal void Check(Tensor vector, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(vector, parameterName);
        if (!IsCompatible(vector))
        {
            string description = vector.IsInvalid
                ? "a disposed tensor"
                : $"a tensor of shape [{string.Join(", ", vector.shape)}], {vector.dtype} on {vector.device_type}:{vector.device_index}";
            throw new ArgumentException(
                $"Expected a 1-D {ScalarType} tensor of length {Dimension} on {DeviceType}:{DeviceIndex}; got {description}.",
                parameterName);
        }
    }
}
