namespace SpectralMonitor.Estimators.Optimizers;

/// <summary>Argument checks shared by every update-operator builder; messages name the offending field and value.</summary>
internal static class SnapshotValidation
{
    internal const string SnapshotParameter = "snapshot";

    internal static void Hessian<TVec>(LinearOperator<TVec> hessian)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(hessian);
        if (!hessian.IsSymmetric)
        {
            throw new ArgumentException($"The Hessian operator ({hessian.GetType().Name}) must be declared symmetric (IsSymmetric is false); Jᵀ relies on H = Hᵀ.", nameof(hessian));
        }
    }

    /// <summary>Checks the Hessian and that its space has the element-wise operations a diagonal preconditioner needs.</summary>
    internal static IElementwiseVectorSpace<TVec> ElementwiseSpace<TVec>(LinearOperator<TVec> hessian)
        where TVec : class
    {
        Hessian(hessian);
        return hessian.Space as IElementwiseVectorSpace<TVec>
            ?? throw new ArgumentException($"The Hessian's vector space ({hessian.Space.GetType().Name}) has no element-wise operations; the adaptive optimizers' operators need IElementwiseVectorSpace (entry-wise products and square roots for the diagonal preconditioner).", nameof(hessian));
    }

    internal static void LearningRate(string field, double value, string parameterName = SnapshotParameter)
    {
        if (!(value > 0) || !double.IsFinite(value))
        {
            throw new ArgumentException($"{field} is {value}; it must be positive and finite.", parameterName);
        }
    }

    /// <summary>Exponential-average coefficients (β₁, β₂, alpha) and momentum: in <c>[0, 1)</c>.</summary>
    internal static void UnitInterval(string field, double value, string parameterName = SnapshotParameter)
    {
        if (!(value >= 0 && value < 1))
        {
            throw new ArgumentException($"{field} is {value}; it must be in [0, 1).", parameterName);
        }
    }

    internal static void Epsilon(string field, double value, string parameterName = SnapshotParameter)
    {
        if (!(value > 0) || !double.IsFinite(value))
        {
            throw new ArgumentException($"{field} is {value}; it must be positive and finite.", parameterName);
        }
    }

    internal static void NonNegative(string field, double value, string parameterName = SnapshotParameter)
    {
        if (!(value >= 0) || !double.IsFinite(value))
        {
            throw new ArgumentException($"{field} is {value}; it must be non-negative and finite.", parameterName);
        }
    }

    internal static void Finite(string field, double value, string parameterName = SnapshotParameter)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentException($"{field} is {value}; it must be finite.", parameterName);
        }
    }

    internal static void Step(string field, long value, string parameterName = SnapshotParameter)
    {
        if (value < 0)
        {
            throw new ArgumentException($"{field} is {value}; it must be non-negative (steps taken so far).", parameterName);
        }
    }

    /// <summary>Checks that a state vector is present (when <paramref name="required"/>), of the Hessian's space, and finite.</summary>
    /// <returns>Whether the vector is present.</returns>
    internal static bool Vector<TVec>(IVectorSpace<TVec> space, TVec? vector, string field, bool required, string parameterName = SnapshotParameter)
        where TVec : class
    {
        if (vector is null)
        {
            if (required)
            {
                throw new ArgumentException($"{field} is null; it is required here.", parameterName);
            }

            return false;
        }

        if (!space.IsCompatible(vector))
        {
            throw new ArgumentException($"{field} is not a vector of the Hessian's space (dimension {space.Dimension}{DescribeLength(vector)}).", parameterName);
        }

        // Non-finite entries propagate through the inner product (the only reduction every backend has).
        double squares = space.Dot(vector, vector);
        if (!double.IsFinite(squares))
        {
            string? where = DescribeNonFinite(vector);
            if (where is not null)
            {
                throw new ArgumentException($"{field} contains {where}.", parameterName);
            }

            if (vector is not double[] and not float[])
            {
                throw new ArgumentException($"{field} contains NaN or an infinite entry (or entries whose squares overflow).", parameterName);
            }
        }

        return true;
    }

    /// <summary>Checks a derived vector (a preconditioner) for non-finite entries and explains the cause.</summary>
    internal static void DerivedFinite<TVec>(IVectorSpace<TVec> space, TVec derived, TVec source, string sourceField, string what, string parameterName = SnapshotParameter)
        where TVec : class
    {
        double squares = space.Dot(derived, derived);
        if (double.IsFinite(squares))
        {
            return;
        }

        string? index = FirstNonFinite(derived) is int i ? $" at index {i}" : string.Empty;
        string? negative = FirstNegative(source) is int j ? $" ({sourceField} is negative at index {j})" : string.Empty;
        throw new ArgumentException($"{what} is not finite{index}{negative}; {sourceField} must hold non-negative averages of squares.", parameterName);
    }

    internal static string DescribeLength<TVec>(TVec vector) => vector switch
    {
        double[] d => $"; it has length {d.Length}",
        float[] f => $"; it has length {f.Length}",
        _ => string.Empty,
    };

    internal static string? DescribeNonFinite<TVec>(TVec vector)
    {
        switch (vector)
        {
            case double[] d:
                for (int i = 0; i < d.Length; i++)
                {
                    if (!double.IsFinite(d[i]))
                    {
                        return $"{Name(d[i])} at index {i}";
                    }
                }

                return null;
            case float[] f:
                for (int i = 0; i < f.Length; i++)
                {
                    if (!float.IsFinite(f[i]))
                    {
                        return $"{Name(f[i])} at index {i}";
                    }
                }

                return null;
            default:
                return null;
        }
    }

    private static int? FirstNonFinite<TVec>(TVec vector)
    {
        switch (vector)
        {
            case double[] d:
                for (int i = 0; i < d.Length; i++)
                {
                    if (!double.IsFinite(d[i]))
                    {
                        return i;
                    }
                }

                return null;
            case float[] f:
                for (int i = 0; i < f.Length; i++)
                {
                    if (!float.IsFinite(f[i]))
                    {
                        return i;
                    }
                }

                return null;
            default:
                return null;
        }
    }

    private static int? FirstNegative<TVec>(TVec vector)
    {
        switch (vector)
        {
            case double[] d:
                for (int i = 0; i < d.Length; i++)
                {
                    if (d[i] < 0)
                    {
                        return i;
                    }
                }

                return null;
            case float[] f:
                for (int i = 0; i < f.Length; i++)
                {
                    if (f[i] < 0)
                    {
                        return i;
                    }
                }

                return null;
            default:
                return null;
        }
    }

    private static string Name(double value) =>
        double.IsNaN(value) ? "NaN" : value > 0 ? "+Infinity" : "-Infinity";
}
