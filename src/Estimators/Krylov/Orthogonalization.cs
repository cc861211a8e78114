namespace SpectralMonitor.Estimators.Krylov;

/// <summary>The outcome of orthogonalizing one new vector against a basis.</summary>
internal enum OrthogonalizationOutcome
{
    /// <summary>The vector has a new direction; it was normalized.</summary>
    NewDirection,

    /// <summary>The vector lies in the span of the basis to rounding level: an invariant subspace ("lucky breakdown").</summary>
    InvariantSubspace,

    /// <summary>A coefficient or the norm is NaN or infinite.</summary>
    NonFinite,
}

/// <summary>
/// Classical Gram–Schmidt with at most one reorthogonalization pass (CGS2 with the Daniel–Gragg–Kaufman–Stewart
/// criterion): each pass is two bulk basis calls (<see cref="IBasis{TVec}.Project"/> and
/// <see cref="IBasis{TVec}.SubtractProjection"/>), so a full reorthogonalization is one read of the basis per pass.
/// When the basis implements <see cref="IGramSchmidtBasis{TVec}"/> each pass is one fused call instead, with one host
/// transfer: a step then synchronises with the device once, or twice when the DGKS test asks for the second pass. A
/// local (Lanczos) step makes both its window passes in one fused call
/// (<see cref="IGramSchmidtBasis{TVec}.ProjectOutTwice"/>): one synchronisation.
/// </summary>
internal static class Orthogonalization
{
    /// <summary>DGKS threshold: a second pass is made when a pass removes more than 1 − 1/√2 of the norm.</summary>
    private const double ReorthogonalizationThreshold = 0.7071067811865476;

    /// <summary>
    /// Rounding level of an orthogonalized vector relative to the norm it started with. A remainder below
    /// <c>(√n + j)·ε</c> (times a safety factor 4) is indistinguishable from the rounding error of the two passes,
    /// which grows like √n for the inner products and like j for the subtraction; it is reported as an invariant
    /// subspace. (The worst-case bound n·ε is too pessimistic for n ≈ 10⁸ parameters: it would declare
    /// breakdown where a residual of 10⁻⁸ is still meaningful.)
    /// </summary>
    internal static double BreakdownThreshold(int dimension, int basisCount) =>
        4 * (Math.Sqrt(dimension) + basisCount) * Precision.MachineEpsilon;

    /// <summary>
    /// Orthogonalizes <paramref name="vector"/> against every vector of <paramref name="basis"/>, accumulating the
    /// coefficients in <paramref name="coefficients"/> (length <c>basis.Count</c>), and normalizes it when a new
    /// direction remains.
    /// </summary>
    /// <param name="space">The vector space.</param>
    /// <param name="basis">An orthonormal basis.</param>
    /// <param name="vector">Overwritten by the normalized orthogonal remainder (unless the outcome says otherwise).</param>
    /// <param name="coefficients">Receives <c>Qᵀ·vector</c> (the sum over both passes).</param>
    /// <param name="norm">The norm of the remainder before normalization.</param>
    internal static OrthogonalizationOutcome Orthogonalize<TVec>(
        IVectorSpace<TVec> space, IBasis<TVec> basis, TVec vector, Span<double> coefficients, out double norm)
        where TVec : class
    {
        if (basis is IGramSchmidtBasis<TVec> fused && basis.Count > 0)
        {
            return OrthogonalizeFused(space, fused, vector, coefficients, out norm);
        }

        double initialNorm = space.Norm(vector);
        norm = initialNorm;
        if (!double.IsFinite(initialNorm))
        {
            return OrthogonalizationOutcome.NonFinite;
        }

        coefficients.Clear();
        if (basis.Count > 0)
        {
            basis.Project(vector, coefficients);
            basis.SubtractProjection(vector, coefficients);
            norm = space.Norm(vector);
            if (norm < ReorthogonalizationThreshold * initialNorm)
            {
                Span<double> correction = basis.Count <= 256 ? stackalloc double[basis.Count] : new double[basis.Count];
                basis.Project(vector, correction);
                basis.SubtractProjection(vector, correction);
                for (int i = 0; i < correction.Length; i++)
                {
                    coefficients[i] += correction[i];
                }

                norm = space.Norm(vector);
            }
        }

        return Finish(space, basis.Count, vector, coefficients, initialNorm, norm);
    }

    /// <summary>
    /// Local orthogonalization for a symmetric (Lanczos) step: two Gram–Schmidt passes of <paramref name="vector"/> =
    /// <c>A·q_j</c> against <c>q_{j−1}</c> and <c>q_j</c> only, touching two basis vectors instead of the whole basis (the
    /// second pass removes what the first left behind through rounding, which single-precision inner products over
    /// millions of entries make far larger than the unit roundoff). In exact arithmetic that is all there is to remove;
    /// in floating point the remainder keeps components along older vectors of about <c>ε·‖A‖/β</c> (Paige), which the
    /// caller keeps small by asking for full steps once a Ritz pair nears convergence. When the remainder <c>β</c> is
    /// itself below <c>√ε_single·</c><paramref name="scale"/> a full pass against the whole basis follows.
    /// </summary>
    /// <param name="space">The vector space.</param>
    /// <param name="basis">The orthonormal basis <c>q₀ … q_j</c> (<c>j + 1</c> vectors).</param>
    /// <param name="vector"><c>A·q_j</c>; overwritten by the normalized remainder (unless the outcome says otherwise).</param>
    /// <param name="scale">An estimate of <c>‖A‖</c>.</param>
    /// <param name="coefficients">Receives the coefficients along <c>q₀ … q_j</c> (length <c>j + 1</c>).</param>
    /// <param name="norm">The norm of the remainder before normalization.</param>
    /// <param name="initialNorm"><c>‖A·q_j‖</c>.</param>
    internal static OrthogonalizationOutcome OrthogonalizeLocally<TVec>(
        IVectorSpace<TVec> space, IBasis<TVec> basis, TVec vector, double scale, Span<double> coefficients, out double norm, out double initialNorm)
        where TVec : class
    {
        int count = basis.Count;
        int first = Math.Max(0, count - 2);
        coefficients.Clear();
        int window = count - first;
        Span<double> correction = stackalloc double[2];
        Span<double> second = stackalloc double[2];
        GramSchmidtNorms passes;
        if (basis is IGramSchmidtBasis<TVec> fused)
        {
            // Both passes with one host transfer (a device synchronisation) instead of one per pass.
            passes = fused.ProjectOutTwice(vector, first, correction[..window], second[..window]);
        }
        else
        {
            var pass = WindowPass(space, basis, vector, first, correction[..window]);
            passes = double.IsFinite(pass.Before) ? new(pass.Before, WindowPass(space, basis, vector, first, second[..window]).After) : pass;
        }

        initialNorm = passes.Before;
        norm = passes.After;
        if (!double.IsFinite(initialNorm))
        {
            norm = initialNorm;
            return OrthogonalizationOutcome.NonFinite;
        }

        Accumulate(coefficients[first..], correction[..window]);
        Accumulate(coefficients[first..], second[..window]);
        if (double.IsFinite(norm) && norm < Math.Sqrt(Precision.SingleEpsilon) * Math.Max(scale, initialNorm))
        {
            Span<double> full = count <= 256 ? stackalloc double[count] : new double[count];
            norm = FullPass(space, basis, vector, full);
            Accumulate(coefficients, full);
        }

        return Finish(space, count, vector, coefficients, initialNorm, norm);
    }

    /// <summary>One modified Gram–Schmidt pass against basis vectors <paramref name="first"/> … Count − 1.</summary>
    private static GramSchmidtNorms WindowPass<TVec>(IVectorSpace<TVec> space, IBasis<TVec> basis, TVec vector, int first, Span<double> coefficients)
        where TVec : class
    {
        if (basis is IGramSchmidtBasis<TVec> fused)
        {
            return fused.ProjectOut(vector, first, coefficients);
        }

        double before = space.Norm(vector);
        for (int i = first; i < basis.Count; i++)
        {
            double c = space.Dot(basis[i], vector);
            coefficients[i - first] = c;
            space.Axpy(-c, basis[i], vector);
        }

        return new GramSchmidtNorms(before, space.Norm(vector));
    }

    private static void Accumulate(Span<double> total, ReadOnlySpan<double> part)
    {
        for (int i = 0; i < part.Length; i++)
        {
            total[i] += part[i];
        }
    }

    /// <summary>One classical Gram–Schmidt pass against the whole basis; returns the norm of the remainder.</summary>
    private static double FullPass<TVec>(IVectorSpace<TVec> space, IBasis<TVec> basis, TVec vector, Span<double> coefficients)
        where TVec : class
    {
        if (basis is IGramSchmidtBasis<TVec> fused)
        {
            return fused.ProjectOut(vector, coefficients).After;
        }

        basis.Project(vector, coefficients);
        basis.SubtractProjection(vector, coefficients);
        return space.Norm(vector);
    }

    /// <summary>The same algorithm with one fused <see cref="IGramSchmidtBasis{TVec}.ProjectOut(TVec, Span{double})"/> call per pass.</summary>
    private static OrthogonalizationOutcome OrthogonalizeFused<TVec>(
        IVectorSpace<TVec> space, IGramSchmidtBasis<TVec> basis, TVec vector, Span<double> coefficients, out double norm)
        where TVec : class
    {
        var first = basis.ProjectOut(vector, coefficients);
        double initialNorm = first.Before;
        norm = first.After;
        if (!double.IsFinite(initialNorm))
        {
            norm = initialNorm;
            return OrthogonalizationOutcome.NonFinite;
        }

        if (norm < ReorthogonalizationThreshold * initialNorm)
        {
            Span<double> correction = basis.Count <= 256 ? stackalloc double[basis.Count] : new double[basis.Count];
            norm = basis.ProjectOut(vector, correction).After;
            for (int i = 0; i < correction.Length; i++)
            {
                coefficients[i] += correction[i];
            }
        }

        return Finish(space, basis.Count, vector, coefficients, initialNorm, norm);
    }

    /// <summary>Classifies the orthogonalized remainder and normalizes it when it is a new direction.</summary>
    private static OrthogonalizationOutcome Finish<TVec>(IVectorSpace<TVec> space, int basisCount, TVec vector, ReadOnlySpan<double> coefficients, double initialNorm, double norm)
        where TVec : class
    {
        for (int i = 0; i < coefficients.Length; i++)
        {
            if (!double.IsFinite(coefficients[i]))
            {
                return OrthogonalizationOutcome.NonFinite;
            }
        }

        if (!double.IsFinite(norm))
        {
            return OrthogonalizationOutcome.NonFinite;
        }

        if (norm <= BreakdownThreshold(space.Dimension, basisCount) * initialNorm || norm == 0)
        {
            return OrthogonalizationOutcome.InvariantSubspace;
        }

        space.Scale(vector, 1 / norm);
        return OrthogonalizationOutcome.NewDirection;
    }
}
