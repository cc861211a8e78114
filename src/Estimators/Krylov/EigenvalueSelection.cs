namespace SpectralMonitor.Estimators.Krylov;

/// <summary>Which eigenvalues a Krylov eigensolver looks for (SciPy's <c>which</c>).</summary>
public enum EigenvalueSelection
{
    /// <summary>The largest eigenvalues, signed (<c>"LA"</c>). Symmetric problems only.</summary>
    LargestAlgebraic,

    /// <summary>The smallest eigenvalues, signed (<c>"SA"</c>). Symmetric problems only.</summary>
    SmallestAlgebraic,

    /// <summary>The eigenvalues of largest modulus (<c>"LM"</c>).</summary>
    LargestMagnitude,

    /// <summary>The eigenvalues of smallest modulus (<c>"SM"</c>), without shift-and-invert: converges slowly unless they are well separated. Symmetric problems only.</summary>
    SmallestMagnitude,

    /// <summary>Half from each end of the spectrum (<c>"BE"</c>); with an odd count the extra one comes from the top. Symmetric problems only.</summary>
    BothEnds,

    /// <summary>The eigenvalues of largest real part (<c>"LR"</c>); for a symmetric problem the same as <see cref="LargestAlgebraic"/>.</summary>
    LargestRealPart,
}
