"""Screen (issue 15): does Adam's full-state Jacobian, with the second-moment feedback, bound stability differently
from the frozen-preconditioner operator the monitor uses?

A PyTorch re-implementation of the detection benchmark's digits MLP (64-128-64-10, tanh, Adam, batch 32, 1,500
steps; scikit-learn's 8x8 digits scaled to [0, 1]); not the TorchSharp workload itself (other initialisation and batch
order), so it screens the idea, it does not score it. Every 10 steps, on a fixed 64-image probe batch, the spectral
radius of one Adam step's Jacobian on (theta, m, v) and on (theta, m) with P frozen, by ARPACK on exact HVPs (float64
state, float32 model), as src/Estimators/Optimizers/AdamFullStateUpdateOperator.cs defines them:

    dm' = b1 dm + (1-b1) H dtheta
    dv' = b2 dv + 2(1-b2) g * H dtheta                     (full state only)
    dtheta' = dtheta - lr c1 P dm' + Q dv'                 (Q = lr c1 m' P^2 / (2 sqrt(b2hat v')); frozen: Q = 0)

Run:  /usr/bin/python3 benchmarks/Detection/screens/adam_full_state.py LR SEED [STEPS]
(Debian's python3-torch, python3-scipy, python3-sklearn; nothing is downloaded.)
"""
import sys

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigs
from sklearn.datasets import load_digits

B1, B2, EPS = 0.9, 0.999, 1e-8


def material_spikes(losses):
    """SpikeDefinitions.Material: the 5-step mean at least doubles over its 100-step minimum, rises by at least
    0.1 x the first loss from a minimum below it; 25 steps between onsets."""
    mean5 = np.convolve(losses, np.ones(5) / 5, mode="full")[: len(losses)]
    onsets, last = [], -100
    for t in range(20, len(losses)):
        low = mean5[max(0, t - 100):t].min()
        if mean5[t] >= 2 * low and mean5[t] - low >= 0.1 * losses[0] and low < losses[0] and t - last >= 25:
            onsets.append(t)
            last = t
    return onsets


def radius(matvec, dim):
    op = LinearOperator((dim, dim), matvec=matvec, dtype=np.float64)
    start = np.random.default_rng(0).standard_normal(dim)
    values = eigs(op, k=4, which="LM", tol=1e-4, maxiter=300, return_eigenvectors=False, v0=start)
    return float(np.abs(values).max())


def main():
    lr, seed = float(sys.argv[1]), int(sys.argv[2])
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 1500
    torch.set_num_threads(1)
    digits = load_digits()
    x_all = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y_all = torch.tensor(digits.target)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.Tanh(), torch.nn.Linear(128, 64), torch.nn.Tanh(),
                                torch.nn.Linear(64, 10))
    params = list(model.parameters())
    optimizer = torch.optim.Adam(params, lr=lr, betas=(B1, B2), eps=EPS)
    probe = rng.permutation(len(x_all))[:64]
    n = sum(p.numel() for p in params)
    flat = lambda ts: torch.cat([t.reshape(-1) for t in ts])
    order, position, losses, rows = rng.permutation(len(x_all)), 0, [], []
    for step in range(steps):
        if position + 32 > len(order):
            order, position = rng.permutation(len(x_all)), 0
        batch = order[position:position + 32]
        position += 32
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x_all[batch]), y_all[batch])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % 10 != 9:
            continue
        state = [optimizer.state[p] for p in params]
        m = flat([s["exp_avg"] for s in state]).double()
        v = flat([s["exp_avg_sq"] for s in state]).double()
        k = int(state[0]["step"])
        probe_loss = torch.nn.functional.cross_entropy(model(x_all[probe]), y_all[probe])
        g_graph = flat(torch.autograd.grad(probe_loss, params, create_graph=True))
        g = g_graph.detach().double()

        def hvp(d):
            out = torch.autograd.grad(g_graph, params, grad_outputs=d.float(), retain_graph=True)
            return flat(out).double()

        c1, b2hat = 1 / (1 - B1 ** (k + 1)), 1 - B2 ** (k + 1)
        m1, v1 = B1 * m + (1 - B1) * g, B2 * v + (1 - B2) * g * g
        p = 1 / (torch.sqrt(v1 / b2hat) + EPS)
        q = lr * c1 * m1 * p * p / (2 * torch.sqrt(b2hat * v1) + 1e-30)
        coupling = 2 * (1 - B2) * g

        def full(xs):
            xs = torch.as_tensor(xs)
            d_theta, d_m, d_v = xs[:n], xs[n:2 * n], xs[2 * n:]
            kd = hvp(d_theta)
            d_m1, d_v1 = B1 * d_m + (1 - B1) * kd, B2 * d_v + coupling * kd
            return torch.cat([d_theta - lr * c1 * p * d_m1 + q * d_v1, d_m1, d_v1]).numpy()

        def frozen(xs):
            xs = torch.as_tensor(xs)
            d_theta, d_m = xs[:n], xs[n:]
            d_m1 = B1 * d_m + (1 - B1) * hvp(d_theta)
            return torch.cat([d_theta - lr * c1 * p * d_m1, d_m1]).numpy()

        rows.append((step, radius(full, 3 * n), radius(frozen, 2 * n)))

    rows = np.array(rows)
    late = rows[:, 0] >= 100
    ratio = rows[late, 1] / rows[late, 2]
    print(f"lr {lr} seed {seed}: {len(material_spikes(np.array(losses)))} material spikes in {steps} steps")
    print(f"  after step 100: rho(full state) median {np.median(rows[late, 1]):.3f}, rho(frozen P) median "
          f"{np.median(rows[late, 2]):.3f}; full / frozen median {np.median(ratio):.3f}, 90th percentile "
          f"{np.quantile(ratio, 0.9):.3f}, max {ratio.max():.2f}")
    print(f"  before step 100: rho(full state) max {rows[~late, 1].max():.1f}, rho(frozen P) max {rows[~late, 2].max():.2f}")


if __name__ == "__main__":
    main()
