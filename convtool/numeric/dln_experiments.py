"""Deep-linear runs and width comparisons (the library behind ``convtool run|compare --model deep-linear``).

Zhao & Xu, "Convergence Analysis and Trajectory Comparison of Gradient Descent for Overparameterized Deep
Linear Networks" (TMLR 2024, OpenReview jG7ndW7UHp). A run is the one engine (:func:`convtool.numeric.engine.run`)
on the :class:`~convtool.numeric.deep_linear.DeepLinear` model with the ``zhao-xu`` theory
(:class:`~convtool.numeric.theories.zhao_xu.ZhaoXu`), which runs convex GD from the same start alongside.
The constants at the initialization (:func:`~convtool.numeric.dln_constants.compute_deep_linear_constants`)
decide whether Theorem 1's width condition holds (with the absolute constant ``C``) and give its eps.

Examples
--------
>>> import numpy as np
>>> from convtool.numeric.deep_linear import init_layers
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.normal(size=(60, 4)), rng.normal(size=(60, 2))
>>> res = run_deep_linear(X, Y, init_layers((4, 200, 200, 2), "orthogonal", seed=0), init="orthogonal", steps=20)
>>> res.status[0], int(res.violations()["lemma5"]), int(res.violations()["thm2"])
('max_steps', 0, 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from convtool.errors import InputError
from convtool.results import jsonable

__all__ = ["run_deep_linear", "compare_widths", "WidthCompareResult", "WidthCompareRow", "DLN_SCHEDULES"]

#: schedules a deep-linear run takes: Zhao & Xu's two constant steps and the model-neutral ones
DLN_SCHEDULES = ("thm1", "cor3", "constant", "backtracking", "adgd")


def _loss(X, Y, loss_scale: str):
    from convtool.numeric.losses import SquaredLoss
    from convtool.numeric.theories.zhao_xu import ScaledLoss

    base = SquaredLoss(X, Y)
    if loss_scale == "sum":
        return base
    if loss_scale == "mean":
        return ScaledLoss(base, 2.0 / np.shape(X)[0])
    raise InputError(f"loss scale must be sum or mean, got {loss_scale!r}")


def _first_seed(layers):
    return [np.asarray(W)[0] if np.ndim(W) == 3 else np.asarray(W) for W in layers]


def run_deep_linear(X, Y, layers, *, schedule: str = "thm1", steps: int = 25, tol: float = 1e-14,
                    loss_scale: str = "sum", init: str = "file", eta: float | None = None, delta: float = 0.1,
                    c: float = 0.1, C: float = 1.0, theta: float = 0.5, eps: float | None = None,
                    spectrum_every: int = 10, saddle_every: int | None = None, schedule_options: dict | None = None,
                    progress=None, phase=None, extra_theories=()):
    """GD on ``L(a_N W_N ... W_1)`` with the Zhao & Xu theory attached; returns the engine's RunResult.

    ``layers``: W_1..W_N, each (n_j, n_{j-1}) or batched (R, n_j, n_{j-1}) (one initialization per seed,
    same data). ``schedule``: ``thm1`` (eta = n_N/(beta N)), ``cor3`` (2 n_N/((alpha + beta) N)),
    ``constant`` (``eta`` required), ``backtracking`` or ``adgd``. ``spectrum_every`` / ``saddle_every``
    (default: the same) set how often P(t)'s spectrum (beyond the dense size) and the saddle margin (an
    SVD of the hidden product, the costliest record at large width) are recorded. The constants at seed 0's initialization
    (same data and widths for every seed) are in ``result.extra["zhao_xu_constants"]``; Theorem 1's check
    applies when its width condition for ``init`` holds (with ``C``) and the step is Theorem 1's.
    ``extra_theories``: further theories to attach (``convtool run`` adds Du, Hu & Lee's balancedness).
    """
    from convtool.numeric.deep_linear import DeepLinear
    from convtool.numeric.dln_constants import compute_deep_linear_constants
    from convtool.numeric.engine import run
    from convtool.numeric.theories.zhao_xu import ZhaoXu

    if schedule not in DLN_SCHEDULES:
        raise InputError(f"schedule {schedule!r} does not apply to the deep linear model; choose from "
                         f"{', '.join(DLN_SCHEDULES)}")
    if schedule == "constant" and eta is None:
        raise InputError("--schedule constant on the deep linear model needs --eta (or use thm1 / cor3)")
    if schedule != "constant" and eta is not None and schedule in ("thm1", "cor3"):
        raise InputError(f"--eta does not apply to --schedule {schedule} (its step is the theorem's); "
                         f"use --schedule constant --eta {eta:g}")
    consts = compute_deep_linear_constants(X, Y, _first_seed(layers), loss_scale=loss_scale, delta=delta, c=c, C=C,
                                           eta=eta, theta=theta, eps=eps, init=init)
    q = consts.quantities
    eps_v = q["eps"]
    width_check = next((ch for ch in consts.checks if ch.name.startswith("width for")), None)
    width_ok = bool(width_check is not None and width_check.ok)
    if not (isinstance(eps_v, float) and 0 < eps_v < 0.5):
        raise InputError(f"Theorem 1 needs 0 < eps < 1/2; eps = {eps_v} (give --eps, or a smaller --c)")
    model = DeepLinear(layers)
    if width_check is None:
        reason = "Theorem 1's width condition: no init family (layers from a file)"
    elif not width_check.ok:
        reason = f"Theorem 1's width condition fails: {width_check.detail}"
    else:
        reason = None
    if width_ok and schedule != "thm1":
        width_ok, reason = False, f"Theorem 1 covers its own step eta = n_N/(beta N), not --schedule {schedule}"
    theory = ZhaoXu(width_ok=width_ok, eps=eps_v, spectrum_every=spectrum_every, width_reason=reason,
                    saddle_every=spectrum_every if saddle_every is None else saddle_every)
    res = run(model, _loss(X, Y, loss_scale), schedule, theories=[theory, *extra_theories],
              steps=steps, eta0=eta, tol=tol, schedule_options=schedule_options, progress=progress, phase=phase)
    res.config.update(model="deep-linear", widths=list(model.widths), init=init, loss_scale=loss_scale)
    res.extra["zhao_xu_constants"] = consts.to_dict()
    res.extra["width_condition"] = width_check.to_dict() if width_check is not None else None
    return res


@dataclass
class WidthCompareRow:
    """One hidden width: the DLN against convex GD from the same start (medians over seeds)."""

    width: int
    status: dict
    steps: int
    E_dln_ratio: float | None
    E_cvx_ratio: float | None
    dist_ratio_max: float | None
    thm2_bound_final: float | None
    tau_max: float | None
    q: float | None
    violations: dict

    def to_dict(self) -> dict:
        return jsonable(dict(self.__dict__))


@dataclass
class WidthCompareResult:
    """:func:`compare_widths`'s table, with the runs."""

    rows: list
    source: str
    depth: int
    init: str
    schedule: str
    steps: int
    seeds: int
    runs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return jsonable({"source": self.source, "model": "deep-linear", "depth": self.depth, "init": self.init,
                         "schedule": self.schedule, "steps": self.steps, "seeds": self.seeds,
                         "rows": [r.to_dict() for r in self.rows]})


def _median(vals):
    vals = [float(v) for v in vals if v is not None and np.isfinite(v)]
    return float(np.median(vals)) if vals else None


def compare_widths(X, Y, widths, *, depth: int = 3, init: str = "gaussian", seeds: int = 1, seed: int = 0,
                   schedule: str = "thm1", steps: int = 25, source: str = "", progress=None, **kwargs):
    """:func:`run_deep_linear` at equal hidden widths ``widths`` (seeds ``seed ..``), one row per width.

    Each row: E_DLN(T)/E_DLN(0) and E_cvx(T)/E_cvx(0), max_t ||V(t) - W(t)||_X^2 / ||V(0) - W*||_X^2
    (Theorem 2's left side, scaled), Theorem 2's bound D_R at the last step (None where vacuous:
    q + 7 tau >= 1), the largest tau_hat and the violations of every check.
    """
    from convtool.numeric.deep_linear import init_layers

    ws = [int(w) for w in widths]
    if not ws or min(ws) < 1:
        raise InputError(f"widths to compare must be positive integers, got {widths!r}")
    d, k = np.shape(X)[1], np.shape(Y)[1]
    rows, runs = [], {}
    for w in ws:
        layers = init_layers((d, *([w] * (depth - 1)), k), init, seed=seed, R=seeds)
        cb = None if progress is None else (lambda t, T, w=w: progress(f"width {w}", t, T))
        res = run_deep_linear(X, Y, layers, schedule=schedule, steps=steps, init=init, progress=cb, **kwargs)
        runs[w] = res
        a = res.arrays
        st = res.steps
        with np.errstate(all="ignore"):
            e_dln = [a["loss"][r, st[r]] / a["loss"][r, 0] for r in range(res.R)]
            e_cvx = [a["E_cvx"][r, st[r]] / a["E_cvx"][r, 0] for r in range(res.R)]
            dist = [np.nanmax(a["dist_X_sq"][r, : st[r] + 1]) / a["dln_X_sq"][r, 0] for r in range(res.R)]
            b2 = [(a["thm2_bound"][r, st[r] - 1] / a["dln_X_sq"][r, 0]) if st[r] > 0 and
                  a["thm2_applies"][r, st[r] - 1] else None for r in range(res.R)]
        tau = a["tau_hat"]
        status: dict = {}
        for s in res.status:
            status[s] = status.get(s, 0) + 1
        rows.append(WidthCompareRow(width=w, status=status, steps=int(np.median(st)), E_dln_ratio=_median(e_dln),
                                    E_cvx_ratio=_median(e_cvx), dist_ratio_max=_median(dist),
                                    thm2_bound_final=_median(b2),
                                    tau_max=float(np.nanmax(tau)) if np.isfinite(tau).any() else None,
                                    q=float(np.nanmax(a["q"])) if np.isfinite(a["q"]).any() else None,
                                    violations=res.violations()))
    return WidthCompareResult(rows=rows, source=source, depth=depth, init=init, schedule=schedule, steps=steps,
                              seeds=seeds, runs=runs)
