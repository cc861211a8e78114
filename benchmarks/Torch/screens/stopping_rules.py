#!/usr/bin/env python3
"""Scores Lanczos stopping rules offline on the Ritz histories that `stopping-rules` records.

    dotnet run -c Release --project benchmarks/Torch -- stopping-rules --model mlp --probes 24 --out mlp.jsonl
    python3 benchmarks/Torch/screens/stopping_rules.py mlp.jsonl gpt.jsonl

Each JSON line is one probe: the reference eigenvalue, the monitor's own solve (HVPs, value) and, for every prefix of
one Lanczos run from the monitor's warm start (j = 1..20 HVPs), all Ritz values (largest first) and their residual
norms. A rule stops at the first prefix whose error estimate is at most TOL * |theta_1|; it is scored by the HVPs it
spends and the true relative error of theta_1 there. "current" is the monitor's rule
(LanczosStoppingRule.EigenvalueError); it must reproduce the monitor's own HVP counts, which checks the method.
Only warm probes whose monitor solve fits in the recorded prefixes are scored. Standard library only.
"""
import json
import math
import sys

ACCURACY = 1e-3  # the true relative error that counts as a hit (issue 13's target)


def current(hist, j):
    """min(r, r^2/delta), delta = min_k |theta_1 - theta_k| - r_k; r when delta <= 0 (the monitor's rule)."""
    v, r = hist[j]["values"], hist[j]["residuals"]
    gap = min((abs(v[0] - v[k]) - r[k] for k in range(1, len(v))), default=math.inf)
    return min(r[0], r[0] ** 2 / gap) if gap > 0 and math.isfinite(gap) else r[0]


def gap_unshifted(hist, j):
    """min(r, r^2/(theta_1 - theta_2)): the gap to the next Ritz value, its residual not subtracted (optimistic)."""
    v, r = hist[j]["values"], hist[j]["residuals"]
    if len(v) < 2 or v[0] - v[1] <= 0:
        return r[0]
    return min(r[0], r[0] ** 2 / (v[0] - v[1]))


def ritz_change(hist, j):
    """|theta_1(j) - theta_1(j-1)|: the last step's change of the top Ritz value."""
    return math.inf if j == 0 else abs(hist[j]["values"][0] - hist[j - 1]["values"][0])


def extrapolated_change(hist, j):
    """The rest of a geometric series of changes: d_j * rho / (1 - rho), rho = d_j / d_(j-1)."""
    if j < 2:
        return math.inf
    d1 = hist[j]["values"][0] - hist[j - 1]["values"][0]
    d0 = hist[j - 1]["values"][0] - hist[j - 2]["values"][0]
    if d0 <= 0 or d1 < 0 or d1 >= d0:
        return math.inf
    rho = d1 / d0
    return d1 * rho / (1 - rho)


RULES = [
    ("current (eigenvalue rule)", current, [1e-3]),
    ("gap to theta_2, unshifted", gap_unshifted, [1e-3, 3e-4]),
    ("Ritz value change", ritz_change, [1e-3, 3e-4, 1e-4]),
    ("extrapolated change", extrapolated_change, [1e-3, 3e-4, 1e-4]),
]


def median(xs):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return (xs[len(xs) // 2] + xs[(len(xs) - 1) // 2]) / 2


def score(probes, rule, tol):
    rows = []
    for p in probes:
        hist, ref = p["prefixes"], p["reference"]
        errors = [abs(h["values"][0] - ref) / abs(ref) for h in hist]
        stop = next((j for j in range(len(hist)) if rule(hist, j) <= tol * abs(hist[j]["values"][0])), None)
        oracle = next((h["hvps"] for h, e in zip(hist, errors) if e <= ACCURACY), None)
        rows.append((None if stop is None else hist[stop]["hvps"], None if stop is None else errors[stop], oracle, p["rule"]["hvps"]))
    return rows


def main(paths):
    if not paths:
        print(__doc__)
        return 2
    for path in paths:
        probes = [json.loads(line) for line in open(path)]
        limit = max(h["hvps"] for p in probes for h in p["prefixes"])
        scored = [p for p in probes if p["warm"] and p["rule"]["hvps"] <= limit]
        model = probes[0]["model"] if probes else "?"
        print(f"\n{path}: {model}, {len(scored)} warm probes scored ({sum(1 for p in probes if p['warm']) - len(scored)} needed more than {limit} HVPs)")
        print("| rule | tolerance | median HVPs | total HVPs | max true error | probes above 1e-3 | matches the monitor |")
        print("|---|---|---|---|---|---|---|")
        oracle = [o for _, _, o, _ in score(scored, current, 1e-3)]
        for name, rule, tolerances in RULES:
            for tol in tolerances:
                rows = score(scored, rule, tol)
                hvps = [h if h is not None else limit + 1 for h, _, _, _ in rows]
                errors = [e if e is not None else math.inf for _, e, _, _ in rows]
                misses = sum(1 for e in errors if e > ACCURACY)
                same = sum(1 for h, _, _, m in rows if h == m)
                print(f"| {name} | {tol:.0e} | {median(hvps):g} | {sum(hvps)} | {max(errors):.1e} | {misses} | {same}/{len(rows)} |")
        valid = [o for o in oracle if o is not None]
        print(f"| oracle (first prefix within 1e-3 of the reference) | – | {median(valid):g} | {sum(valid)} | ≤ 1e-3 | 0 | – |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
