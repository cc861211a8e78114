"""Screen (issue 15): does a growth-rate forecast of the largest attention logit warn the GPT blow-ups, early and
late, within the benchmark's 100-step horizon?

Before every GPT blow-up of the detection benchmark the largest pre-softmax attention score grows about
exponentially (from ~1e3 to ~1e6 over ~150 steps on the 300-step warm-ups, faster on the 100-step ones), while
stable runs stay below 100. No fixed level serves both ramps (RESULTS.md, "Detection"), so this screen forecasts:
at step t, with s = log10(max attention logit), the slope over the last W steps and s + slope * K >= LEVEL (the
logit reaches 10^LEVEL within K steps at its present rate) means "on".

It reads the traces the benchmark stored (run `dotnet run -c Release --project benchmarks -- detection` first; the
traces are not committed), chooses (W, K, LEVEL) on seed 1 (tune: most blow-ups warned, then fewest stable runs
alarmed, then fewest onsets) and reports seeds 2 and 3. Spikes: the benchmark's material definition, re-implemented
here; an onset is an off -> on step; a spike is warned when an onset lies in [t - 100, t - 1]; precision = onsets
followed by a spike within 100 steps; an alarm clears only after HOLD = 50 steps with its condition off. It is a
screen, not a score: 6 blow-ups and 6 stable runs, one signal.

Run:  /usr/bin/python3 benchmarks/Detection/screens/attention_logit_forecast.py [TRACES_DIR]
"""
import glob
import json
import math
import os
import sys

HORIZON = 100

# An alarm clears only after its condition has been off for this many steps (the monitor's rules clear with a band,
# so an alert does not flicker on every step the forecast wobbles around its bar).
HOLD = 50


def material_spikes(losses):
    """The 5-step mean at least doubles over its minimum of the previous 100 steps, rises by at least 0.1 x the
    first loss from a minimum below the first loss; 25 quiet steps between onsets."""
    first, onsets, last = losses[0], [], -(10 ** 9)
    for t in range(5, len(losses)):
        window = losses[max(0, t - 100): t - 4]
        if not window:
            continue
        mean5, low = sum(losses[t - 4: t + 1]) / 5, min(window)
        if mean5 >= 2 * low and mean5 - low >= 0.1 * first and low < first:
            if t - last > 25:
                onsets.append(t)
            last = t
    return onsets


def alarm(levels, window, ahead, level, hold=HOLD):
    on, off_for, state = [], hold, False
    for t, s in enumerate(levels):
        raw = False
        if t >= window and not math.isnan(s) and not math.isnan(levels[t - window]):
            slope = (s - levels[t - window]) / window
            raw = slope > 0 and s + slope * ahead >= level
        off_for = 0 if raw else off_for + 1
        state = raw or (state and off_for < hold)
        on.append(state)
    return on


def score(runs, window, ahead, level):
    warned = spikes = stable_alarmed = stable = onsets_total = useful = 0
    leads = []
    for run in runs:
        on = alarm(run["levels"], window, ahead, level)
        onsets = [t for t in range(len(on)) if on[t] and (t == 0 or not on[t - 1])]
        onsets_total += len(onsets)
        useful += sum(1 for o in onsets if any(o < s <= o + HORIZON for s in run["spikes"]))
        if not run["spikes"]:
            stable += 1
            stable_alarmed += 1 if onsets else 0
        for s in run["spikes"]:
            spikes += 1
            early = [o for o in onsets if s - HORIZON <= o <= s - 1]
            if early:
                warned += 1
                leads.append(s - min(early))
    leads.sort()
    median = leads[len(leads) // 2] if leads else None
    return dict(warned=warned, spikes=spikes, stable_alarmed=stable_alarmed, stable=stable, onsets=onsets_total,
                precision=useful / onsets_total if onsets_total else float("nan"), median_lead=median, leads=leads)


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "results", "traces")
    runs = []
    for path in sorted(glob.glob(os.path.join(folder, "gpt*.json"))):
        with open(path, encoding="utf-8") as f:
            trace = json.load(f)
        signals = trace["step_signals"]
        logits = signals.get("attn_max_logit")
        if logits is None:
            continue
        levels = [math.log10(x) if x is not None and x > 0 else float("nan") for x in logits]
        runs.append(dict(name=trace["name"], seed=trace["seed"], levels=levels, spikes=material_spikes(signals["loss"])))
    if not runs:
        print(f"no GPT traces with attn_max_logit in {folder}: run the detection benchmark first", file=sys.stderr)
        return 2
    tune = [r for r in runs if r["seed"] == 1]
    held_out = [r for r in runs if r["seed"] != 1]
    grid = [(w, k, l) for w in (10, 20, 30) for k in (50, 100) for l in (5, 5.5, 6)]
    ranked = sorted(grid, key=lambda g: (-score(tune, *g)["warned"], score(tune, *g)["stable_alarmed"], score(tune, *g)["onsets"]))
    print(f"{len(tune)} tune runs, {len(held_out)} held-out runs (GPT only)")
    print("| W | K | level | tune: warned / stable alarmed / onsets | held out: warned | median lead (leads) | precision (onsets) | stable runs alarmed |")
    print("|---|---|---|---|---|---|---|---|")
    for g in ranked:
        t, h = score(tune, *g), score(held_out, *g)
        mark = " (chosen)" if g == ranked[0] else ""
        print(f"| {g[0]} | {g[1]} | {g[2]}{mark} | {t['warned']}/{t['spikes']} / {t['stable_alarmed']}/{t['stable']} / {t['onsets']} "
              f"| {h['warned']}/{h['spikes']} | {h['median_lead']} ({', '.join(map(str, h['leads']))}) "
              f"| {h['precision']:.2f} ({h['onsets']}) | {h['stable_alarmed']}/{h['stable']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
