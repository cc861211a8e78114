namespace SpectralMonitor.Benchmarks.Load;

/// <summary>A cheap check that a scrape payload looks like a Prometheus text-format document from the monitor (the exporter starts it with <c># TYPE</c>).</summary>
internal static class PayloadShape
{
    /// <summary>The family the payload must carry a sample of: it exists only once the monitor has probed.</summary>
    public const string RequiredFamily = "stability_sharpness";

    /// <summary>
    /// Null when <paramref name="payload"/> starts with a <c># HELP</c> or <c># TYPE</c> line and holds a sample line of
    /// <see cref="RequiredFamily"/> itself (not merely a family whose name extends it, such as
    /// <c>stability_sharpness_threshold</c>); otherwise why not.
    /// </summary>
    public static string? Problem(string payload)
    {
        if (!payload.StartsWith("# HELP ", StringComparison.Ordinal) && !payload.StartsWith("# TYPE ", StringComparison.Ordinal))
        {
            string head = payload.Length <= 40 ? payload : payload[..40];
            return $"does not start with '# HELP' or '# TYPE' (starts with '{head.ReplaceLineEndings("\\n")}')";
        }

        if (!payload.Contains("\n" + RequiredFamily + "{", StringComparison.Ordinal)
            && !payload.Contains("\n" + RequiredFamily + " ", StringComparison.Ordinal))
        {
            return $"has no '{RequiredFamily}' sample";
        }

        return null;
    }
}
