namespace SpectralMonitor.Probing;

/// <summary>
/// Thrown by an <see cref="IProbeTarget{TVec}"/> (or its context) when a probe cannot measure anything meaningful for a
/// reason the user has to fix: the probe loss is not finite or does not depend on the monitored parameters, the
/// optimizer no longer trains the model. The monitor records the probe as failed with <see cref="Exception.Message"/>
/// as its <see cref="ProbeResult.FailureReason"/>, verbatim (no exception type in front of it), and logs it once.
/// </summary>
public sealed class ProbeTargetException : Exception
{
    /// <summary>Creates the exception with a default message.</summary>
    public ProbeTargetException()
        : base("The probe target cannot be probed.")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The failure reason, as the user should read it: what is wrong and what to do.</param>
    public ProbeTargetException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    /// <param name="message">The failure reason.</param>
    /// <param name="innerException">The cause.</param>
    public ProbeTargetException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
