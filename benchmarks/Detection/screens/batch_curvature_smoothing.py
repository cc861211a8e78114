"""Screen (issue 15): does smoothing the batch-curvature sensor over its reads make it a steadier warning?

The detection benchmark's `batch_curvature_to_edge` (BatchCurvatureSensor: the curvature of each step's own
mini-batch loss along the update just taken, over the optimizer's edge) alarms on a single read at or above x. Its
held-out results swing with x, and it alarms half the stable digits runs (WARNINGS.md). This screen reads the stored
traces at the monitor's sensor cadence (every 5th step) and thresholds an EMA over the reads instead. It chooses the
smoothing weight alpha and the threshold x together, per optimizer family, by F1 on seed 1 (material spikes, H = 100;
an alarm holds 50 steps past its last read at or above x, as in the benchmark), and it reports seeds 2 and 3. alpha = 0
is the single read the benchmark scores. It prints the whole grid too, so that the neighbours of the choice can be
seen.

With a second folder of traces (seeds the benchmark did not train, e.g. from `detection worker` jobs), it scores the
choice made on seed 1 on them too, with the spikes found by the benchmark's definition (re-implemented in
spike_precursors.py and checked there against the benchmark's own onsets).

Run (after `dotnet run -c Release --project benchmarks -- detection`; traces are not committed):
    /usr/bin/python3 benchmarks/Detection/screens/batch_curvature_smoothing.py [RESULTS_DIR [FRESH_TRACES_DIR]]
"""
import glob
import json
import os
import sys

import batch_sharpness
import spike_precursors

EVERY = 5
ALPHAS = [0.0, 0.5, 0.8, 0.9]
THRESHOLDS = [0.04, 0.05, 0.06, 0.075, 0.09, 0.1, 0.125, 0.15, 0.2, 0.25]


def smoothed(values, alpha):
    """EMA over the reads at every EVERY-th step (NaN elsewhere); alpha = 0 is the read itself."""
    out, ema = [], None
    for t, value in enumerate(values):
        if t % EVERY == 0 and value == value:
            ema = value if ema is None else alpha * ema + (1 - alpha) * value
            out.append(ema)
        else:
            out.append(float("nan"))
    return out


def f1(runs, threshold, signal):
    warned, spikes, _, good, onsets, _, _ = batch_sharpness.score(runs, threshold, signal)
    recall, precision = (warned / spikes if spikes else 0), (good / onsets if onsets else 0)
    return 2 * recall * precision / (recall + precision) if recall + precision else 0


def row(label, runs, threshold, signal):
    w, n, lead, g, t, sa, st = batch_sharpness.score(runs, threshold, signal)
    precision = f"{g / t:.2f} ({g}/{t})" if t else "–"
    return f"{label} | {w}/{n} | {lead if lead is not None else '–'} | {precision} | {sa}/{st} |"


def load(folder, stored=None):
    """The traces in `folder` as runs; spikes from `stored` (the benchmark's results.json) or recomputed."""
    runs = []
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        trace = json.load(open(path))
        values = trace["step_signals"].get("batch_curvature_to_edge")
        if values is None:
            sys.exit(f"{path}: no batch_curvature_to_edge (a trace from before the sensor)")
        spikes = stored[trace["name"]] if stored else spike_precursors.material_spikes(trace["step_signals"]["loss"])
        run = {"name": trace["name"], "seed": trace["seed"], "spikes": spikes,
               "optimizer": "sgdm" if " sgdm " in trace["name"] else "adam", "gpt": trace["name"].startswith("gpt")}
        for alpha in ALPHAS:
            run[f"ema{alpha}"] = smoothed(values, alpha)
        runs.append(run)
    return runs


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "results")
    stored = {r["name"]: r["material_spikes"] for r in json.load(open(os.path.join(results, "results.json")))["runs"]}
    runs = load(os.path.join(results, "traces"), stored)
    fresh = load(sys.argv[2]) if len(sys.argv) > 2 else []
    print(f"{len(runs)} traces; reads every {EVERY} steps, alarms held {batch_sharpness.HOLD} steps\n")
    for family in ["sgdm", "adam"]:
        members = [r for r in runs if r["optimizer"] == family]
        tune = [r for r in members if r["seed"] == 1]
        held = [r for r in members if r["seed"] != 1]
        grid = [(alpha, x) for alpha in ALPHAS for x in THRESHOLDS]
        chosen = max(grid, key=lambda p: f1(tune, p[1], f"ema{p[0]}"))
        print(f"### {family}: chosen on seed 1 alpha = {chosen[0]}, x = {chosen[1]}"
              f" (tune F1 {f1(tune, chosen[1], f'ema{chosen[0]}'):.2f})\n")
        print("| alpha | x | tune F1 | held out: warned | median lead | precision (onsets) | stable runs alarmed |")
        print("|---|---|---|---|---|---|---|")
        for alpha, x in grid:
            mark = " **chosen**" if (alpha, x) == chosen else ""
            print(f"| {alpha}{mark} | {x} | {f1(tune, x, f'ema{alpha}'):.2f} | " + row("", held, x, f"ema{alpha}")[3:])
        alpha, x = chosen
        print("\nThe choice by workload:\n")
        print("| seeds | runs | warned | median lead | precision (onsets) | stable runs alarmed |")
        print("|---|---|---|---|---|---|")
        for label, pool in [("2, 3 (held out)", held), (", ".join(sorted({str(r["seed"]) for r in fresh})) + " (fresh)",
                                                            [r for r in fresh if r["optimizer"] == family])]:
            if not pool:
                continue
            print(row(f"| {label} | all", pool, x, f"ema{alpha}"))
            if family == "adam":
                print(row(f"| {label} | digits", [r for r in pool if not r["gpt"]], x, f"ema{alpha}"))
                print(row(f"| {label} | GPT", [r for r in pool if r["gpt"]], x, f"ema{alpha}"))
        print()


if __name__ == "__main__":
    main()
