using System.Diagnostics;
using SpectralMonitor.Reference.Monitoring;
using SpectralMonitor.Rules;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace SpectralMonitor.Examples.InstabilityDemo;

/// <summary>Shows the runs while they train. Called on the training thread only.</summary>
internal abstract class RunView
{
    /// <summary>Runs <paramref name="training"/> inside the view (a live display needs to own the console meanwhile).</summary>
    public virtual void Execute(DemoSettings settings, Action training)
    {
        ArgumentNullException.ThrowIfNull(training);
        training();
    }

    /// <summary>A run starts.</summary>
    public abstract void RunStarted(int index, DemoRunDefinition run, int steps);

    /// <summary>A step finished.</summary>
    public abstract void Progress(int index, RunProgress progress);

    /// <summary>The monitor raised an alert.</summary>
    public abstract void Alert(int index, StabilityAlert alert);

    /// <summary>The monitor backed the learning rate off.</summary>
    public abstract void Backoff(int index, BackoffEvent backoff);

    /// <summary>A run finished.</summary>
    public abstract void RunFinished(int index, DemoRunResult result);

    /// <summary>Formats a number compactly (4 significant digits, "–" when missing).</summary>
    public static string Format(double value) => double.IsNaN(value) ? "–" : value.ToString("G4");

    /// <summary>Reads an indicator from the monitor's latest successful probe, or NaN.</summary>
    public static double Read(StabilityMonitor? monitor, string indicator) =>
        monitor?.LatestProbe is { Status: ProbeStatus.Succeeded } probe && probe.Indicators.TryGetValue(indicator, out double value) ? value : double.NaN;

    /// <summary>One line describing a finished run.</summary>
    public static string Outcome(DemoRunResult result)
    {
        var record = result.Record;
        string spikes = result.SpikeOnsets.Count == 0 ? "no spike" : $"{result.SpikeOnsets.Count} spike(s), first at step {result.FirstSpikeStep}";
        string alert = result.FirstAlertStep is long a ? $"first alert at step {a}" : "no alert";
        string lead = result.LeadSteps is long l ? $", lead {l} steps" : string.Empty;
        string diverged = record.Diverged ? ", DIVERGED" : string.Empty;
        return $"{spikes}; {alert}{lead}; {result.Backoffs.Count} backoff(s); final loss {Format(record.FinalLoss)}{diverged} ({record.Elapsed.TotalSeconds:F1} s)";
    }
}

/// <summary>Plain lines, for output that is not a terminal (pipes, files, CI logs, tests).</summary>
internal sealed class PlainRunView(TextWriter output) : RunView
{
    /// <summary>A status line every this many steps.</summary>
    public const int StatusInterval = 100;

    private int _count;

    /// <inheritdoc/>
    public override void Execute(DemoSettings settings, Action training)
    {
        _count = settings.Runs.Count;
        base.Execute(settings, training);
    }

    /// <inheritdoc/>
    public override void RunStarted(int index, DemoRunDefinition run, int steps) =>
        output.WriteLine($"[{index + 1}/{_count}] {run.Title} ({steps} steps)");

    /// <inheritdoc/>
    public override void Progress(int index, RunProgress progress)
    {
        if ((progress.Step + 1) % StatusInterval != 0)
        {
            return;
        }

        var m = progress.Monitor;
        output.WriteLine(
            $"  step {progress.Step + 1,5}  loss {Format(progress.Loss)}  lr {Format(progress.LearningRate)}  " +
            $"ρ {Format(Read(m, Indicators.SpectralRadius))} (osc {Format(Read(m, Indicators.OscillatoryRadius))}, mono {Format(Read(m, Indicators.MonotoneRadius))})  " +
            $"κ(V) {Format(Read(m, Indicators.EigenvectorCondition))}  growth {Format(Read(m, Indicators.TransientGrowth))}  " +
            $"sharpness {Format(Read(m, Indicators.Sharpness))}/{Format(Read(m, Indicators.SharpnessEdge))}");
    }

    /// <inheritdoc/>
    public override void Alert(int index, StabilityAlert alert) =>
        output.WriteLine($"  ALERT   step {alert.Step}: {alert.Level} {alert.Rule} ({alert.Indicator} = {Format(alert.Value)}, threshold {Format(alert.Threshold)})");

    /// <inheritdoc/>
    public override void Backoff(int index, BackoffEvent backoff) =>
        output.WriteLine($"  BACKOFF step {backoff.Step}: learning rate {Format(backoff.From)} → {Format(backoff.To)}");

    /// <inheritdoc/>
    public override void RunFinished(int index, DemoRunResult result) =>
        output.WriteLine($"  done: {Outcome(result)}");
}

/// <summary>A Spectre.Console live display: a progress bar per run, the current readings and the latest events.</summary>
internal sealed class LiveRunView(IAnsiConsole console, TextWriter output) : RunView
{
    private const int BarWidth = 28;
    private const int EventLines = 8;
    private static readonly TimeSpan RefreshPeriod = TimeSpan.FromMilliseconds(80);

    private readonly Stopwatch _sinceRefresh = Stopwatch.StartNew();
    private readonly Queue<string> _events = new();
    private LiveDisplayContext? _context;
    private IReadOnlyList<DemoRunDefinition> _runs = [];
    private int[] _steps = [];
    private int[] _done = [];
    private string[] _outcomes = [];
    private int _current = -1;
    private RunProgress _latest;

    /// <inheritdoc/>
    public override void Execute(DemoSettings settings, Action training)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(training);
        _runs = settings.Runs;
        _steps = [.. _runs.Select(settings.StepsOf)];
        _done = new int[_runs.Count];
        _outcomes = [.. _runs.Select(_ => "waiting")];
        output.Flush();
        console.Live(Render()).AutoClear(false).Overflow(VerticalOverflow.Ellipsis).Start(context =>
        {
            _context = context;
            training();
            context.UpdateTarget(Render());
            context.Refresh();
        });
        _context = null;
    }

    /// <inheritdoc/>
    public override void RunStarted(int index, DemoRunDefinition run, int steps)
    {
        _current = index;
        _latest = default;
        _outcomes[index] = "training";
        AddEvent($"[bold]{Markup.Escape(run.Id)}[/] started ({steps} steps)");
        Refresh(force: true);
    }

    /// <inheritdoc/>
    public override void Progress(int index, RunProgress progress)
    {
        _latest = progress;
        _done[index] = progress.Step + 1;
        Refresh(force: false);
    }

    /// <inheritdoc/>
    public override void Alert(int index, StabilityAlert alert)
    {
        string color = alert.Level == AlertLevel.Critical ? "red" : "yellow";
        AddEvent($"[{color}]ALERT[/] {Markup.Escape(_runs[index].Id)} step {alert.Step}: {alert.Level} [bold]{Markup.Escape(alert.Rule)}[/] ({Markup.Escape(alert.Indicator)} = {Format(alert.Value)})");
        Refresh(force: true);
    }

    /// <inheritdoc/>
    public override void Backoff(int index, BackoffEvent backoff)
    {
        AddEvent($"[blue]BACKOFF[/] {Markup.Escape(_runs[index].Id)} step {backoff.Step}: lr {Format(backoff.From)} → {Format(backoff.To)}");
        Refresh(force: true);
    }

    /// <inheritdoc/>
    public override void RunFinished(int index, DemoRunResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        _done[index] = result.Record.Losses.Count;
        _outcomes[index] = Markup.Escape(Outcome(result));
        Refresh(force: true);
    }

    private void AddEvent(string markup)
    {
        _events.Enqueue(markup);
        while (_events.Count > EventLines)
        {
            _events.Dequeue();
        }
    }

    private void Refresh(bool force)
    {
        if (_context is null || (!force && _sinceRefresh.Elapsed < RefreshPeriod))
        {
            return;
        }

        _sinceRefresh.Restart();
        _context.UpdateTarget(Render());
        _context.Refresh();
    }

    private Rows Render()
    {
        var runs = new Table().Border(TableBorder.Rounded).Title("[bold]SpectralMonitor instability demo[/]");
        runs.AddColumn("run");
        runs.AddColumn("lr");
        runs.AddColumn("progress");
        runs.AddColumn("outcome");
        for (int i = 0; i < _runs.Count; i++)
        {
            double fraction = _steps[i] == 0 ? 0 : Math.Clamp((double)_done[i] / _steps[i], 0, 1);
            int filled = (int)Math.Round(fraction * BarWidth);
            string bar = $"[green]{new string('━', filled)}[/][grey]{new string('━', BarWidth - filled)}[/] {fraction * 100,3:F0}%";
            runs.AddRow(new Markup(Markup.Escape(_runs[i].Id)), new Markup(Format(_runs[i].LearningRate)), new Markup(bar), new Markup(_outcomes[i]));
        }

        var readings = new Table().Border(TableBorder.Simple).Title(_current >= 0 ? $"now: {Markup.Escape(_runs[_current].Id)}" : "now");
        readings.AddColumn("reading");
        readings.AddColumn("value");
        var m = _latest.Monitor;
        double toEdge = Read(m, Indicators.SharpnessToEdge);
        string edgeColor = toEdge >= 1 ? "red" : toEdge >= 0.9 ? "yellow" : "green";
        string level = m is null ? "–" : m.Level switch
        {
            AlertLevel.Critical => "[red]Critical[/]",
            AlertLevel.Warning => "[yellow]Warning[/]",
            _ => "[green]OK[/]",
        };
        readings.AddRow("step", _current >= 0 ? (_latest.Step + 1).ToString() : "–");
        readings.AddRow("loss", Format(_latest.Loss));
        readings.AddRow("learning rate", $"{Format(_latest.LearningRate)} (backoff factor {Format(m?.BackoffFactor ?? double.NaN)})");
        readings.AddRow("ρ(J): whole / oscillatory / monotone", $"{Format(Read(m, Indicators.SpectralRadius))} / {Format(Read(m, Indicators.OscillatoryRadius))} / {Format(Read(m, Indicators.MonotoneRadius))}");
        readings.AddRow("κ(V): all modes / top modes", $"{Format(Read(m, Indicators.EigenvectorCondition))} / {Format(Read(m, Indicators.TopEigenvectorCondition))}");
        readings.AddRow("transient growth max‖Jᵏ‖", Format(Read(m, Indicators.TransientGrowth)));
        readings.AddRow("sharpness / edge", $"{Format(Read(m, Indicators.Sharpness))} / {Format(Read(m, Indicators.SharpnessEdge))} = [{edgeColor}]{Format(toEdge)}[/]");
        readings.AddRow("alert level", level);

        var events = new Rows(_events.Count == 0 ? [new Markup("[grey]no alert yet[/]")] : _events.Select(e => (IRenderable)new Markup(e)));
        return new Rows(runs, readings, new Panel(events).Header("alerts and backoffs").Border(BoxBorder.Rounded));
    }
}
