"""Screen (issue 15): does any per-step signal stand apart in the steps before a digits Adam spike?

38 of the detection benchmark's 46 held-out Adam/AdamW spikes are digits runs (CNN at lr 0.02, MLP at lr 0.03) that
spike again and again, every 50-150 steps, and no detector warns them with precision. This screen asks the question
under the scores: at a lag L before a spike onset, is a signal's level different from its level at the same run's
quiet steps? For every signal and lag it gives the AUROC between
  - positives: the mean of log(signal) over the 5 steps ending L steps before each material spike onset, and
  - negatives: the same mean at every 7th step of the same runs that lies neither in the 100 steps before an onset
    nor in the 40 steps from it, from 100 steps before the run's first spike on (so that the early, still-learning
    part of a run, where nothing spikes yet, does not stand in for "quiet").
0.5 is no difference; above 0.5 the signal is higher before spikes, below lower. Learning rate and time in the run are
matched as well as the runs allow (the same runs, late steps). No threshold is chosen, so all three seeds are pooled:
a screen, not a score.

Spikes: the benchmark's material definition (examples/Workloads/LossSpikes.cs), re-implemented here and checked run
for run against the onsets in results.json next to the traces (the screen stops on a mismatch).

Run (after `dotnet run -c Release --project benchmarks -- detection`; traces are not committed):
    /usr/bin/python3 benchmarks/Detection/screens/spike_precursors.py [RESULTS_DIR]
"""
import glob
import json
import math
import os
import sys

SETTINGS = ["cnn adam lr=0.02", "mlp adam lr=0.03"]
SIGNALS = [
    "loss", "gradient_norm", "update_to_weight", "state_update_norm_over_lr", "state_max_layer_update_to_weight",
    "state_saturated_share", "state_max_normalized_update", "state_epsilon_share", "logit_max_abs", "logit_rms",
]
LAGS = [1, 5, 10, 20, 40, 60]
BEFORE, AFTER, EVERY, MEAN = 100, 40, 7, 5


def material_spikes(losses, window=5, recent_steps=100, factor=2.0, rise=0.1, burn_in=20, separation=25):
    """LossSpikes.Onsets step for step: window means over finite losses, the initial loss the mean of the first
    window, onsets separated by `separation` quiet steps."""
    finite = [v for v in losses[:window] if math.isfinite(v)]
    initial = sum(finite) / len(finite) if finite else float("nan")
    means = []
    for t in range(len(losses)):
        w = [v for v in losses[max(0, t - window + 1): t + 1] if math.isfinite(v)]
        means.append(sum(w) / len(w) if w else float("nan"))
    onsets, quiet = [], separation
    for t, loss in enumerate(losses):
        under = False
        if t >= burn_in:
            if not math.isfinite(loss):
                under = True
            else:
                recent = min([m for m in means[max(0, t - recent_steps): t] if not math.isnan(m)] + [float("inf")])
                under = recent < initial and means[t] >= factor * recent and means[t] - recent >= rise * initial
        if under and quiet >= separation:
            onsets.append(t)
        quiet = 0 if under else quiet + 1
    return onsets


def log_mean(values, end):
    """Mean of log(value) over the MEAN steps ending at `end` (finite, positive values only), or None."""
    w = [math.log(v) for v in values[max(0, end - MEAN + 1): end + 1] if math.isfinite(v) and v > 0]
    return sum(w) / len(w) if w else None


def auroc(positives, negatives):
    """P(positive > negative) + P(tie) / 2 (Mann-Whitney), or NaN without both."""
    if not positives or not negatives:
        return float("nan")
    pooled = sorted([(v, 1) for v in positives] + [(v, 0) for v in negatives])
    rank_sum, i = 0.0, 0
    while i < len(pooled):
        j = i
        while j < len(pooled) and pooled[j][0] == pooled[i][0]:
            j += 1
        average = (i + 1 + j) / 2  # ranks i+1..j share their average
        rank_sum += average * sum(1 for _, p in pooled[i:j] if p)
        i = j
    n1, n0 = len(positives), len(negatives)
    return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "results")
    stored = {r["name"]: r["material_spikes"] for r in json.load(open(os.path.join(results, "results.json")))["runs"]}
    runs = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(results, "traces", "*.json")))]
    if not runs:
        sys.exit(f"no traces in {results}/traces: run the detection benchmark first")
    for run in runs:
        if material_spikes(run["step_signals"]["loss"]) != stored[run["name"]]:
            sys.exit(f"{run['name']}: the re-implemented spike definition disagrees with results.json")
    print(f"{len(runs)} traces, spike onsets identical to results.json on every run\n")
    for setting in SETTINGS:
        chosen = [r for r in runs if r["name"].startswith(setting + " seed=")]
        onsets = {r["name"]: stored[r["name"]] for r in chosen}
        print(f"### {setting} ({len(chosen)} runs, seeds pooled, {sum(len(o) for o in onsets.values())} spikes)\n")
        print("| signal | " + " | ".join(f"lag {lag}" for lag in LAGS) + " | positives / negatives at lag 1 |")
        print("|---|" + "---|" * (len(LAGS) + 1))
        for signal in SIGNALS:
            cells, counts = [], ""
            for lag in LAGS:
                positives, negatives = [], []
                for run in chosen:
                    values = run["step_signals"].get(signal)
                    spikes = onsets[run["name"]]
                    if values is None or not spikes:
                        continue
                    near = set()
                    for o in spikes:
                        near.update(range(o - BEFORE, o + AFTER))
                    for o in spikes:
                        if o - lag - MEAN >= 20 and (v := log_mean(values, o - lag)) is not None:
                            positives.append(v)
                    for t in range(max(60, spikes[0] - BEFORE), len(values), EVERY):
                        if t not in near and (v := log_mean(values, t)) is not None:
                            negatives.append(v)
                a = auroc(positives, negatives)
                cells.append("–" if math.isnan(a) else f"{a:.2f}")
                if lag == 1:
                    counts = f"{len(positives)} / {len(negatives)}"
            print(f"| {signal} | " + " | ".join(cells) + f" | {counts} |")
        print()


if __name__ == "__main__":
    main()
