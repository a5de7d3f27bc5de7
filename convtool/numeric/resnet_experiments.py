"""Linear-ResNet runs: GD, minibatch SGD, the depth comparison (library behind ``convtool run|compare --model resnet``).

Zou, Long & Gu, "On the Global Convergence of Training Deep Linear ResNets" (ICLR 2020, arXiv:2003.01094).
A run is the one engine (:func:`convtool.numeric.engine.run`) on :class:`~convtool.numeric.resnet.LinearResNet`
with the ``zou-long-gu`` theory (:class:`~convtool.numeric.theories.zou_long_gu.ZouLongGu`); SGD is the
engine's ``stochastic=`` hook with :class:`~convtool.numeric.resnet.MinibatchSampler` (Algorithm 1).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
>>> A, B, W0 = resnet_instance(3, 2, transform="modified-identity", hidden=5, depth=4, alpha_mod=50.0)
>>> res = run_resnet(X, Y, A, B, W0, schedule="thm31", steps=50)
>>> res.status[0], int(res.violations()["lemma_a2"])
('max_steps', 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from convtool.errors import InputError
from convtool.results import jsonable

__all__ = ["resnet_instance", "run_resnet", "run_sgd_batch", "compare_depths", "DepthCompareResult", "DepthRow",
           "RESNET_SCHEDULES", "SGD_SCHEDULES"]

#: schedules of a GD run, and of an SGD run (--batch)
RESNET_SCHEDULES = ("thm31", "constant", "backtracking", "adgd")
SGD_SCHEDULES = ("thm36", "thm38", "constant")


def resnet_instance(d: int, k: int, *, transform: str = "gaussian", hidden: int | None = None, depth: int = 10,
                    alpha: float = 1.0, beta: float = 1.0, alpha_mod: float = 1.0, skip: bool = True,
                    hidden_std: float | None = None, seed: int = 0, seeds: int = 1):
    """``(A, B, W0)``: transforms of Section 4 (:func:`~convtool.numeric.resnet.make_transforms`, seed ``seed``)
    and the hidden init (R, L, m, m) (zeros; for ``skip=False`` Gaussian, seed r from ``seed + r``).
    Default width m = d + k (modified identity) or max(d, k) (otherwise)."""
    from convtool.numeric.resnet import hidden_init, make_transforms

    if hidden is None:
        hidden = d + k if transform == "modified-identity" else max(d, k)
    A, B = make_transforms(transform, d=d, k=k, m=hidden, alpha=alpha, beta=beta, alpha_mod=alpha_mod, seed=seed)
    W0 = hidden_init(depth, hidden, skip=skip, hidden_std=hidden_std, seed=seed, R=seeds)
    return A, B, W0


def run_resnet(X, Y, A, B, W0=None, *, depth: int | None = None, skip: bool = True, schedule: str = "thm31",
               eta: float | None = None, steps: int = 1000, tol: float = 1e-14, eps: float | None = None,
               delta: float = 0.1, batch: int | None = None, sgd_seed: int = 0, per_epoch: bool = False,
               schedule_options: dict | None = None, progress=None, phase=None):
    """GD (``batch=None``) or Algorithm 1's minibatch SGD on the linear ResNet with the zou-long-gu theory.

    Parameters
    ----------
    X, Y : ndarray (n, d), (n, k)
        Data, samples as rows.
    A, B : ndarray
        (m, d), (k, m), or batched (R, ...).
    W0 : ndarray, optional
        (L, m, m) or (R, L, m, m); default zeros of depth ``depth``.
    schedule : str
        GD: ``thm31`` (Theorem 3.1's step), ``constant`` (``eta``), ``backtracking``, ``adgd``; SGD: ``thm36``,
        ``thm38`` (T = ``steps``), ``constant``.
    batch : int, optional
        Minibatch size b (1 <= b <= n); None for GD. ``batch = n`` gives GD exactly.
    sgd_seed, per_epoch
        The sampler's seed; ``per_epoch`` shuffling (a labelled alternative the proofs do not cover).
    eps, delta
        Target accuracy (default 1e-6 Delta0) and failure probability of the theorems.

    Returns
    -------
    RunResult
        ``extra["data_arrays"]`` holds X, Y, A, B, W_0, W_T (saved by ``--out``).
    """
    from convtool.numeric.engine import run
    from convtool.numeric.losses import SquaredLoss
    from convtool.numeric.resnet import LinearResNet, MinibatchSampler
    from convtool.numeric.theories.zou_long_gu import ZouLongGu

    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    model = LinearResNet(A, B, W0, depth=depth if W0 is None else None, skip=skip)
    if model.d != X.shape[1] or model.k != Y.shape[1]:
        raise InputError(f"A maps R^{model.d} and B to R^{model.k}, but X has d = {X.shape[1]} columns and Y has "
                         f"k = {Y.shape[1]}")
    allowed = SGD_SCHEDULES if batch is not None else RESNET_SCHEDULES
    if schedule not in allowed:
        what = f"SGD (--batch {batch})" if batch is not None else "GD"
        raise InputError(f"schedule {schedule!r} does not apply to a ResNet {what} run; choose one of "
                         f"{', '.join(allowed)}")
    sampler = None if batch is None else MinibatchSampler(X, Y, model, batch, sgd_seed=sgd_seed, per_epoch=per_epoch)
    if eta is not None and not (np.isfinite(eta) and eta > 0):
        raise InputError(f"--eta must be a positive number, got {eta!r}")
    if schedule == "constant" and eta is None:
        raise InputError("schedule 'constant' needs a step size: pass --eta")
    theory = ZouLongGu(sampler=sampler, eps=eps, delta=delta, horizon=steps, skip=skip)
    loss = SquaredLoss(X, Y)
    # the step of a theorem schedule must apply: check before the run, with the reason
    if schedule in ("thm31", "thm36", "thm38"):
        from convtool.numeric.resnet_constants import compute_resnet_constants
        from convtool.results import NotApplicable

        c = compute_resnet_constants(X, Y, model.A[0], model.B[0], model.W_0[0], skip=skip, eps=eps, delta=delta,
                                     batch=batch, steps=max(int(steps), 1))
        key = {"thm31": "eta_thm31", "thm36": "eta_thm36", "thm38": "eta_thm38"}[schedule]
        if isinstance(c.quantities[key], NotApplicable):
            raise InputError(f"schedule {schedule}: {key} is not applicable: {c.quantities[key].reason}")
    # Du, Hu & Lee's balancedness theory rides along: on the no-skip baseline its invariants apply to the
    # trained layers W_1 .. W_L; with skip connections every record says why not (theories.balanced.layer_view)
    from convtool.numeric.theories.balanced import Balanced

    res = run(model, loss, schedule, theories=[theory, Balanced()], steps=steps, eta0=eta, tol=tol,
              schedule_options=schedule_options, progress=progress, phase=phase, stochastic=sampler)
    res.extra["data_arrays"] = {"X": X, "Y": Y, "A": model.A[0] if model.R == 1 else model.A,
                                "B": model.B[0] if model.R == 1 else model.B,
                                "W_0": res.state_0[0] if model.R == 1 else res.state_0,
                                "W_T": res.state_T[0] if model.R == 1 else res.state_T}
    res.config.update({"depth": model.L, "width": model.width, "d": model.d, "k": model.k, "skip": skip,
                       "batch": batch, "per_epoch": per_epoch if batch is not None else None})
    return res


def run_sgd_batch(X, Y, A, B, *, depth: int, seeds: int, batch: int, schedule: str = "constant",
                  eta: float | None = None, steps: int = 1000, sgd_seed: int = 0, eps: float | None = None,
                  delta: float = 0.1, tol: float = 1e-14):
    """R independent SGD runs from the same (A, B, W(0) = 0) as one batch: each seed its own minibatch stream.

    The probability statements of Theorems 3.6, 3.8 are over the minibatches; the summary's
    ``zou_long_gu`` entry gives the fractions (``reached_eps``, ``below_envelope_thm38``,
    ``max_loss_below_2L0``) with their binomial standard errors.
    """
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    m = A.shape[-2]
    W0 = np.zeros((int(seeds), int(depth), m, m))
    return run_resnet(X, Y, A, B, W0, schedule=schedule, eta=eta, steps=steps, tol=tol, eps=eps, delta=delta,
                      batch=batch, sgd_seed=sgd_seed)


@dataclass
class DepthRow:
    """One depth of :func:`compare_depths`: the ResNet at its Theorem 3.1 step and the no-skip baseline."""

    depth: int
    eta: float
    resnet_steps: int | None
    resnet_status: str
    resnet_final: float
    baseline_steps: int | None
    baseline_status: str
    baseline_final: float
    T_eps: float | None
    rho_thm31: float | None
    thm31_margin: float | None
    resnet_violations: int

    def to_dict(self) -> dict:
        return jsonable(self.__dict__)


@dataclass
class DepthCompareResult:
    rows: list
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return jsonable({"settings": self.settings, "rows": [r.to_dict() for r in self.rows]})


def compare_depths(X, Y, depths, *, transform: str = "gaussian", hidden: int | None = None, alpha: float = 1.0,
                   beta: float = 1.0, alpha_mod: float = 1.0, hidden_std: float | None = None, seed: int = 0,
                   steps: int = 5000, eps: float | None = None, baseline: bool = True, progress=None):
    """Iterations to ``L* + eps`` of GD at Theorem 3.1's step, per depth, with the ``--no-skip`` baseline beside.

    Both models share A, B (seed ``seed``); the ResNet starts at zero, the baseline at Gaussian hidden weights
    (``hidden_std``, default 1/sqrt(m)) and runs at the ResNet's eta_thm31 of the same depth (the baseline has
    no theorem step; a common step as in Section 5.2's comparison). ``eps`` defaults to 1e-6 Delta0 of the
    ResNet. The paper's claim: the ResNet's count is roughly flat in L (rho_thm31 is depth-free).
    """
    from convtool.numeric.resnet_constants import compute_resnet_constants
    from convtool.results import NotApplicable

    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    d, k = X.shape[1], Y.shape[1]
    depths = [int(L) for L in depths]
    if not depths or min(depths) < 1:
        raise InputError(f"--depths must be positive integers, got {depths}")
    rows = []
    for i, L in enumerate(depths):
        A, B, W0 = resnet_instance(d, k, transform=transform, hidden=hidden, depth=L, alpha=alpha, beta=beta,
                                   alpha_mod=alpha_mod, seed=seed)
        c = compute_resnet_constants(X, Y, A, B, depth=L, eps=eps)
        e_v = c.values["epsilon"]
        D0 = c.values["Delta0"]
        eta = c.quantities["eta_thm31"]
        if isinstance(eta, NotApplicable):
            raise InputError(f"depth {L}: eta_thm31 is not applicable: {eta.reason}")
        tol = min(max(e_v / D0, 1e-300), 0.5) if D0 > 0 else 0.5
        r1 = run_resnet(X, Y, A, B, W0, schedule="thm31", steps=steps, tol=tol, eps=e_v)
        b_steps, b_status, b_final = None, "not run", float("nan")
        if baseline:
            _, _, Wb = resnet_instance(d, k, transform=transform, hidden=hidden, depth=L, alpha=alpha, beta=beta,
                                       alpha_mod=alpha_mod, skip=False, hidden_std=hidden_std, seed=seed)
            r2 = run_resnet(X, Y, A, B, Wb, skip=False, schedule="constant", eta=eta, steps=steps, tol=tol, eps=e_v)
            b_status = r2.status[0]
            b_steps = int(r2.steps[0]) if b_status == "converged" else None
            b_final = float(r2.arrays["loss"][0, r2.steps[0]])
        v = r1.violations()
        rows.append(DepthRow(depth=L, eta=float(eta), resnet_steps=int(r1.steps[0]) if r1.status[0] == "converged"
                             else None, resnet_status=r1.status[0],
                             resnet_final=float(r1.arrays["loss"][0, r1.steps[0]]), baseline_steps=b_steps,
                             baseline_status=b_status, baseline_final=b_final,
                             T_eps=c.quantities["T_eps"] if isinstance(c.quantities["T_eps"], float) else None,
                             rho_thm31=c.quantities["rho_thm31"] if isinstance(c.quantities["rho_thm31"], float)
                             else None,
                             thm31_margin=c.quantities["thm31_margin"] if isinstance(c.quantities["thm31_margin"],
                                                                                     float) else None,
                             resnet_violations=int(sum(v[kk] for kk in ("thm31", "traj", "region", "lemma_a1",
                                                                        "lemma_a2")))))
        if progress is not None:
            progress("depths", i + 1, len(depths))
    return DepthCompareResult(rows=rows, settings={"transform": transform, "hidden": hidden, "alpha": alpha,
                                                   "beta": beta, "alpha_mod": alpha_mod, "seed": seed,
                                                   "steps": steps, "eps": eps, "baseline_step": "eta_thm31 of the "
                                                   "ResNet at the same depth", "baseline_init":
                                                   "N(0, hidden_std^2), default 1/sqrt(m)"})
