using System.Text.Json;
using System.Text.RegularExpressions;

namespace SpectralMonitor.Tests.Prometheus;

/// <summary>Reads PromQL expressions out of the Grafana dashboard and the alert rules, and the metric names out of PromQL and scrapes.</summary>
internal static partial class DashboardExpressions
{
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan",
    };

    /// <summary>(datasource uid, expression) for every panel target and annotation query.</summary>
    public static IEnumerable<(string? DatasourceUid, string Expr)> All(JsonElement dashboard)
    {
        foreach (var panel in dashboard.GetProperty("panels").EnumerateArray())
        {
            if (!panel.TryGetProperty("targets", out var targets))
            {
                continue;
            }

            foreach (var target in targets.EnumerateArray())
            {
                yield return (target.GetProperty("datasource").GetProperty("uid").GetString(), target.GetProperty("expr").GetString()!);
            }
        }

        foreach (var annotation in dashboard.GetProperty("annotations").GetProperty("list").EnumerateArray())
        {
            if (annotation.TryGetProperty("expr", out var expr))
            {
                yield return (annotation.GetProperty("datasource").GetProperty("uid").GetString(), expr.GetString()!);
            }
        }
    }

    /// <summary>
    /// The <c>expr</c> of every rule in a Prometheus rules file, and the names its recording rules define. The file
    /// is the repository's own: block scalars (<c>|</c>) and one-line expressions, two-space indentation.
    /// </summary>
    public static (List<string> Expressions, HashSet<string> Recorded) Rules(string yaml)
    {
        var expressions = new List<string>();
        var recorded = new HashSet<string>(StringComparer.Ordinal);
        var lines = yaml.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var trimmed = lines[i].Trim();
            if (trimmed.StartsWith("- record:", StringComparison.Ordinal))
            {
                recorded.Add(trimmed["- record:".Length..].Trim());
            }

            if (!trimmed.StartsWith("expr:", StringComparison.Ordinal))
            {
                continue;
            }

            var inline = trimmed["expr:".Length..].Trim();
            if (inline != "|")
            {
                expressions.Add(inline);
                continue;
            }

            var indent = lines[i].Length - lines[i].TrimStart().Length;
            var block = new List<string>();
            while (i + 1 < lines.Length && (lines[i + 1].Trim().Length == 0 || lines[i + 1].Length - lines[i + 1].TrimStart().Length > indent))
            {
                block.Add(lines[++i].Trim());
            }

            expressions.Add(string.Join(' ', block).Trim());
        }

        return (expressions, recorded);
    }

    /// <summary>
    /// The metric names a PromQL expression selects: identifiers outside label matchers, ranges, strings and
    /// grouping lists that are neither functions (followed by '(') nor keywords. Recording-rule names contain ':'.
    /// </summary>
    public static IEnumerable<string> MetricNames(string expr)
    {
        var bare = Strings().Replace(expr, " ");
        bare = Matchers().Replace(bare, " ");
        bare = Ranges().Replace(bare, " ");
        bare = Groupings().Replace(bare, " ");
        foreach (Match match in Identifiers().Matches(bare))
        {
            var name = match.Groups[1].Value;
            var next = bare.AsSpan(match.Index + match.Length).TrimStart();
            if (!Keywords.Contains(name) && !next.StartsWith("("))
            {
                yield return name;
            }
        }
    }

    /// <summary>
    /// The metric names of the samples in a scrape (text format or OpenMetrics) that carry one of
    /// <paramref name="runs"/> as their <c>run</c> label, so that monitors of tests running in parallel do not count.
    /// </summary>
    public static HashSet<string> ExportedNames(string scrape, IEnumerable<string> runs)
    {
        var labels = runs.Select(r => $"run=\"{r}\"").ToList();
        return scrape.Split('\n')
            .Where(l => l.Length > 0 && l[0] != '#' && labels.Any(label => l.Contains(label, StringComparison.Ordinal)))
            .Select(l => l[..l.IndexOfAny(['{', ' '])])
            .ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Substitutes Grafana's variables so Prometheus can evaluate the expression.</summary>
    public static string Concrete(string expr)
        => expr.Replace("$__rate_interval", "1m", StringComparison.Ordinal)
            .Replace("$__interval", "15s", StringComparison.Ordinal)
            .Replace("$run", ".*", StringComparison.Ordinal)
            .Replace("$optimizer", ".*", StringComparison.Ordinal);

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'")]
    private static partial Regex Strings();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Matchers();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Ranges();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex Groupings();

    [GeneratedRegex(@"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)")]
    private static partial Regex Identifiers();
}
