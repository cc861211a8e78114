"""Screen (issue 15): does the *batch sharpness* of SGD (the Edge of Stochastic Stability) warn the digits collapses?

The detection benchmark's SGD-momentum spikes on the digits CNN and MLP come with the probe's sharpness well below its
edge 2(1 + mu)/lr (RESULTS.md, "Detection"), so the edge rule warns none of them. Andreyev and Beneventano (2024,
"Edge of Stochastic Stability") argue that mini-batch SGD is stabilised not by the top eigenvalue of the full-batch
Hessian but by the *batch sharpness*: the curvature of each mini-batch's own loss along its own gradient,

    BS_t = g_B' H_B g_B / |g_B|^2        (one Hessian-vector product on the training batch, at the step's parameters)

which they find settles at 2/lr while lambda_max stays below. If so, BS_t over the momentum edge might lead the
collapses where lambda_max does not. For Adam the same quantity in the preconditioner's metric, P = 1/(sqrt(v_hat)+eps):

    PBS_t = (P g)' H_B (P g) / (g' P g)   against the frozen-P edge 2(1 + b1)/((1 - b1) lr)

This is a PyTorch re-implementation of the benchmark's digits models (MLP 64-128-64-10 tanh; CNN conv 1->8->16, max
pool, 256-64-10; batch 32; scikit-learn's 8x8 digits scaled to [0, 1]); not the TorchSharp workloads themselves
(other initialisation and batch order), so it screens the idea, it does not score it. Material spikes as the
benchmark defines them.

Run:  /usr/bin/python3 benchmarks/Detection/screens/batch_sharpness.py train MODEL OPT LR SEED OUT.json [STEPS]
      /usr/bin/python3 benchmarks/Detection/screens/batch_sharpness.py report RUN.json...
(Debian's python3-torch, python3-sklearn; nothing is downloaded.)
"""
import json
import math
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits

import spike_precursors

MOMENTUM, B1, B2, EPS, BATCH = 0.9, 0.9, 0.999, 1e-8, 32


def material_spikes(losses):
    """The benchmark's material spikes (LossSpikes.Onsets with SpikeDefinitions.Material), from the screen that checks
    its re-implementation against the benchmark's own onsets run for run."""
    return spike_precursors.material_spikes(losses)


def model_for(name):
    if name == "mlp":
        return torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.Tanh(), torch.nn.Linear(128, 64), torch.nn.Tanh(),
                                   torch.nn.Linear(64, 10))
    return torch.nn.Sequential(torch.nn.Unflatten(1, (1, 8, 8)), torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Flatten(), torch.nn.Linear(256, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))


def train(model_name, opt, lr, seed, out, steps):
    torch.set_num_threads(1)
    digits = load_digits()
    x_all = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y_all = torch.tensor(digits.target)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = model_for(model_name)
    params = list(model.parameters())
    if opt == "sgdm":
        optimizer = torch.optim.SGD(params, lr=lr, momentum=MOMENTUM)
        edge = 2 * (1 + MOMENTUM) / lr
    else:
        optimizer = torch.optim.Adam(params, lr=lr, betas=(B1, B2), eps=EPS)
        edge = 2 * (1 + B1) / ((1 - B1) * lr)
    order, cursor = rng.permutation(len(x_all)), 0
    losses, ratios, grad_norms, along = [], [], [], []
    for step in range(steps):
        if cursor + BATCH > len(order):
            order, cursor = rng.permutation(len(x_all)), 0
        index = torch.tensor(order[cursor: cursor + BATCH])
        cursor += BATCH
        loss = torch.nn.functional.cross_entropy(model(x_all[index]), y_all[index])
        grads = torch.autograd.grad(loss, params, create_graph=True)
        flat = torch.cat([g.reshape(-1) for g in grads])
        if opt == "sgdm":
            direction = flat.detach()
        else:
            state = [optimizer.state.get(p, {}) for p in params]
            if state[0]:
                t = state[0]["step"]
                t = float(t.item() if torch.is_tensor(t) else t)
                v_hat = torch.cat([s["exp_avg_sq"].reshape(-1) for s in state]) / (1 - B2 ** t)
                precondition = 1.0 / (v_hat.sqrt() + EPS)
            else:
                precondition = torch.ones_like(flat)
            direction = (precondition * flat).detach()
        hv = torch.autograd.grad(flat @ direction, params)
        hv = torch.cat([h.reshape(-1) for h in hv])
        denominator = float(flat.detach() @ direction)
        curvature = float(direction @ hv) / denominator if denominator > 0 else float("nan")
        losses.append(float(loss))
        ratios.append(curvature / edge)
        grad_norms.append(float(flat.detach().norm()))
        optimizer.zero_grad(set_to_none=True)
        for p, g in zip(params, grads):
            p.grad = g.detach()
        before = torch.cat([q.detach().reshape(-1) for q in params])
        optimizer.step()
        with torch.no_grad():
            # The cheap variant: one more forward pass on the same batch after the step. The batch loss's change
            # minus its first-order part is half the curvature along the actual update (plus cubic terms):
            # c = 2 (L(theta + d) - L(theta) - g'd) / |d|^2, in the optimizer's metric for Adam.
            delta = torch.cat([q.detach().reshape(-1) for q in params]) - before
            after = float(torch.nn.functional.cross_entropy(model(x_all[index]), y_all[index]))
            quadratic = 2 * (after - float(loss) - float(flat.detach() @ delta))
            if opt == "sgdm":
                metric = float(delta @ delta)
            else:
                t = float(optimizer.state[params[0]]["step"])
                v_hat = torch.cat([optimizer.state[q]["exp_avg_sq"].reshape(-1) for q in params]) / (1 - B2 ** t)
                metric = float(delta @ ((v_hat.sqrt() + EPS) * delta))
            along.append(quadratic / metric / edge if metric > 0 else float("nan"))
        if not math.isfinite(losses[-1]):
            break
        if step % 250 == 0:
            print(f"{model_name} {opt} lr={lr} seed={seed} step {step}: loss {losses[-1]:.3g} BS/edge {ratios[-1]:.3g}", flush=True)
    with open(out, "w") as f:
        json.dump({"model": model_name, "optimizer": opt, "lr": lr, "seed": seed, "loss": losses, "ratio": ratios,
                   "gradient_norm": grad_norms, "along_update": along, "spikes": material_spikes(losses)}, f)


def report(paths):
    runs = [json.load(open(p)) for p in paths]
    for run in runs:
        run["spikes"] = material_spikes(run["loss"])
    groups = {}
    for run in runs:
        groups.setdefault((run["model"], run["optimizer"], run["lr"]), []).append(run)
    print("| setting | seeds | material spikes per run | final loss per run | BS/edge median, steps 100+ | 99th pct | max |")
    print("|---|---|---|---|---|---|---|")
    for (model_name, opt, lr), members in sorted(groups.items()):
        late = sorted(v for r in members for v in r["ratio"][100:] if math.isfinite(v))
        finals = ", ".join(f"{sum(r['loss'][-50:]) / 50:.2g}" for r in sorted(members, key=lambda r: r["seed"]))
        print(f"| {model_name} {opt} lr={lr} | {len(members)} | {', '.join(str(len(r['spikes'])) for r in members)} | {finals} | "
              f"{late[len(late) // 2]:.3f} | {late[int(0.99 * len(late))]:.3f} | {late[-1]:.3f} |")
    print()
    lags = spike_precursors.LAGS
    print("| setting (spikes) | signal | " + " | ".join(f"lag {lag}" for lag in lags) + " |")
    print("|---|---|" + "---|" * len(lags))
    for (model_name, opt, lr), members in sorted(groups.items()):
        spiking = [r for r in members if r["spikes"]]
        if not spiking:
            continue
        for signal in ["ratio", "along_update", "loss", "gradient_norm"]:
            cells = []
            for lag in lags:
                positives, negatives = [], []
                for run in spiking:
                    values, spikes = run[signal], run["spikes"]
                    near = set()
                    for o in spikes:
                        near.update(range(o - spike_precursors.BEFORE, o + spike_precursors.AFTER))
                    for o in spikes:
                        if o - lag - spike_precursors.MEAN >= 20 and (v := spike_precursors.log_mean(values, o - lag)) is not None:
                            positives.append(v)
                    for t in range(max(60, spikes[0] - spike_precursors.BEFORE), len(values), spike_precursors.EVERY):
                        if t not in near and (v := spike_precursors.log_mean(values, t)) is not None:
                            negatives.append(v)
                a = spike_precursors.auroc(positives, negatives)
                cells.append("–" if math.isnan(a) else f"{a:.2f}")
            total = sum(len(r["spikes"]) for r in spiking)
            print(f"| {model_name} {opt} lr={lr} ({total}) | {signal} | " + " | ".join(cells) + " |")
    detection(runs)


HORIZON, HOLD, GRID = 100, 50, [0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0, 1.5]


def onsets_of(ratios, threshold):
    """Alarm onsets of "BS/edge >= threshold": on at a step at or above it, off after HOLD steps below it."""
    onsets, on, below = [], False, 0
    for t, value in enumerate(ratios):
        high = math.isfinite(value) and value >= threshold
        if high and not on:
            onsets.append(t)
            on = True
        below = 0 if high else below + 1
        if on and below >= HOLD:
            on = False
    return onsets


def score(runs, threshold, signal="ratio"):
    """Warned spikes (an onset in [t - HORIZON, t - 1]), their leads, precision of onsets, stable runs alarmed."""
    warned, spikes, leads, good, total, stable, stable_alarmed = 0, 0, [], 0, 0, 0, 0
    for run in runs:
        onsets = [t for t in onsets_of(run[signal], threshold) if t >= 20]
        total += len(onsets)
        good += sum(any(0 < s - o <= HORIZON for s in run["spikes"]) for o in onsets)
        for s in run["spikes"]:
            spikes += 1
            ahead = [o for o in onsets if 0 < s - o <= HORIZON]
            if ahead:
                warned += 1
                leads.append(s - min(ahead))
        if not run["spikes"]:
            stable += 1
            stable_alarmed += bool(onsets)
    leads.sort()
    return (warned, spikes, leads[len(leads) // 2] if leads else None, good, total, stable_alarmed, stable)


def detection(runs):
    """The threshold with the best F1 on seed 1, reported on seeds 2 and 3, per optimizer family."""
    print()
    for signal in ["ratio", "along_update"]:
        detection_of(runs, signal)


def detection_of(runs, signal):
    print()
    print(f"Signal: {signal}")
    print()
    print("| optimizer | threshold | seed 1: warned / spikes, precision, stable alarmed | seeds 2-3: warned / spikes | median lead | precision (onsets) | stable runs alarmed |")
    print("|---|---|---|---|---|---|---|")
    for opt in ["sgdm", "adam"]:
        family = [r for r in runs if r["optimizer"] == opt]
        tune = [r for r in family if r["seed"] == 1]
        held = [r for r in family if r["seed"] != 1]

        def f1(threshold):
            w, n, _, g, t, _, _ = score(tune, threshold, signal)
            recall, precision = (w / n if n else 0), (g / t if t else 0)
            return 2 * recall * precision / (recall + precision) if recall + precision else 0

        chosen = max(GRID, key=f1)
        for threshold in GRID:
            tw, tn, _, tg, tt, tsa, ts = score(tune, threshold, signal)
            w, n, lead, g, t, sa, st = score(held, threshold, signal)
            mark = " (chosen)" if threshold == chosen else ""
            print(f"| {opt} | {threshold}{mark} | {tw}/{tn}, {tg}/{tt}, {tsa}/{ts} | {w}/{n} | {lead} | "
                  f"{(g / t if t else float('nan')):.2f} ({g}/{t}) | {sa}/{st} |")


if __name__ == "__main__":
    if sys.argv[1] == "train":
        _, _, model_arg, opt_arg, lr_arg, seed_arg, out_arg, *rest = sys.argv
        train(model_arg, opt_arg, float(lr_arg), int(seed_arg), out_arg, int(rest[0]) if rest else 1500)
    else:
        report(sys.argv[2:])
