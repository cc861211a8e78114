using System.Diagnostics;
using System.Runtime.InteropServices;
using SpectralMonitor.Estimators;
using SpectralMonitor.Estimators.Optimizers;
using SpectralMonitor.Probing;
using SpectralMonitor.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Benchmarks.Torch;

/// <summary>What one probe cost, as seen from around the probe target.</summary>
/// <param name="BuildSeconds">Time of <see cref="IProbeTarget{TVec}.BeginProbe"/>: the probe loss and its first-order graph (or, for finite differences, its gradient).</param>
/// <param name="HvpSeconds">Time inside Hessian-vector products.</param>
/// <param name="Hvps">Hessian-vector products.</param>
/// <param name="HostReads">Device-to-host reads of the probe's vector space during the probe (after the graph build).</param>
/// <param name="HostUploads">Host-to-device copies of the space during the probe.</param>
/// <param name="PeakBytes">Peak memory above the level right after the graph build (resident bytes on the CPU, device bytes on CUDA); −1 when not measured.</param>
internal sealed record ProbeCost(double BuildSeconds, double HvpSeconds, long Hvps, long HostReads, long HostUploads, long PeakBytes);

/// <summary>
/// Wraps a <see cref="TorchSharpProbeTarget"/>: times the graph build and every Hessian-vector product (synchronising
/// the device around each on CUDA, so that the split is attributable), counts the space's host reads, and measures the
/// probe's peak memory above the state right after the graph build.
/// </summary>
internal sealed class InstrumentedTarget : IProbeTarget<Tensor>
{
    private readonly TorchSharpProbeTarget _inner;
    private readonly PeakMemory? _memory;

    public InstrumentedTarget(TorchSharpProbeTarget inner, PeakMemory? memory)
    {
        _inner = inner;
        _memory = memory;
    }

    public string OptimizerName => _inner.OptimizerName;

    public ILearningRateController? LearningRates => _inner.LearningRates;

    /// <summary>The cost of the latest finished probe.</summary>
    public ProbeCost? Last { get; private set; }

    public IProbeContext<Tensor> BeginProbe(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var context = _inner.BeginProbe(cancellationToken);
        Synchronize(_inner.Parameters.Device);
        double build = clock.Elapsed.TotalSeconds;
        _memory?.Reset();
        var space = (TensorVectorSpace)context.Hessian.Space;
        return new Context(this, context, build, space);
    }

    internal static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA)
        {
            torch.cuda.synchronize(device);
        }
    }

    private sealed class Context : IProbeContext<Tensor>
    {
        private readonly InstrumentedTarget _owner;
        private readonly IProbeContext<Tensor> _inner;
        private readonly double _build;
        private readonly TensorVectorSpace _space;
        private readonly long _reads;
        private readonly long _uploads;
        private readonly TimedOperator _hessian;

        public Context(InstrumentedTarget owner, IProbeContext<Tensor> inner, double build, TensorVectorSpace space)
        {
            _owner = owner;
            _inner = inner;
            _build = build;
            _space = space;
            _reads = space.HostReads;
            _uploads = space.HostUploads;
            _hessian = new TimedOperator(inner.Hessian, owner._memory);
        }

        public LinearOperator<Tensor> Hessian => _hessian;

        public OptimizerSnapshot<Tensor>? Optimizer => _inner.Optimizer;

        public string? OptimizerUnavailableReason => _inner.OptimizerUnavailableReason;

        public IReadOnlyList<IWeightMatrix> Weights
        {
            get
            {
                // The weight-spectra stage asks for the weights first: what the curvature stages left is recorded here.
                _owner._memory?.Sample("weights");
                return _inner.Weights;
            }
        }

        public void Dispose()
        {
            _owner._memory?.Sample("end");
            long peak = _owner._memory?.Peak() ?? -1;
            _owner.Last = new ProbeCost(_build, _hessian.Seconds, _hessian.Applications, _space.HostReads - _reads, _space.HostUploads - _uploads, peak);
            _inner.Dispose();
        }
    }
}

/// <summary>A symmetric operator that forwards to another and times each application.</summary>
internal sealed class TimedOperator : LinearOperator<Tensor>
{
    private readonly LinearOperator<Tensor> _inner;
    private readonly PeakMemory? _memory;
    private readonly Device _device;

    public TimedOperator(LinearOperator<Tensor> inner, PeakMemory? memory = null)
        : base(inner.Space)
    {
        _inner = inner;
        _memory = memory;
        _device = ((TensorVectorSpace)inner.Space).Device;
    }

    public override bool IsSymmetric => _inner.IsSymmetric;

    public override bool IsInexact => _inner.IsInexact;

    public double Seconds { get; private set; }

    protected override void ApplyCore(Tensor x, Tensor y)
    {
        _memory?.Sample("before HVP");
        InstrumentedTarget.Synchronize(_device);
        long start = Stopwatch.GetTimestamp();
        _inner.Apply(x, y);
        InstrumentedTarget.Synchronize(_device);
        Seconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
        _memory?.Sample("after HVP");
    }
}

/// <summary>
/// Peak memory of a stretch of work above its starting level. On Linux CPU: the peak of the process's live native
/// allocations (tensor storage above all), read from its peak resident set (VmHWM, reset through /proc/self/clear_refs)
/// with glibc told to serve every allocation of 64 KiB or more by its own mmap (so freed tensors leave the resident set
/// at once), to fill every allocation on the spot (M_PERTURB, so untouched allocations count too), and to hand freed
/// heap pages back before the measurement starts (malloc_trim). The resident set also grows for reasons that are not
/// the work's allocations: the managed heap touching fresh pages between collections, BLAS and thread-pool buffers
/// touched for the first time, free memory in malloc's arenas touched again. That growth is measured at every <see
/// cref="Sample"/> as the resident set less malloc's live bytes (mallinfo2's hblkhd and uordblks), and the part of it
/// present at the sample that first saw the final peak is subtracted. That part mostly only grows, so the estimate
/// undercounts the peak by at most what it grew inside the last stretch before that sample (one HVP in a probe). On
/// CUDA: used device memory (cudaMemGetInfo) sampled after every HVP and at the end; libtorch's caching allocator keeps
/// freed blocks reserved, so the growth of the reservation is the peak of what the probe needed beyond what was already
/// cached.
/// </summary>
internal sealed class PeakMemory : IDisposable
{
    private const int MallocMmapThreshold = -3;
    private const int MallocPerturb = -6;
    private readonly Device _device;
    private readonly CudaMemory? _cuda;
    private long _start;
    private long _max;
    private long _outsideStart;
    private long _outsideAtPeak;

    private PeakMemory(Device device, CudaMemory? cuda)
    {
        _device = device;
        _cuda = cuda;
    }

    /// <summary>What is measured, in words.</summary>
    public string Description => _device.type == DeviceType.CUDA ? "CUDA used-memory growth (cudaMemGetInfo, sampled after every HVP)" : "peak growth of live native allocations (VmHWM with glibc's mmap threshold at 64 KiB and M_PERTURB, less the resident growth outside live malloc allocations)";

    /// <summary>A meter for <paramref name="device"/>, or null where none is available (not Linux, no libcudart).</summary>
    public static PeakMemory? Create(Device device)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        if (device.type == DeviceType.CUDA)
        {
            var cuda = CudaMemory.TryLoad();
            return cuda is null ? null : new PeakMemory(device, cuda);
        }

        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        try
        {
            _ = LiveMalloc();
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }

        _ = mallopt(MallocMmapThreshold, 64 * 1024);
        _ = mallopt(MallocPerturb, 0x5a);
        return new PeakMemory(device, null);
    }

    /// <summary>Stops filling allocations and returns the mmap threshold to glibc's default (CPU meters).</summary>
    public void Dispose()
    {
        if (_cuda is null)
        {
            _ = mallopt(MallocPerturb, 0);
            _ = mallopt(MallocMmapThreshold, 128 * 1024);
        }
    }

    /// <summary>Starts a new measurement at the current level.</summary>
    public void Reset()
    {
        if (_cuda is not null)
        {
            torch.cuda.synchronize(_device);
            _start = _cuda.Used();
            _max = _start;
            return;
        }

        // Freed heap memory that is still resident would be reused without raising the resident set: give it back first.
        GC.Collect();
        _ = malloc_trim(0);
        File.WriteAllText("/proc/self/clear_refs", "5");
        var (_, resident) = ReadResident();
        _start = resident;
        _max = resident;
        _outsideStart = resident - LiveMalloc();
        _outsideAtPeak = 0;
    }

    /// <summary>The peak so far after each sample, in bytes above the start, when <see cref="Tracing"/> is on.</summary>
    public List<(string Label, long Bytes)> Trace { get; } = [];

    /// <summary>Whether <see cref="Sample"/> records the running peak in <see cref="Trace"/>.</summary>
    public bool Tracing { get; set; }

    /// <summary>
    /// Takes a sample: on CUDA the used memory; on the CPU (where the kernel keeps the peak) the growth of resident memory
    /// outside live malloc allocations, remembered when the peak has risen since the last sample. Cheap (one read of
    /// /proc/self/status and one mallinfo2 call), so the probe's instrumentation calls it around every HVP.
    /// </summary>
    /// <param name="label">What just happened (recorded with the running peak when <see cref="Tracing"/>).</param>
    public void Sample(string label = "")
    {
        if (_cuda is not null)
        {
            _max = Math.Max(_max, _cuda.Used());
        }
        else
        {
            var (peak, resident) = ReadResident();
            if (peak > _max)
            {
                _max = peak;
                _outsideAtPeak = Math.Max(0, resident - LiveMalloc() - _outsideStart);
            }
        }

        if (Tracing)
        {
            Trace.Add((label, Current()));
        }
    }

    /// <summary>Peak bytes above the level at <see cref="Reset"/>.</summary>
    public long Peak()
    {
        Sample();
        return Current();
    }

    /// <summary>What was subtracted from the resident peak at the last <see cref="Peak"/> (CPU; 0 on CUDA): the resident growth outside live malloc allocations.</summary>
    public long OutsideAtPeak => _cuda is not null ? 0 : _outsideAtPeak;

    private long Current() => _cuda is not null ? _max - _start : Math.Max(0, _max - _start - _outsideAtPeak);

    /// <summary>VmHWM and VmRSS, in bytes.</summary>
    private static (long Peak, long Resident) ReadResident()
    {
        long peak = 0, resident = 0;
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                peak = Kilobytes(line, "VmHWM:".Length);
            }
            else if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                resident = Kilobytes(line, "VmRSS:".Length);
                break;
            }
        }

        return (peak, resident);
    }

    private static long Kilobytes(string line, int start)
    {
        var parts = line[start..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>
    /// Bytes of live malloc allocations: those served by their own mapping (mallinfo2's hblkhd) and those in malloc's
    /// arenas (uordblks; a meter created after training has run may see large tensors served from free heap memory
    /// that the dynamic mmap threshold left there). glibc 2.33 and later.
    /// </summary>
    private static long LiveMalloc()
    {
        var info = mallinfo2();
        return (long)info.MappedBytes + (long)info.AllocatedBytes;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallocInfo mallinfo2();

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);

    /// <summary>glibc's <c>struct mallinfo2</c> (ten <c>size_t</c> fields, in this order).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private readonly struct MallocInfo
    {
        public readonly nuint Arena;
        public readonly nuint OrdinaryBlocks;
        public readonly nuint SmallBlocks;
        public readonly nuint MappedBlocks;
        public readonly nuint MappedBytes;
        public readonly nuint Unused;
        public readonly nuint SmallFreeBytes;
        public readonly nuint AllocatedBytes;
        public readonly nuint FreeBytes;
        public readonly nuint TopReleasable;
    }

    /// <summary>cudaMemGetInfo from the CUDA runtime that PyTorch ships (libcudart.so.*).</summary>
    private sealed unsafe class CudaMemory
    {
        private readonly delegate* unmanaged<nuint*, nuint*, int> _memGetInfo;

        private CudaMemory(delegate* unmanaged<nuint*, nuint*, int> memGetInfo) => _memGetInfo = memGetInfo;

        public static CudaMemory? TryLoad()
        {
            foreach (var name in new[] { "libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0" })
            {
                if (NativeLibrary.TryLoad(name, out var handle) && NativeLibrary.TryGetExport(handle, "cudaMemGetInfo", out var address))
                {
                    return new CudaMemory((delegate* unmanaged<nuint*, nuint*, int>)address);
                }
            }

            return null;
        }

        public long Used()
        {
            nuint free = 0;
            nuint total = 0;
            return _memGetInfo(&free, &total) == 0 ? (long)(total - free) : 0;
        }
    }
}
