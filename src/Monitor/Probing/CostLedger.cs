namespace SpectralMonitor.Probing;

/// <summary>
/// What the monitor has spent on the training thread against the training time between its calls, on the monitor's
/// clock: every call into the monitor (<c>OnStep</c>, <c>BeforeUpdate</c>, <c>ProbeNow</c>) is monitor time, from its
/// entry to its exit, whatever it did (step statistics, rules, step-sensor reads, probes, event handlers); the time
/// between the exit of one call and the entry of the next is training time. The overhead budget is the ratio of the
/// two (<see cref="StabilityMonitorOptions.OverheadBudget"/>), which is what the same run monitored costs over the run
/// unmonitored. One instance per monitor, used on the training thread under the monitor's gate.
/// </summary>
internal sealed class CostLedger(TimeProvider time, double budget)
{
    /// <summary>The share of the budget the step sensor may spend (cumulatively); probes may spend the rest and whatever it leaves.</summary>
    internal const double SensorShare = 0.5;

    /// <summary>
    /// The part of the budget optional work (probes, sensor reads) leaves unspent, for the costs the ledger cannot see:
    /// garbage collection of the monitor's allocations and cache effects on the training step, which fall in training
    /// time. On the overhead benchmark's 6,000-step MLP run the process CPU overhead was 5.4% against a ledger of 4.9%
    /// (benchmarks/RESULTS.md, "Overhead").
    /// </summary>
    internal const double Reserve = 0.1;

    /// <summary>Sensor reads whose durations estimate the next one (the shortest: a cold first read or one slowed by the machine does not stall the sensor).</summary>
    internal const int SensorWindow = 5;

    private readonly Queue<double> _sensorReads = new();
    private long _entered;
    private long _lastExit;
    private double _trainingSinceStep;
    private bool _timedBefore;

    /// <summary>Training seconds: time between monitor calls.</summary>
    public double TrainingSeconds { get; private set; }

    /// <summary>Monitor seconds of the calls that have returned.</summary>
    public double MonitorSeconds { get; private set; }

    /// <summary>Seconds spent in probes.</summary>
    public double ProbeSeconds { get; private set; }

    /// <summary>Seconds spent reading the step sensor.</summary>
    public double SensorSeconds { get; private set; }

    /// <summary>Whether the budget limits anything (an <see cref="StabilityMonitorOptions.OverheadBudget"/> of 1 does not).</summary>
    public bool Limited => budget < 1;

    /// <summary>A call into the monitor begins: the time since the previous call's exit is training time.</summary>
    public void Enter()
    {
        long now = time.GetTimestamp();
        if (_timedBefore)
        {
            double seconds = time.GetElapsedTime(_lastExit, now).TotalSeconds;
            if (seconds > 0)
            {
                TrainingSeconds += seconds;
                _trainingSinceStep += seconds;
            }
        }

        _entered = now;
    }

    /// <summary>The call ends: its time is monitor time.</summary>
    public void Exit()
    {
        long now = time.GetTimestamp();
        double seconds = time.GetElapsedTime(_entered, now).TotalSeconds;
        if (seconds > 0)
        {
            MonitorSeconds += seconds;
        }

        _lastExit = now;
        _timedBefore = true;
    }

    /// <summary>The training seconds since the previous step (null before the first call had returned); restarts the count.</summary>
    public double? TakeStepTrainingSeconds()
    {
        if (!_timedBefore)
        {
            return null;
        }

        double seconds = _trainingSinceStep;
        _trainingSinceStep = 0;
        return seconds;
    }

    /// <summary>Monitor seconds so far, the call in progress included.</summary>
    public double Spent => MonitorSeconds + time.GetElapsedTime(_entered).TotalSeconds;

    /// <summary>Records a probe's duration (already inside the call's monitor time).</summary>
    public void AddProbe(double seconds) => ProbeSeconds += Positive(seconds);

    /// <summary>
    /// Records a sensor read: its duration (already inside the call's monitor time) and the time the sensor spent on the
    /// training thread outside the call since its previous read (forward hooks), which moves from training time to
    /// monitor and sensor time. The next read's estimate is the sum.
    /// </summary>
    public void AddSensor(double seconds, double outsideSeconds = 0)
    {
        double outside = Math.Min(Positive(outsideSeconds), TrainingSeconds);
        TrainingSeconds -= outside;
        MonitorSeconds += outside;
        double read = Positive(seconds) + outside;
        SensorSeconds += read;
        _sensorReads.Enqueue(read);
        if (_sensorReads.Count > SensorWindow)
        {
            _sensorReads.Dequeue();
        }
    }

    /// <summary>Records time the monitor spent on the training thread outside a call (its creation).</summary>
    public void AddSetup(double seconds) => MonitorSeconds += Positive(seconds);

    /// <summary>
    /// The estimated cost of the next sensor read: the shortest of the last <see cref="SensorWindow"/> reads, at most one
    /// training step (<paramref name="stepSeconds"/>; a read makes a few element-wise passes over the parameters and the
    /// optimizer state, a training step a forward and a backward pass over a batch). A read that costs more than its
    /// estimate overruns the sensor's share by the difference once, and the next read waits until it is paid back; a
    /// cold first read therefore does not stall the sensor for long. Before the first read, 0: its cost is unknown
    /// until it is made, so the first read comes at its first due step after training time has been seen (not after
    /// the dozens of steps a guess of one training step would wait for) and is paid back before the next.
    /// </summary>
    public double SensorEstimate(double stepSeconds)
    {
        double step = stepSeconds > 0 && double.IsFinite(stepSeconds) ? stepSeconds : 0;
        return _sensorReads.Count == 0 ? 0 : Math.Min(_sensorReads.Min(), step);
    }

    /// <summary>Whether a probe estimated at <paramref name="seconds"/> keeps all monitor time within the budget (less <see cref="Reserve"/>) of the training time so far.</summary>
    /// <remarks>Nothing optional fits during the first call (no training time seen yet).</remarks>
    public bool AffordsProbe(double seconds) => !Limited || (_timedBefore && Spent + Positive(seconds) <= Usable * TrainingSeconds);

    /// <summary>
    /// Whether a sensor read estimated at <paramref name="seconds"/> keeps the sensor's time within its share of the
    /// budget and all monitor time within the budget (both less <see cref="Reserve"/>).
    /// </summary>
    public bool AffordsSensor(double seconds)
    {
        double cost = Positive(seconds);
        return !Limited || (_timedBefore && SensorSeconds + cost <= SensorShare * Usable * TrainingSeconds && Spent + cost <= Usable * TrainingSeconds);
    }

    /// <summary>The budget optional work may fill: the budget less <see cref="Reserve"/>.</summary>
    private double Usable => budget * (1 - Reserve);

    private static double Positive(double seconds) => seconds > 0 && double.IsFinite(seconds) ? seconds : 0;
}
