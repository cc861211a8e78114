namespace SpectralMonitor.Examples.InstabilityDemo.Tests;

/// <summary>
/// Runs <c>--quick --no-serve</c> once, in-process, for every test of the collection. The output stays in the test
/// binaries' folder (quick-run/) after the tests, with the report's screenshot, for a human to look at.
/// </summary>
public sealed class QuickRun
{
    public QuickRun()
    {
        Folder = Path.Combine(AppContext.BaseDirectory, "quick-run");
        if (Directory.Exists(Folder))
        {
            Directory.Delete(Folder, recursive: true);
        }

        using var output = new StringWriter();
        using var error = new StringWriter();
        ExitCode = DemoApp.Run(["--quick", "--no-serve", "--output", Folder], output, error);
        Output = output.ToString();
        Error = error.ToString();
    }

    public string Folder { get; }

    public int ExitCode { get; }

    public string Output { get; }

    public string Error { get; }

    public string SummaryPath => Path.Combine(Folder, "summary.json");

    public string ReportPath => Path.Combine(Folder, "report.html");
}

[CollectionDefinition(Name)]
public sealed class QuickRunGroup : ICollectionFixture<QuickRun>
{
    public const string Name = "quick run";
}
