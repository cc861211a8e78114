using SpectralMonitor.Estimators.Cpu;

namespace SpectralMonitor.Estimators.Tests.Krylov;

/// <summary>
/// A vector that is nothing but its entries, of a type no backend knows: a solver can reach it only through the
/// <see cref="IVectorSpace{TVec}"/> it was given (KrylovKit's <c>MinimalVec</c> in <c>test/testsetup.jl</c>).
/// </summary>
internal sealed class MinimalVector(double[] data)
{
    public double[] Data { get; } = data;
}

/// <summary>
/// The minimal vector space: exactly <see cref="IVectorSpace{TVec}"/> and nothing more (not the element-wise
/// interface), counting every call and every vector and basis still alive. The arithmetic is delegated to
/// <see cref="CpuVectorSpace{T}"/> on the wrapped arrays, so a solver run here must give bit-for-bit the result of a
/// run on the CPU backend: any difference would mean the solver used something other than this interface.
/// </summary>
internal sealed class MinimalVectorSpace(int dimension) : IVectorSpace<MinimalVector>
{
    private readonly CpuVectorSpace<double> _inner = new(dimension);

    /// <summary>Calls per member name.</summary>
    public Dictionary<string, int> Calls { get; } = new(StringComparer.Ordinal);

    /// <summary>Vectors created and not yet released.</summary>
    public int LiveVectors { get; private set; }

    /// <summary>Bases created and not yet disposed.</summary>
    public int LiveBases { get; set; }

    public int Dimension => Count(dimension);

    public MinimalVector CreateVector()
    {
        LiveVectors++;
        return Count(new MinimalVector(_inner.CreateVector()));
    }

    public void Release(MinimalVector vector)
    {
        Assert.True(IsCompatible(vector));
        LiveVectors--;
        Count(0);
    }

    public bool IsCompatible(MinimalVector vector) => Count(vector is not null && _inner.IsCompatible(vector.Data));

    public void FillRandom(MinimalVector vector, RandomKind kind, int seed) => _inner.FillRandom(Count(vector).Data, kind, seed);

    public void Clear(MinimalVector vector) => _inner.Clear(Count(vector).Data);

    public double Dot(MinimalVector x, MinimalVector y) => _inner.Dot(Count(x).Data, y.Data);

    public double Norm(MinimalVector x) => _inner.Norm(Count(x).Data);

    public void Axpy(double alpha, MinimalVector x, MinimalVector y) => _inner.Axpy(alpha, Count(x).Data, y.Data);

    public void Scale(MinimalVector x, double alpha) => _inner.Scale(Count(x).Data, alpha);

    public void Copy(MinimalVector source, MinimalVector destination) => _inner.Copy(Count(source).Data, destination.Data);

    public IBasis<MinimalVector> CreateBasis(int capacity)
    {
        LiveBases++;
        return Count(new MinimalBasis(this, _inner, capacity));
    }

    private T Count<T>(T value, [System.Runtime.CompilerServices.CallerMemberName] string member = "")
    {
        Calls[member] = Calls.GetValueOrDefault(member) + 1;
        return value;
    }
}

/// <summary>The minimal space's basis: the argument checks of <see cref="Basis{TVec}"/> around a CPU basis.</summary>
internal sealed class MinimalBasis(MinimalVectorSpace owner, CpuVectorSpace<double> inner, int capacity) : Basis<MinimalVector>(capacity)
{
    private readonly CpuBasis<double> _basis = new(inner.Dimension, capacity);

    protected override void CheckVector(MinimalVector vector, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(vector, parameterName);
        if (!owner.IsCompatible(vector))
        {
            throw new ArgumentException("Not a vector of the minimal space.", parameterName);
        }
    }

    protected override MinimalVector VectorAt(int index) => new(_basis[index]);

    protected override void AppendCore(MinimalVector vector, int index) => _basis.Append(vector.Data);

    protected override void ProjectCore(MinimalVector vector, Span<double> coefficients) => _basis.Project(vector.Data, coefficients);

    protected override void SubtractProjectionCore(MinimalVector vector, ReadOnlySpan<double> coefficients) => _basis.SubtractProjection(vector.Data, coefficients);

    protected override void CombineCore(ReadOnlySpan<double> coefficients, MinimalVector destination) => _basis.Combine(coefficients, destination.Data);

    protected override void TransformCore(double[,] matrix) => _basis.Transform(matrix);

    protected override void TruncateCore(int count)
    {
        if (_basis.Count > count)
        {
            _basis.Truncate(count);
        }
    }

    protected override void Dispose(bool disposing)
    {
        owner.LiveBases--;
        base.Dispose(disposing);
    }
}
