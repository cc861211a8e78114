namespace SpectralMonitor.Estimators.Krylov;

/// <summary>Validation shared by the option records of the Krylov eigensolvers.</summary>
internal static class KrylovOptionChecks
{
    /// <summary>
    /// Validates the common options against the operator dimension <paramref name="n"/> and returns the Krylov
    /// dimension to use (<paramref name="krylovDimension"/> or, when 0, <c>min(n, max(2k + 1, 20))</c>).
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range; the message names it, its value and the allowed range.</exception>
    internal static int ResolveKrylovDimension(
        string optionsName, string parameterName, int n, int count, int krylovDimension, double tolerance, int maxRestarts, long maxApplications)
    {
        if (count < 1 || count > n)
        {
            throw new ArgumentException($"{optionsName}.Count is {count}; it must be in [1, {n}] (the operator dimension).", parameterName);
        }

        if (!(tolerance > 0 && tolerance < 1))
        {
            throw new ArgumentException($"{optionsName}.Tolerance is {tolerance}; it must be a relative residual in (0, 1).", parameterName);
        }

        if (maxRestarts < 0)
        {
            throw new ArgumentException($"{optionsName}.MaxRestarts is {maxRestarts}; it must be ≥ 0.", parameterName);
        }

        if (maxApplications < 0)
        {
            throw new ArgumentException($"{optionsName}.MaxApplications is {maxApplications}; it must be ≥ 0 (0 means no limit).", parameterName);
        }

        if (krylovDimension == 0)
        {
            return Math.Min(n, Math.Max((2 * count) + 1, 20));
        }

        // m > k leaves room for at least one new direction per restart; m = n (the whole space) is always allowed.
        if (krylovDimension < 0 || krylovDimension > n || (krylovDimension <= count && krylovDimension != n))
        {
            throw new ArgumentException(
                $"{optionsName}.KrylovDimension is {krylovDimension}; it must be 0 (automatic) or in [{Math.Min(count + 1, n)}, {n}] (greater than Count = {count}, at most the operator dimension {n}).",
                parameterName);
        }

        return krylovDimension;
    }

    /// <summary>Null checks, then the solver's own validation of <paramref name="options"/> against the operator; returns the Krylov dimension.</summary>
    internal static int Resolve<TVec>(LinearOperator<TVec> op, KrylovEigenOptions options)
        where TVec : class
    {
        ArgumentNullException.ThrowIfNull(op);
        ArgumentNullException.ThrowIfNull(options);
        return options.Resolve(op.Dimension, nameof(options));
    }

    /// <summary>Keep count for a thick restart: the wanted <paramref name="count"/> plus half of the rest, at most <c>m − 1</c>.</summary>
    internal static int KeepCount(int count, int m) => Math.Clamp(count + ((m - count) / 2), Math.Min(count, m - 1), m - 1);
}
