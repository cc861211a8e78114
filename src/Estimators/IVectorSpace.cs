namespace SpectralMonitor.Estimators;

/// <summary>How random vectors are drawn by <see cref="IVectorSpace{TVec}.FillRandom"/>.</summary>
public enum RandomKind
{
    /// <summary>Independent standard normal entries (Krylov start vectors).</summary>
    Gaussian,

    /// <summary>Independent ±1 entries with equal probability (Hutchinson trace probes).</summary>
    Rademacher,

    /// <summary>
    /// The row-major entries of <c>b·aᵀ</c> (truncated to the dimension n) for independent standard normal vectors
    /// <c>a</c> of <c>⌈√n⌉</c> and <c>b</c> of <c>⌈n/⌈√n⌉⌉</c> entries: mean 0 and variance 1 per entry, not Gaussian,
    /// and drawn from about 2√n random numbers instead of n. For where only genericity matters, such as the small random
    /// part of a Krylov warm start: a fixed non-zero vector is orthogonal to it with probability 0 (the inner product is
    /// a non-zero polynomial in the Gaussian draws), as it is to a Gaussian vector.
    /// </summary>
    GaussianProduct,
}

/// <summary>
/// The vector operations a Krylov method needs, and nothing more (KrylovKit's minimal vector interface): create,
/// release, random fill, clear, inner product, norm, axpy, scale, copy, and a basis for the bulk Gram–Schmidt
/// operations. A backend (CPU spans, device tensors) implements this once; Lanczos, Arnoldi, stochastic Lanczos
/// quadrature and the matrix-free non-normality measures are written against it alone (a test runs them on a space
/// that implements nothing else). The element-wise operations of the optimizers' preconditioners are a separate
/// interface, <see cref="IElementwiseVectorSpace{TVec}"/>.
/// </summary>
/// <remarks>
/// Vectors are created by the space and belong to it: call <see cref="Release"/> when one is no longer
/// needed so that device-resident backends can free memory at once. All reductions return <see cref="double"/>
/// so that the projected (small, dense) problems are always solved in double precision on the CPU.
/// </remarks>
/// <typeparam name="TVec">The backend's vector type (for example <c>double[]</c> or a device tensor).</typeparam>
public interface IVectorSpace<TVec>
    where TVec : class
{
    /// <summary>Length of every vector of this space.</summary>
    int Dimension { get; }

    /// <summary>Returns a new zero vector.</summary>
    TVec CreateVector();

    /// <summary>Frees a vector created by this space. Using it afterwards is an error.</summary>
    void Release(TVec vector);

    /// <summary>Whether <paramref name="vector"/> belongs to this space (right length, type, device).</summary>
    bool IsCompatible(TVec vector);

    /// <summary>Fills <paramref name="vector"/> with reproducible random entries.</summary>
    void FillRandom(TVec vector, RandomKind kind, int seed);

    /// <summary>Sets every entry of <paramref name="vector"/> to zero.</summary>
    void Clear(TVec vector);

    /// <summary>Inner product ⟨x, y⟩.</summary>
    double Dot(TVec x, TVec y);

    /// <summary>Euclidean norm ‖x‖₂.</summary>
    double Norm(TVec x);

    /// <summary><c>y ← α·x + y</c>.</summary>
    void Axpy(double alpha, TVec x, TVec y);

    /// <summary><c>x ← α·x</c>.</summary>
    void Scale(TVec x, double alpha);

    /// <summary><c>destination ← source</c>.</summary>
    void Copy(TVec source, TVec destination);

    /// <summary>Creates an empty orthonormal-basis container able to hold <paramref name="capacity"/> vectors.</summary>
    IBasis<TVec> CreateBasis(int capacity);
}

/// <summary>
/// The element-wise operations that diagonal preconditioners (Adam, RMSprop) and the optimizers' update operators need
/// on top of the Krylov operations: products, maxima and square roots entry by entry, and the largest magnitude.
/// A Hessian whose space implements this can drive the optimizer operators; Krylov methods never need it.
/// </summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public interface IElementwiseVectorSpace<TVec> : IVectorSpace<TVec>
    where TVec : class
{
    /// <summary>The largest absolute entry ‖x‖_∞ (NaN if any entry is NaN).</summary>
    double MaxAbs(TVec x);

    /// <summary><c>destination ← x ⊙ y</c> (elementwise product; <paramref name="destination"/> may alias an input).</summary>
    void Multiply(TVec x, TVec y, TVec destination);

    /// <summary><c>destination ← max(x, y)</c> elementwise (<paramref name="destination"/> may alias an input).</summary>
    void Maximum(TVec x, TVec y, TVec destination);

    /// <summary><c>destination ← √x</c> elementwise (<paramref name="destination"/> may alias <paramref name="x"/>).</summary>
    void Sqrt(TVec x, TVec destination);

    /// <summary>
    /// <c>destination ← [x &lt; threshold]</c> elementwise: 1 where the entry is below <paramref name="threshold"/>, 0 elsewhere
    /// (NaN entries give 0; <paramref name="destination"/> may alias <paramref name="x"/>). A mask for sums over a subset.
    /// </summary>
    void IndicatorBelow(TVec x, double threshold, TVec destination);

    /// <summary>
    /// <c>destination ← 1 / (√(scale·x) + epsilon)</c> elementwise: the diagonal preconditioner of Adam and RMSprop
    /// (<paramref name="destination"/> may alias <paramref name="x"/>).
    /// </summary>
    void InverseSqrtPlusEpsilon(TVec x, double scale, double epsilon, TVec destination);
}

/// <summary>
/// A growable set of vectors <c>Q = [q₀ … q_{Count−1}]</c> with the bulk operations that Gram–Schmidt,
/// restarts and Ritz-vector extraction need, so that each is one backend call (one device kernel), not
/// <c>Count</c> small ones.
/// </summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public interface IBasis<TVec> : IDisposable
    where TVec : class
{
    /// <summary>Number of vectors currently held.</summary>
    int Count { get; }

    /// <summary>Maximum number of vectors.</summary>
    int Capacity { get; }

    /// <summary>
    /// The vector at <paramref name="index"/>. The returned object is a view owned by the basis: read it
    /// or pass it to an operator, but do not release it and do not keep it across <see cref="Transform"/>.
    /// </summary>
    TVec this[int index] { get; }

    /// <summary>Copies <paramref name="vector"/> in as the next basis vector.</summary>
    void Append(TVec vector);

    /// <summary>Computes <c>c = Qᵀ·v</c>; <paramref name="coefficients"/> must have length <see cref="Count"/>.</summary>
    void Project(TVec vector, Span<double> coefficients);

    /// <summary>Computes <c>v ← v − Q·c</c>; <paramref name="coefficients"/> must have length <see cref="Count"/>.</summary>
    void SubtractProjection(TVec vector, ReadOnlySpan<double> coefficients);

    /// <summary>Computes <c>destination ← Q·c</c>; <paramref name="coefficients"/> must have length <see cref="Count"/>.</summary>
    void Combine(ReadOnlySpan<double> coefficients, TVec destination);

    /// <summary>
    /// Replaces the basis by <c>Q·M</c> in place, where <paramref name="matrix"/> is <see cref="Count"/> × <c>newCount</c>
    /// (row-major, <c>matrix[i, j]</c>); afterwards <see cref="Count"/> is <c>newCount</c> (at most the old count).
    /// </summary>
    void Transform(double[,] matrix);

    /// <summary>Drops the vectors from <paramref name="count"/> on.</summary>
    void Truncate(int count);
}

/// <summary>The Euclidean norms of a vector before and after one Gram–Schmidt pass.</summary>
/// <param name="Before">‖v‖ before the pass.</param>
/// <param name="After">‖v − Q·Qᵀv‖ after it.</param>
public readonly record struct GramSchmidtNorms(double Before, double After);

/// <summary>
/// An optional capability of an <see cref="IBasis{TVec}"/>: one whole classical Gram–Schmidt pass (the norm of the
/// vector, <c>c = Qᵀv</c>, <c>v ← v − Q·c</c>, the new norm) as one backend operation that brings every scalar it
/// produced to the host in ONE transfer, while <c>c</c> itself never leaves the device on its way into the subtraction.
/// Device backends implement it so that a Krylov step synchronises with the device once per pass instead of four times
/// (norm, coefficients, coefficient upload, norm); the Krylov code uses it when the basis has it and falls back to the
/// minimal <see cref="IBasis{TVec}"/> operations otherwise, with the same arithmetic.
/// </summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public interface IGramSchmidtBasis<TVec> : IBasis<TVec>
    where TVec : class
{
    /// <summary>One classical Gram–Schmidt pass of <paramref name="vector"/> against the <see cref="IBasis{TVec}.Count"/> basis vectors.</summary>
    /// <param name="vector">Updated in place to <c>v − Q·Qᵀv</c>.</param>
    /// <param name="coefficients">Receives <c>Qᵀv</c> (length <see cref="IBasis{TVec}.Count"/>).</param>
    /// <returns>The norms of <paramref name="vector"/> before and after the pass (NaN or ∞ when it held such entries).</returns>
    GramSchmidtNorms ProjectOut(TVec vector, Span<double> coefficients);

    /// <summary>
    /// One modified Gram–Schmidt pass of <paramref name="vector"/> against the basis vectors
    /// <paramref name="first"/> … <see cref="IBasis{TVec}.Count"/> − 1 only (the local step of a Lanczos recurrence: the
    /// last one or two vectors), with the same single host transfer.
    /// </summary>
    /// <param name="vector">Updated in place.</param>
    /// <param name="first">The first basis vector of the window, in <c>[0, Count)</c>.</param>
    /// <param name="coefficients">Receives the coefficients along the window's vectors (length <c>Count − first</c>).</param>
    /// <returns>The norms of <paramref name="vector"/> before and after the pass.</returns>
    GramSchmidtNorms ProjectOut(TVec vector, int first, Span<double> coefficients);

    /// <summary>
    /// Two <see cref="ProjectOut(TVec, int, Span{double})"/> passes in a row (the local step of a Lanczos recurrence:
    /// the second removes what rounding left behind), with the scalars of both brought to the host in one transfer.
    /// The default makes the two calls.
    /// </summary>
    /// <param name="vector">Updated in place.</param>
    /// <param name="first">The first basis vector of the window, in <c>[0, Count)</c>.</param>
    /// <param name="firstPass">Receives the first pass's coefficients (length <c>Count − first</c>).</param>
    /// <param name="secondPass">Receives the second pass's coefficients (length <c>Count − first</c>).</param>
    /// <returns>The norm of <paramref name="vector"/> before the first pass and after the second.</returns>
    GramSchmidtNorms ProjectOutTwice(TVec vector, int first, Span<double> firstPass, Span<double> secondPass)
    {
        var before = ProjectOut(vector, first, firstPass);
        return new GramSchmidtNorms(before.Before, ProjectOut(vector, first, secondPass).After);
    }
}

/// <summary>
/// An optional capability of an <see cref="IBasis{TVec}"/>: the next basis vector can be written straight into the
/// basis's own storage (an operator's output, orthogonalized there) and then committed, so that a Krylov factorization
/// needs no separate work vector and no copy per step: one parameter-sized vector less per probe.
/// </summary>
/// <typeparam name="TVec">The backend's vector type.</typeparam>
public interface IInPlaceAppendBasis<TVec> : IBasis<TVec>
    where TVec : class
{
    /// <summary>
    /// The storage of slot <see cref="IBasis{TVec}.Count"/> (allocated when needed), to be filled and then made the next
    /// basis vector by <see cref="CommitNext"/>. It is not part of the basis until then (projections ignore it), and it is
    /// valid until the next call that changes the basis.
    /// </summary>
    /// <exception cref="InvalidOperationException">The basis is full.</exception>
    TVec NextSlot();

    /// <summary>Makes the vector written into <see cref="NextSlot"/> basis vector <see cref="IBasis{TVec}.Count"/>; the count grows by one.</summary>
    /// <exception cref="InvalidOperationException">The basis is full.</exception>
    void CommitNext();
}
