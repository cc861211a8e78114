using System.Diagnostics;
using System.Globalization;
using SpectralMonitor.Examples.Workloads;
using SpectralMonitor.Rules;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace SpectralMonitor.Examples.InstabilityDemo;

/// <summary>Shows the runs while they train. Called from the training thread; implementations serialize.</summary>
internal abstract class RunView
{
    /// <summary>Serializes the calls of the training threads.</summary>
    protected Lock Gate { get; } = new();

    /// <summary>Runs <paramref name="training"/> inside the view (a live display needs to own the console meanwhile).</summary>
    public virtual void Execute(DemoSettings settings, Action training)
    {
        ArgumentNullException.ThrowIfNull(training);
        training();
    }

    /// <summary>A run starts.</summary>
    public abstract void RunStarted(int index, DemoRunDefinition run, int steps);

    /// <summary>A step finished.</summary>
    public abstract void Progress(int index, StepReport step);

    /// <summary>The monitor raised an alert.</summary>
    public abstract void Alert(int index, StabilityAlert alert);

    /// <summary>The monitor backed the learning rate off.</summary>
    public abstract void Backoff(int index, BackoffEvent backoff);

    /// <summary>A run finished.</summary>
    public abstract void RunFinished(int index, DemoRunResult result);

    /// <summary>Formats a number compactly (4 significant digits, "–" when missing).</summary>
    public static string Format(double value) => double.IsNaN(value) ? "–" : value.ToString("G4", CultureInfo.InvariantCulture);

    /// <summary>Reads an indicator from the monitor's latest successful probe, or NaN.</summary>
    public static double Read(StabilityMonitor? monitor, string indicator) =>
        monitor?.LatestProbe is { Status: ProbeStatus.Succeeded } probe && probe.Indicators.TryGetValue(indicator, out double value) ? value : double.NaN;

    /// <summary>One line describing a finished run.</summary>
    public static string Outcome(DemoRunResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var trace = result.Trace;
        string spikes = result.SpikeOnsets.Count == 0 ? "no spike" : $"{result.SpikeOnsets.Count} spike(s), first at step {result.FirstSpikeStep}";
        string alerts = result.FirstAlertStep is long a ? $"{result.RaisedAlerts.Count} alert(s), first at step {a}" : "no alert";
        string lead = result.LeadSteps is long l ? $", warned {l} steps before the first spike" : result.FirstSpikeStep is not null ? ", no warning within 100 steps before the first spike" : string.Empty;
        string diverged = trace.Diverged ? ", DIVERGED" : string.Empty;
        return FormattableString.Invariant(
            $"{spikes}; {alerts}{lead}; {result.Backoffs.Count} backoff(s); final loss {Format(trace.FinalLoss)}{diverged}; {trace.Elapsed.TotalSeconds:F1} s ({trace.Probes.Count} probes, {trace.ProbeTime.TotalSeconds:F1} s)");
    }
}

/// <summary>Plain lines, for output that is not a terminal (pipes, files, CI logs, tests).</summary>
internal sealed class PlainRunView(TextWriter output) : RunView
{
    /// <summary>A status line every this many steps.</summary>
    public const int StatusInterval = 100;

    private int _count;
    private DemoRunDefinition[] _runs = [];

    /// <inheritdoc/>
    public override void Execute(DemoSettings settings, Action training)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _count = settings.Runs.Count;
        _runs = [.. settings.Runs];
        base.Execute(settings, training);
    }

    /// <inheritdoc/>
    public override void RunStarted(int index, DemoRunDefinition run, int steps)
    {
        lock (Gate)
        {
            output.WriteLine($"[{index + 1}/{_count}] {run.Title} ({steps} steps)");
        }
    }

    /// <inheritdoc/>
    public override void Progress(int index, StepReport step)
    {
        if ((step.Step + 1) % StatusInterval != 0)
        {
            return;
        }

        var m = step.Monitor;
        lock (Gate)
        {
            output.WriteLine(
                $"  {_runs[index].Id} step {step.Step + 1,5}  loss {Format(step.Loss)}  lr {Format(step.LearningRate)}  " +
                $"sharpness/edge {Format(Read(m, Indicators.SharpnessToEdge))}  ρ_osc {Format(Read(m, Indicators.OscillatoryRadius))}  " +
                $"level {m?.Level.ToString() ?? "–"}  probes {m?.ProbeCount ?? 0}");
        }
    }

    /// <inheritdoc/>
    public override void Alert(int index, StabilityAlert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        lock (Gate)
        {
            output.WriteLine($"  {_runs[index].Id} ALERT   step {alert.Step}: {alert.Level} {alert.Rule} ({alert.Indicator} = {Format(alert.Value)}, threshold {Format(alert.Threshold)})");
        }
    }

    /// <inheritdoc/>
    public override void Backoff(int index, BackoffEvent backoff)
    {
        lock (Gate)
        {
            output.WriteLine($"  {_runs[index].Id} BACKOFF step {backoff.Step}: factor {Format(backoff.FromFactor)} → {Format(backoff.ToFactor)} (lr {Format(backoff.LearningRate)})");
        }
    }

    /// <inheritdoc/>
    public override void RunFinished(int index, DemoRunResult result)
    {
        lock (Gate)
        {
            output.WriteLine($"  {_runs[index].Id} done: {Outcome(result)}");
        }
    }
}

/// <summary>A Spectre.Console live display: a progress bar per run, the current readings of the runs in progress and the latest events.</summary>
internal sealed class LiveRunView(IAnsiConsole console, TextWriter output) : RunView
{
    private const int BarWidth = 24;
    private const int EventLines = 8;
    private static readonly TimeSpan RefreshPeriod = TimeSpan.FromMilliseconds(100);

    private readonly Stopwatch _sinceRefresh = Stopwatch.StartNew();
    private readonly Queue<string> _events = new();
    private LiveDisplayContext? _context;
    private IReadOnlyList<DemoRunDefinition> _runs = [];
    private int[] _steps = [];
    private int[] _done = [];
    private string[] _outcomes = [];
    private StepReport?[] _latest = [];
    private bool[] _active = [];

    /// <inheritdoc/>
    public override void Execute(DemoSettings settings, Action training)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(training);
        _runs = settings.Runs;
        _steps = [.. _runs.Select(settings.StepsOf)];
        _done = new int[_runs.Count];
        _outcomes = [.. _runs.Select(_ => "waiting")];
        _latest = new StepReport?[_runs.Count];
        _active = new bool[_runs.Count];
        output.Flush();
        console.Live(Render()).AutoClear(false).Overflow(VerticalOverflow.Ellipsis).Start(context =>
        {
            lock (Gate)
            {
                _context = context;
            }

            training();
            lock (Gate)
            {
                context.UpdateTarget(Render());
                context.Refresh();
                _context = null;
            }
        });
    }

    /// <inheritdoc/>
    public override void RunStarted(int index, DemoRunDefinition run, int steps)
    {
        ArgumentNullException.ThrowIfNull(run);
        lock (Gate)
        {
            _active[index] = true;
            _outcomes[index] = "training";
            AddEvent($"[bold]{Markup.Escape(run.Id)}[/] started ({steps} steps)");
            Refresh(force: true);
        }
    }

    /// <inheritdoc/>
    public override void Progress(int index, StepReport step)
    {
        lock (Gate)
        {
            _latest[index] = step;
            _done[index] = step.Step + 1;
            Refresh(force: false);
        }
    }

    /// <inheritdoc/>
    public override void Alert(int index, StabilityAlert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        string color = alert.Level == AlertLevel.Critical ? "red" : "yellow";
        lock (Gate)
        {
            AddEvent($"[{color}]ALERT[/] {Markup.Escape(_runs[index].Id)} step {alert.Step}: {alert.Level} [bold]{Markup.Escape(alert.Rule)}[/] ({Markup.Escape(alert.Indicator)} = {Format(alert.Value)})");
            Refresh(force: true);
        }
    }

    /// <inheritdoc/>
    public override void Backoff(int index, BackoffEvent backoff)
    {
        lock (Gate)
        {
            AddEvent($"[blue]BACKOFF[/] {Markup.Escape(_runs[index].Id)} step {backoff.Step}: factor {Format(backoff.FromFactor)} → {Format(backoff.ToFactor)}");
            Refresh(force: true);
        }
    }

    /// <inheritdoc/>
    public override void RunFinished(int index, DemoRunResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        lock (Gate)
        {
            _active[index] = false;
            _done[index] = result.Trace.Losses.Count;
            _outcomes[index] = Markup.Escape(Outcome(result));
            Refresh(force: true);
        }
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
        var runs = new Table().Border(TableBorder.Rounded).Title("[bold]SpectralMonitor instability demo (TorchSharp)[/]");
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

        var readings = new Table().Border(TableBorder.Simple).Title("now");
        readings.AddColumn("reading");
        var shown = Enumerable.Range(0, _runs.Count).Where(i => _active[i]).ToArray();
        foreach (int i in shown)
        {
            readings.AddColumn(Markup.Escape(_runs[i].Id));
        }

        string[] Row(Func<StepReport, string> cell) => [.. shown.Select(i => _latest[i] is { } s ? cell(s) : "–")];
        void Add(string label, Func<StepReport, string> cell) => readings.AddRow([label, .. Row(cell)]);
        Add("step", s => (s.Step + 1).ToString(CultureInfo.InvariantCulture));
        Add("loss", s => Format(s.Loss));
        Add("learning rate (backoff factor)", s => $"{Format(s.LearningRate)} ({Format(s.Monitor?.BackoffFactor ?? double.NaN)})");
        Add("sharpness / edge", s =>
        {
            double toEdge = Read(s.Monitor, Indicators.SharpnessToEdge);
            string color = toEdge >= 1 ? "red" : toEdge >= 0.9 ? "yellow" : "green";
            return $"{Format(Read(s.Monitor, Indicators.Sharpness))} / {Format(Read(s.Monitor, Indicators.SharpnessEdge))} = [{color}]{Format(toEdge)}[/]";
        });
        Add("ρ(J) whole / oscillatory", s => $"{Format(Read(s.Monitor, Indicators.SpectralRadius))} / {Format(Read(s.Monitor, Indicators.OscillatoryRadius))}");
        Add("probes", s => s.Monitor?.ProbeCount.ToString(CultureInfo.InvariantCulture) ?? "0");
        Add("alert level", s => s.Monitor?.Level switch
        {
            AlertLevel.Critical => "[red]Critical[/]",
            AlertLevel.Warning => "[yellow]Warning[/]",
            null => "–",
            _ => "[green]OK[/]",
        });

        var events = new Rows(_events.Count == 0 ? [new Markup("[grey]no alert yet[/]")] : _events.Select(e => (IRenderable)new Markup(e)));
        var panel = new Panel(events).Header("alerts and backoffs").Border(BoxBorder.Rounded);
        return shown.Length > 0 ? new Rows(runs, readings, panel) : new Rows(runs, panel);
    }
}
