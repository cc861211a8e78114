namespace SpectralMonitor.Probing;

/// <summary>
/// What the monitor has spent on the training thread against the training time between its calls, on the monitor's
/// clock: every call into the monitor (<c>OnStep</c>, <c>BeforeUpdate</c>, <c>ProbeNow</c>) is monitor time, from its
/// entry to its exit, whatever it did (step statistics, rules, step-sensor reads, probes, event handlers); the time
/// between the exit of one call and the entry of the next is training time. The overhead budget is the ratio of the
/// two (<see cref="StabilityMonitorOptions.OverheadBudget"/>), which is what the same run monitored costs over the run
/// unmonitored. One instance per monitor, used on the training thread under the monitor's gate.
/// <para>
/// One-off time is reported apart (<see cref="OneOffSeconds"/>) and not charged. Warm-up: the monitor's creation, its
/// first <c>OnStep</c> and <c>BeforeUpdate</c> calls and its first step-sensor read run the monitor's code for the first
/// time in the process, and most of their time is the runtime compiling it (41–94 ms in all measured in a fresh
/// process, the first read 17–46 ms of it, against 0.02–0.6 ms for a later read; benchmarks/RESULTS.md, "Overhead").
/// Outliers: the part of a sensor read (or of its preparation) beyond <see cref="OutlierFactor"/> times the median of the recent reads, and the
/// part of a call's own work (everything but probes and sensor reads) beyond that factor times the median of the
/// recent calls' own work: a path met for the first time later (the first alert of a rule), a garbage collection, the
/// thread paused by the machine. Charged, such a one-off of a few milliseconds held the sensor for hundreds of steps of
/// a small model while the training time paid it back, and an alarm raised there could not clear for want of reads.
/// A cost that stays high moves the medians within a few reads or calls, and is charged from then on. Probes are
/// charged in full, their first included: a probe is real work of many training steps, and its first call's
/// compilation cannot be told apart from it.
/// </para>
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

    /// <summary>A read or a call's own work beyond this many times the median of the recent ones is charged at that much; the rest is one-off.</summary>
    internal const double OutlierFactor = 4;

    /// <summary>Calls whose own work (everything but probes and sensor reads) gives the median its outliers are measured against.</summary>
    internal const int CallWindow = 16;

    /// <summary>Calls measured before their own work is capped at all.</summary>
    internal const int MinimumCalls = 4;

    private readonly Queue<double> _sensorReads = new();
    private readonly Queue<double> _callWork = new();
    private readonly Queue<double> _preparations = new();
    private long _entered;
    private long _lastExit;
    private double _oneOffInCall;
    private double _optionalInCall;
    private bool _inCall;
    private double _trainingSinceStep;
    private bool _timedBefore;

    /// <summary>Training seconds: time between monitor calls.</summary>
    public double TrainingSeconds { get; private set; }

    /// <summary>Monitor seconds of the calls that have returned.</summary>
    public double MonitorSeconds { get; private set; }

    /// <summary>Seconds spent in probes.</summary>
    public double ProbeSeconds { get; private set; }

    /// <summary>Seconds spent reading the step sensor (its first read, warm-up, not included).</summary>
    public double SensorSeconds { get; private set; }

    /// <summary>One-off seconds: warm-up (the monitor's creation, its first call of each kind, its first sensor read) and outliers (above <see cref="OutlierFactor"/> times the recent median); reported, not charged (neither in <see cref="MonitorSeconds"/> nor in <see cref="Spent"/>).</summary>
    public double OneOffSeconds { get; private set; }

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
        _oneOffInCall = 0;
        _optionalInCall = 0;
        _inCall = true;
    }

    /// <summary>
    /// The call ends: its time is monitor time, less the one-off parts of its sensor read (<see cref="AddSensor"/>) and of
    /// its own work (everything but probes and sensor reads), which is capped at <see cref="OutlierFactor"/> times the
    /// median of the recent calls' own work. For a warm-up call (<paramref name="warmup"/>: the first of its kind), all
    /// of its own work is one-off.
    /// </summary>
    public void Exit(bool warmup = false)
    {
        long now = time.GetTimestamp();
        double seconds = Positive(time.GetElapsedTime(_entered, now).TotalSeconds);
        double work = Math.Max(0, seconds - _optionalInCall - _oneOffInCall);
        double charged = work;
        if (warmup)
        {
            charged = 0;
        }
        else
        {
            if (_callWork.Count >= MinimumCalls)
            {
                charged = Math.Min(work, OutlierFactor * Median(_callWork));
            }

            _callWork.Enqueue(work);
            if (_callWork.Count > CallWindow)
            {
                _callWork.Dequeue();
            }
        }

        double oneOff = Math.Min(seconds, _oneOffInCall + (work - charged));
        OneOffSeconds += oneOff;
        MonitorSeconds += seconds - oneOff;
        _oneOffInCall = 0;
        _optionalInCall = 0;
        _lastExit = now;
        _timedBefore = true;
        _inCall = false;
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

    /// <summary>Monitor seconds so far, the call in progress included (its warm-up not).</summary>
    public double Spent => MonitorSeconds + (_inCall ? Math.Max(0, time.GetElapsedTime(_entered).TotalSeconds - _oneOffInCall) : 0);

    /// <summary>Records a probe's duration (already inside the call's monitor time).</summary>
    public void AddProbe(double seconds)
    {
        ProbeSeconds += Positive(seconds);
        _optionalInCall += Positive(seconds);
    }

    /// <summary>
    /// Records a sensor read: its duration (already inside the call's monitor time) and the time the sensor spent on the
    /// training thread outside the call since its previous read (forward hooks), which moves out of training time. The
    /// read costs their sum, charged at most <see cref="OutlierFactor"/> times the median of the recent reads (before
    /// any, one training step, <paramref name="stepSeconds"/>); the rest is one-off. The first read
    /// (<paramref name="warmup"/>) is warm-up: all of it is one-off, and neither the sensor's share nor its estimate sees it.
    /// </summary>
    public void AddSensor(double seconds, double outsideSeconds = 0, bool warmup = false, double stepSeconds = double.NaN)
    {
        double inCall = Positive(seconds);
        double outside = Math.Min(Positive(outsideSeconds), TrainingSeconds);
        TrainingSeconds -= outside;
        double read = inCall + outside;
        if (warmup)
        {
            OneOffSeconds += outside;
            _oneOffInCall += inCall;
            return;
        }

        double charged = Capped(read, _sensorReads, stepSeconds);
        double chargedOutside = Math.Min(outside, charged);
        MonitorSeconds += chargedOutside;
        OneOffSeconds += outside - chargedOutside;
        _optionalInCall += charged - chargedOutside;
        _oneOffInCall += inCall - (charged - chargedOutside);
        SensorSeconds += charged;
        _sensorReads.Enqueue(read);
        if (_sensorReads.Count > SensorWindow)
        {
            _sensorReads.Dequeue();
        }
    }

    /// <summary>
    /// Records the preparation of the next sensor read inside a call (hooks armed, parameters copied before the update):
    /// sensor time, charged at most <see cref="OutlierFactor"/> times the median of the recent preparations (before any,
    /// one training step, <paramref name="stepSeconds"/>); the rest is one-off. The preparation of the first read
    /// (<paramref name="warmup"/>) is warm-up, one-off as that read is.
    /// </summary>
    public void AddSensorPreparation(double seconds, double stepSeconds = double.NaN, bool warmup = false)
    {
        double actual = Positive(seconds);
        if (warmup)
        {
            _oneOffInCall += actual;
            return;
        }

        double charged = Capped(actual, _preparations, stepSeconds);
        SensorSeconds += charged;
        _optionalInCall += charged;
        _oneOffInCall += actual - charged;
        _preparations.Enqueue(actual);
        if (_preparations.Count > SensorWindow)
        {
            _preparations.Dequeue();
        }
    }

    /// <summary>Records the monitor's creation, on the training thread outside a call: warm-up.</summary>
    public void AddSetup(double seconds) => OneOffSeconds += Positive(seconds);

    /// <summary>
    /// The estimated cost of the next sensor read: the shortest of the last <see cref="SensorWindow"/> reads, at most one
    /// training step (<paramref name="stepSeconds"/>; a read makes a few element-wise passes over the parameters and the
    /// optimizer state, a training step a forward and a backward pass over a batch). A read that costs more than its
    /// estimate overruns the sensor's share by the difference once, and the next read waits until it is paid back. Before
    /// the first charged read, 0: the first read is warm-up (not charged) and the second's cost is unknown until it is
    /// made, so both come at their first due steps after training time has been seen (not after the dozens of steps a
    /// guess of one training step would wait for), and the second is paid back before the third.
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
    /// budget and all monitor time but the probes' within the budget (both less <see cref="Reserve"/>). Probe time does
    /// not count here: a probe's cost is known only once it has run, and one that overran its estimate delays the next
    /// probes until the training time has paid it back, not the sensor, whose share is its own.
    /// </summary>
    public bool AffordsSensor(double seconds)
    {
        double cost = Positive(seconds);
        return !Limited || (_timedBefore && SensorSeconds + cost <= SensorShare * Usable * TrainingSeconds && Spent - ProbeSeconds + cost <= Usable * TrainingSeconds);
    }

    /// <summary>The budget optional work may fill: the budget less <see cref="Reserve"/>.</summary>
    private double Usable => budget * (1 - Reserve);

    private static double Positive(double seconds) => seconds > 0 && double.IsFinite(seconds) ? seconds : 0;

    /// <summary>
    /// What of <paramref name="actual"/> is charged: at most <see cref="OutlierFactor"/> times the median of
    /// <paramref name="recent"/>; with none yet, at most one training step (<paramref name="stepSeconds"/>; what a read is
    /// assumed to cost at most, as in <see cref="SensorEstimate"/>), and all of it when no step has been timed.
    /// </summary>
    private static double Capped(double actual, Queue<double> recent, double stepSeconds)
    {
        double cap = recent.Count > 0 ? OutlierFactor * Median(recent) : Positive(stepSeconds);
        return cap > 0 ? Math.Min(actual, cap) : actual;
    }

    // Called at every step: sorted on the stack (the windows hold at most CallWindow values), no allocation.
    private static double Median(Queue<double> values)
    {
        Span<double> sorted = stackalloc double[values.Count];
        int k = 0;
        foreach (double value in values)
        {
            sorted[k++] = value;
        }

        sorted.Sort();
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
