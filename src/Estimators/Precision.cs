namespace SpectralMonitor.Estimators;

/// <summary>The floating-point constants every estimator shares, written once.</summary>
internal static class Precision
{
    /// <summary>
    /// Unit roundoff of <see cref="double"/>, 2⁻⁵² (LAPACK's <c>dlamch('E')</c> times 2, NumPy's <c>finfo(float64).eps</c>).
    /// Not <see cref="double.Epsilon"/>, which is the smallest subnormal.
    /// </summary>
    internal const double MachineEpsilon = 2.220446049250313e-16;

    /// <summary>
    /// Unit roundoff of <see cref="float"/>, 2⁻²³ (<c>finfo(float32).eps</c>): the least precise vectors the backends use
    /// (float32 tensors). Tests on the level of orthogonality use it when the vectors' precision is not known.
    /// </summary>
    internal const double SingleEpsilon = 1.1920928955078125e-7;
}
