using System.Diagnostics;
using System.Text.RegularExpressions;

namespace SpectralMonitor.Examples.InstabilityDemo.Tests;

[Collection(QuickRunGroup.Name)]
public sealed partial class ReportRenderingTests(QuickRun run)
{
    private const string Chromium = "/usr/bin/chromium";
    private const string InstallHint = "install it with: apt-get update && apt-get install -y chromium";

    [Fact]
    public void Report_is_self_contained_with_scottplot_charts_for_every_run()
    {
        Assert.True(run.ExitCode == 0, run.Error);
        string html = File.ReadAllText(run.ReportPath);

        // Nothing is fetched: no external scripts, styles, images or fonts.
        Assert.DoesNotMatch(ExternalReference(), html);
        Assert.DoesNotContain("@import", html, StringComparison.Ordinal);
        var charts = ChartTag().Matches(html);
        Assert.NotEmpty(charts);
        Assert.All(charts, c => Assert.True(int.Parse(c.Groups[1].Value) > 0, c.Value));

        // Every chart is an inline SVG drawn by ScottPlot (its clip paths, renamed per chart so that ids are unique).
        Assert.Equal(charts.Count, Regex.Count(html, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
        Assert.DoesNotContain("<?xml", html, StringComparison.Ordinal);
        var ids = ClipId().Matches(html).Select(m => m.Groups[1].Value).ToArray();
        Assert.NotEmpty(ids);
        Assert.Equal(ids.Length, ids.Distinct().Count());

        // One section per run with at least loss, learning rate, gradient norm and the edge charts; the comparison
        // table of each stable/unstable pair; every run in the "what the monitor raised" list.
        foreach (var definition in DemoCatalog.All)
        {
            Assert.Contains($"<section id=\"{definition.Id}\">", html, StringComparison.Ordinal);
            Assert.Contains($"<li><b>{definition.Id}</b>", html, StringComparison.Ordinal);
        }

        Assert.True(charts.Count >= DemoCatalog.All.Count * 5, $"{charts.Count} charts");
        Assert.Equal(2, Regex.Count(html, "<h3>"));
    }

    [Fact]
    public void Report_renders_every_chart_in_headless_chromium()
    {
        Assert.True(run.ExitCode == 0, run.Error);
        if (!File.Exists(Chromium))
        {
            if (Environment.GetEnvironmentVariable("CI") is not null)
            {
                Assert.Fail($"CI is set but {Chromium} is missing; {InstallHint}.");
            }

            Assert.Skip($"{Chromium} not found, so the report was not rendered; {InstallHint} (with CI set, this test fails instead).");
        }

        string url = new Uri(run.ReportPath).AbsoluteUri;
        string dom = RunChromium("--dump-dom", url);
        var charts = RenderedChart().Matches(dom);
        int expected = ChartTag().Count(File.ReadAllText(run.ReportPath));

        // The page's own script counted, in the browser, the vertices of every laid-out data series: every chart
        // drew all of its data points.
        Assert.Contains("data-charts=\"ok\"", dom, StringComparison.Ordinal);
        Assert.Equal(expected, charts.Count);
        Assert.All(charts, c =>
        {
            int points = int.Parse(c.Groups[1].Value);
            Assert.True(points > 0, c.Value);
            Assert.Equal(points, int.Parse(c.Groups[2].Value));
        });

        string screenshot = Path.Combine(run.Folder, "report.png");
        RunChromium($"--screenshot={screenshot}", "--window-size=1400,2600", url);
        byte[] png = File.ReadAllBytes(screenshot);
        Assert.True(png.Length > 20_000, $"screenshot of {png.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
    }

    private static string RunChromium(params string[] arguments)
    {
        string profile = Directory.CreateTempSubdirectory("instability-demo-chromium-").FullName;
        try
        {
            var start = new ProcessStartInfo(Chromium)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string flag in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", $"--user-data-dir={profile}" })
            {
                start.ArgumentList.Add(flag);
            }

            foreach (string argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start)!;
            var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"chromium did not finish within 90 s: {string.Join(' ', arguments)}");
            }

            Assert.True(process.ExitCode == 0, $"chromium exited with {process.ExitCode}: {error.Result}");
            return output.Result;
        }
        finally
        {
            Directory.Delete(profile, recursive: true);
        }
    }

    [GeneratedRegex("""<figure class="chart"[^>]*data-points="(\d+)"[^>]*>""")]
    private static partial Regex ChartTag();

    [GeneratedRegex("""<figure class="chart"[^>]*data-points="(\d+)"[^>]*data-drawn="(\d+)"[^>]*>""")]
    private static partial Regex RenderedChart();

    [GeneratedRegex("<clipPath id=\"([^\"]+)\"")]
    private static partial Regex ClipId();

    [GeneratedRegex("""(src|href)\s*=\s*["'](https?:)?//""", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalReference();
}
