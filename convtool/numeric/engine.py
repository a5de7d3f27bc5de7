"""The GD engine: runs a model with a schedule, and lets the theories record what they predict next to what happened.

:func:`run` runs GD on any *model* (the interface of :mod:`convtool.numeric.models`: ``init_state``,
``product``, ``param_grads``, ``step``, ``grad_sq``, ``full_weights``; e.g.
:class:`~convtool.numeric.models.TwoLayerLinear`, :class:`~convtool.numeric.deep_linear.DeepLinear`) for a
batch of R initializations (and, with a list of losses, R instances) as one computation over stacked arrays.
The loop itself knows no paper: it records the excess loss, the squared gradient norm and the step sizes,
applies the stopping rules, and calls the attached *theories* (:mod:`convtool.numeric.theories`, one per
paper) to record what they need per step and to evaluate their bounds and checks after the loop.

:func:`run_gd` is the two-layer entry point ``l(W1 W2^T)`` with the local-PL paper's theory
(:class:`~convtool.numeric.theories.local_pl.LocalPL`): at every step the spectra, Theorem 3.1's
``mu_t, K_t(eta_t), rho(eta_t, t)``, Theorem 3.2's ``Kbar_t, rhobar(eta_t, t)`` and cumulative bounds,
the imbalance drift with Lemma E.2's bound, and per-step flags saying whether each theorem applied and
held; the theory records are evaluated from the observed state after the loop, vectorized over seeds and
steps. Per step the loop forms ``W - W*`` once (``Loss.excess_grad``), tests the stopping rules in full only
when some seed leaves ``(tol L0, divergence L0]``, and the spectra are certified from the previous step's
eigenvectors where the matrices moved little (:class:`~convtool.numeric.spectra.ExtremeEigs`); what that
costs against a bare GD step is measured in bench/bench_step_floor.py (issue 13).

Round-off and the float floor
-----------------------------
The built-in losses compute the excess loss from the explicit residual at W*,
``1/2 ||Xr (W - W*)||^2`` with Xr the R factor of X (never negative, exact to a few ulps
relative, at a cost independent of the number of samples: issue 13). A loss that returns a slightly
negative excess near the float floor is clipped at 0 and the clipped steps are
counted (``clipped``). The computed iterate carries an error of at most
``delta_t = 64 eps ||W1(t)||_F ||W2(t)||_F`` in the product (the model's ``round_off``; by default
64 eps times the product of the parameter arrays' Frobenius norms), which moves the excess
loss by up to ``band_t = sqrt(2 K L(t)) delta_t + K delta_t^2 / 2`` (first order in
delta: not a fixed floor). A theorem "held" at step t when
``L(t+1) <= bound (1 + RTOL_HELD) + band_{t+1}`` with ``RTOL_HELD = 1e-9``. A run
whose ``L(0) <= band_0`` is already at a minimizer to round-off (status
``zero_loss``). Ratios ``L(t+1)/L(t)`` are recorded only where ``L(t) > 0``.

Examples
--------
>>> import numpy as np
>>> from convtool.numeric.losses import SquaredLoss
>>> rng = np.random.default_rng(0)
>>> X = np.linalg.qr(rng.normal(size=(3, 3)))[0]
>>> W1, W2 = rng.normal(size=(3, 30)), rng.normal(size=(3, 30))
>>> res = run_gd(SquaredLoss(X, X @ W1 @ W2.T + 0.1), W1, W2, schedule="adaptive", steps=300)
>>> res.status[0], int(res.violations()["thm31"])
('converged', 0)
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from convtool.errors import InputError
from convtool.numeric.losses import stack_losses
from convtool.numeric.models import TwoLayerLinear, blas_threads
from convtool.numeric.schedules import Schedule, StepInfo, make_schedule
from convtool.numeric.theories import make_theory
from convtool.numeric.theories.base import (AFTER_PHASE, EPS, RTOL_HELD, SETUP_PHASE, Observation, RunContext,
                                            Theory, put as _put)
from convtool.numeric.theories.local_pl import LocalPL
from convtool.results import jsonable

__all__ = ["run", "run_gd", "run_reference", "reference_losses", "RunResult", "STATUSES", "RTOL_HELD",
           "observed_rate", "check_run_size", "SETUP_PHASE", "AFTER_PHASE", "RECORD_CHUNK"]

#: per-seed run status
STATUSES = {
    "converged": "L(t)/L(0) reached the tolerance",
    "max_steps": "the step budget ran out first",
    "diverged": "L(t) grew past the divergence bound",
    "non_finite": "the loss became non-finite",
    "zero_loss": "L(0) = 0 to round-off: already at a minimizer",
}

#: recorded by the engine itself, for every model: state t (R, T+1) and step t (R, T)
_ENGINE_STATE_KEYS = ("loss", "grad_sq")
_ENGINE_STEP_KEYS = ("eta",)


@dataclass
class RunResult:
    """Arrays recorded by :func:`run` / :func:`run_gd`, with leading seed axis R.

    ``arrays`` holds (R, T+1) state records (``loss`` = excess loss, ``grad_sq``, and the theories' own:
    spectra, ``mu_t``, drift, cumulative bounds for the local-PL theory), (R, T) step records (``eta``,
    ``K_t``, ``rho``...) and boolean (R, T) check flags. After a seed stops its later entries are NaN
    (flags False). ``steps[r]`` is the number of GD steps seed r took; ``status[r]`` a key of
    :data:`STATUSES`. ``W1_0 ... W2_T`` are the two-layer weights (full width; None for other models);
    ``state_0`` / ``state_T`` the model's ``full_weights`` at the start and the end.
    """

    schedule: dict
    status: list
    steps: np.ndarray
    arrays: dict
    constants: list
    config: dict
    wall_time: float
    W1_0: np.ndarray | None = None
    W2_0: np.ndarray | None = None
    W1_T: np.ndarray | None = None
    W2_T: np.ndarray | None = None
    extra: dict = field(default_factory=dict)
    theories: list = field(default_factory=list)
    state_0: object = None
    state_T: object = None

    @property
    def R(self) -> int:
        return len(self.status)

    def theory(self, key: str) -> Theory:
        """The attached theory with paper key ``key`` (KeyError if none)."""
        for th in self.theories:
            if th.key == key:
                return th
        raise KeyError(f"no theory {key!r} attached to this run; attached: {[th.key for th in self.theories]}")

    def violations(self) -> dict:
        """Counts and first steps of every attached theory's check violations (where the check applied);
        for the two-layer run Theorem 3.1 / 3.2's ``thm31``, ``thm32``..."""
        out = {}
        for th in self.theories:
            out.update(th.violations(self.arrays))
        return out

    def tightness(self) -> float | None:
        """Median over applicable steps of observed ratio / rho (1 = Theorem 3.1 tight); local-PL only."""
        for th in self.theories:
            if hasattr(th, "tightness"):
                return th.tightness(self.arrays)
        return None

    def _reference_rate(self) -> float | None:
        """Median observed rate of GD on Problem 1 with eta = 1/K from the same W(0) (``reference_loss``)."""
        ref = self.arrays.get("reference_loss")
        if ref is None:
            return None
        rates = [observed_rate(r[np.isfinite(r)]) for r in ref]
        rates = [x for x in rates if x is not None]
        return float(np.median(rates)) if rates else None

    def log10_loss_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std over seeds of log10 L(t) (as in the paper's figures); NaN after all stop."""
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lg = np.log10(np.where(self.arrays["loss"] > 0, self.arrays["loss"], np.nan))
            return np.nanmean(lg, axis=0), np.nanstd(lg, axis=0)

    def summary(self) -> dict:
        """The numbers ``convtool run`` prints (strict-JSON-ready via :func:`jsonable`): the engine's own
        (status, steps, final loss, observed rate, step sizes, violations) and each theory's."""
        a = self.arrays
        final = np.array([a["loss"][r, self.steps[r]] for r in range(self.R)])
        rates = [observed_rate(a["loss"][r, : self.steps[r] + 1]) for r in range(self.R)]
        rates_ok = [x for x in rates if x is not None]
        out = {
            "schedule": self.schedule["name"], "seeds": self.R,
            "status": _counts(self.status), "steps": self.steps.tolist(),
            "final_loss": final.tolist(), "final_loss_max": float(np.max(final)),
            "observed_rate": float(np.median(rates_ok)) if rates_ok else None,
            "mean_eta": float(np.nanmean(a["eta"])) if np.isfinite(a["eta"]).any() else None,
            "reference_rate": self._reference_rate(),
            "violations": self.violations(),
        }
        for th in self.theories:
            out.update(th.summary(self))
        out.update({"clipped": int(self.extra.get("clipped", 0)), "wall_time": self.wall_time})
        if "h" in self.config:  # the two-layer model's width reduction
            out.update({"reduced": self.config.get("reduced"), "width": self.config.get("h"),
                        "rank": self.config.get("rank")})
        return jsonable(out)

    def __repr__(self) -> str:
        from convtool.frames import short_repr

        counts = _counts(self.status)
        s = self.summary()
        items = {"model": self.config.get("model"), "schedule": self.schedule.get("name"), "R": self.R,
                 "status": ", ".join(f"{k}: {v}" for k, v in counts.items()), "observed_rate": s.get("observed_rate")}
        return short_repr("RunResult", {k: v for k, v in items.items() if v is not None},
                          "arrays: per-step records; summary(), to_dict(), to_frame()")

    def _repr_html_(self) -> str:
        from convtool.frames import html_table

        s = self.summary()
        rows = [(k, v, "") for k, v in s.items() if not isinstance(v, (dict, list))]
        return html_table(f"convtool run: {self.schedule.get('name')}"
                          + (f" on {self.config['model']}" if self.config.get("model") else ""), rows,
                          header=("summary", "value", ""))

    def to_frame(self):
        """The per-step records as a long pandas DataFrame, one row per (seed, t) (needs the ``frame`` extra)."""
        from convtool.frames import run_frame

        return run_frame(self)

    def to_dict(self) -> dict:
        return {"summary": self.summary(), "config": jsonable(self.config), "schedule": jsonable(self.schedule),
                "constants": jsonable(self.constants)}

    def save(self, path) -> None:
        """Write every recorded array plus ``W1_0, W2_0, W1_T, W2_T`` (full width, two-layer runs), the data
        arrays given in ``config['data_arrays']`` and a JSON metadata string to ``.npz``."""
        out = {k: v for k, v in self.arrays.items()}
        if self.W1_0 is not None:
            out.update(W1_0=self.W1_0, W2_0=self.W2_0, W1_T=self.W1_T, W2_T=self.W2_T)
        elif isinstance(self.state_T, (list, tuple)):
            for j, (w0, wT) in enumerate(zip(self.state_0, self.state_T), start=1):
                out[f"W{j}_0"], out[f"W{j}_T"] = w0, wT
        out.update(steps=self.steps, status=np.array(self.status),
                   t=np.broadcast_to(np.arange(self.arrays["loss"].shape[1]), self.arrays["loss"].shape))
        for k, v in self.extra.get("data_arrays", {}).items():
            out[k] = v
        if self.R == 1:  # one seed: drop the seed axis, as the file layout expects
            out = {k: (v[0] if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == 1
                       and k not in self.extra.get("data_arrays", {}) else v) for k, v in out.items()}
        out["metadata"] = np.array(json.dumps(self.to_dict(), allow_nan=False))
        from convtool.files import atomic_write

        path = os.fspath(path)
        target = path if path.endswith(".npz") else path + ".npz"  # np.savez's own rule for a path
        try:
            atomic_write(target, lambda fh: np.savez(fh, **out))
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _counts(items) -> dict:
    out: dict = {}
    for s in items:
        out[s] = out.get(s, 0) + 1
    return out


def observed_rate(loss: np.ndarray, tail: float = 0.5, floor: float = 1e-28) -> float | None:
    """Linear rate ``10^slope`` of a least-squares fit of log10 L(t) over the last ``tail`` of the run.

    Points at or below ``floor * L(0)`` (the float floor) are excluded; needs 3 points.
    """
    L = np.asarray(loss, dtype=float)
    if L.size < 3 or not L[0] > 0:
        return None
    ok = np.isfinite(L) & (L > floor * L[0])
    idx = np.flatnonzero(ok)
    if idx.size < 3:
        return None
    last = idx[-1]
    start = int(last - max(2, int(tail * last)))
    sel = idx[idx >= max(start, 0)]
    if sel.size < 3:
        return None
    slope = np.polyfit(sel.astype(float), np.log10(L[sel]), 1)[0]
    return float(10.0 ** slope)


#: columns of records allocated at a time; the record arrays grow by doubling, so memory follows the steps taken
RECORD_CHUNK = 1024
#: float64 columns a run holds per recorded step and seed, temporaries of the theory evaluation included
#: (what ``--steps`` is checked against before the run)
BYTES_PER_STEP = 8 * 96


def check_run_size(R: int, steps: int, n: int, m: int, h: int | None = None) -> None:
    """InputError (one line, with the limit) when a run of ``steps`` steps on R seeds could not fit in memory
    (``h``: the two-layer width, whose weights are checked too)."""
    from convtool.limits import check_bytes

    check_bytes(R * (steps + 1) * BYTES_PER_STEP, f"--steps {steps} with {R} seed(s) (per-step records, were every "
                f"step taken)", "lower --steps or --seeds (memory grows with the steps actually taken)")
    if h is not None:
        check_bytes(R * 6 * 8 * (n + m) * h, f"{R} seed(s) of width h = {h} (initial, current and final weights)",
                    "lower --seeds or the width")


def _grow(rec: dict, need: int, limit: int) -> None:
    """Give every record array at least ``need`` columns (at most ``limit``), doubling; new entries NaN."""
    cap = next(iter(rec.values())).shape[1]
    if need <= cap:
        return
    new = min(limit, max(need, 2 * cap))
    for k, v in rec.items():
        grown = np.full((v.shape[0], new), np.nan)
        grown[:, :cap] = v
        rec[k] = grown


def _round_off(model, state) -> np.ndarray:
    """The model's bound on the computed product's error (R,): ``model.round_off(state)``, or by default
    ``64 eps`` times the product of the parameter arrays' Frobenius norms."""
    f = getattr(model, "round_off", None)
    if f is not None:
        return np.asarray(f(state), dtype=float)
    prod = 1.0
    for P in state:
        prod = prod * np.sum(P * P, axis=(-2, -1))
    return 64 * EPS * np.sqrt(prod)


def _schedule_view(model, state, grads):
    """``(params, grads)`` as the schedules see them: the coordinates in which the model's step is plain GD
    ``x - eta g`` (the model's ``gd_coordinates`` where its state is a reparametrization, e.g. the deep
    linear model's V_j = W_j/sqrt(n_j); otherwise the state itself)."""
    f = getattr(model, "gd_coordinates", None)
    if f is not None:
        return f(state, grads)
    return tuple(state), tuple(grads)


def _merged(dicts) -> dict:
    """One dict of ``dicts`` in turn (a key keeps its first place and its last value), by ``dict.update``."""
    out: dict = {}
    for d in dicts:
        out.update(d)
    return out


def _as_theory(th):
    return make_theory(th) if isinstance(th, str) else th


@np.errstate(all="ignore")  # overflow in a diverging run is a status, not a warning
def run(model, loss, schedule="constant", *, theories=(), steps: int = 1000, eta0: float | None = None,
        tol: float = 1e-14, divergence: float = 1e8, schedule_options: dict | None = None, progress=None,
        phase=None, stochastic=None) -> RunResult:
    """Run GD on ``loss(model.product(state))`` with a schedule; the attached theories record what they predict.

    Parameters
    ----------
    model : object
        The model interface (:mod:`convtool.numeric.models`): ``R, n, m``, ``init_state()`` -> tuple of
        (R, ...) arrays, ``product(state)`` (R, n, m), ``param_grads(state, Gl)``, ``step(state, grads, eta)``,
        ``grad_sq(state, grads)`` (R,), ``full_weights(state)``; optionally ``round_off(state)`` (R,)
        (module docstring). Nothing else: a new model needs no change here.
    loss : Loss or list of Loss
        One loss for all seeds, or one per seed (same kind and shapes), of W (n, m).
    schedule : str or Schedule
        A key of :data:`convtool.numeric.schedules.SCHEDULES` or an instance. The model-neutral schedules
        are ``constant`` (with ``eta0``, or a theory that sets it), ``backtracking`` and ``adgd``.
    theories : sequence of Theory or str
        Theories (:mod:`convtool.numeric.theories`), instances or registry keys; default none.
    steps : int
        Maximum number of GD steps T.
    eta0 : float, optional
        The constant schedule's step (``env["eta0"]``); a theory may set it per seed (local-PL: eta_max).
    tol, divergence : float
        Stop a seed when ``L(t)/L(0) <= tol`` (converged) or ``L(t) > divergence * L(0)`` (diverged);
        ``L(0)`` is a theory's ``L0`` constant where one gives it, else the observed excess at t = 0.
    progress : callable, optional
        ``progress(t, steps)`` after each step.
    stochastic : callable, optional
        A stochastic gradient for the update (minibatch SGD): ``stochastic(t, obs) -> grads`` (the model's
        parameter gradients, same shapes as ``obs.grads``; fresh arrays, not a buffer written again at the next
        call: theories may keep references, as to the state). The records (loss, gradient norm) stay those of
        the full objective; only the update uses the returned gradients, which the theories see as
        ``obs.update_grads`` in ``after_step`` (and the callable as ``ctx.stochastic`` in ``setup``). Its
        ``to_dict()`` (if any) goes to ``config["stochastic"]``.
    phase : callable, optional
        ``phase(name, i, total)`` through the theories' setup (:data:`SETUP_PHASE`, reported by them)
        and their records after the loop (:data:`AFTER_PHASE`).

    Records are allocated :data:`RECORD_CHUNK` steps at a time, so memory is O(steps taken): the
    returned (R, T'+1) / (R, T') arrays stop at ``T' = max(steps)``, the last step any seed took.

    A single attached theory may run the whole loop itself (its ``fused_loop(ctx, env0, steps)`` returns a
    callable, or None): the local-PL theory on the two-layer model does, compiled with numba where it applies
    (:mod:`convtool.numeric.theories.local_pl_fused`), with the same records, stopping rules and clipping, and
    ``progress`` called after every chunk of steps instead of every step. ``CONVTOOL_JIT=0`` keeps this loop.

    Returns
    -------
    RunResult
        ``config`` holds the run's settings; ``state_0``, ``state_T`` the model's full weights.
    """
    steps = int(steps)
    if steps < 0:
        raise InputError(f"steps must be >= 0, got {steps}")
    if not (0 < tol < 1):
        raise InputError(f"tol must lie in (0, 1), got {tol!r}")
    sched = schedule if isinstance(schedule, Schedule) else make_schedule(schedule, **(schedule_options or {}))
    R, n, m = model.R, model.n, model.m
    check_run_size(R, steps, n, m)
    losses = list(loss) if isinstance(loss, (list, tuple)) else [loss] * R
    if len(losses) != R:
        raise InputError(f"{len(losses)} losses for {R} seeds")
    bl = losses[0] if all(L is losses[0] for L in losses) else stack_losses(losses)
    if (bl.n, bl.m) != (n, m):
        raise InputError(f"weights give W of shape ({n}, {m}) but the loss expects ({bl.n}, {bl.m})")
    ths = [_as_theory(th) for th in theories]

    for th in ths:
        th.warm_up()
    t_start = time.perf_counter()
    ctx = RunContext(model=model, losses=losses, loss=bl, schedule=sched, R=R, eta0=eta0, phase=phase,
                     stochastic=stochastic)
    env0 = {"eta0": np.full(R, np.nan if eta0 is None else float(eta0))}
    for th in ths:
        env0.update(th.setup(ctx))
    if sched.name == "constant" and not np.isfinite(env0["eta0"]).all():
        raise InputError("schedule 'constant' needs a step size: pass eta0 (--eta)")

    T = steps
    state_keys = _ENGINE_STATE_KEYS + tuple(k for th in ths for k in th.state_keys)
    step_keys = _ENGINE_STEP_KEYS + tuple(k for th in ths for k in th.step_keys)
    status = np.array(["max_steps"] * R, dtype=object)
    nsteps = np.full(R, T)
    active = np.ones(R, dtype=bool)
    clipped = 0
    sched.start(R)
    if hasattr(sched, "bind"):  # a rule that reads the data itself (xu2023: X, Y of each seed's loss)
        sched.bind(losses)
    state = model.init_state()
    # the full weights at the start: the model's own copy of what it was given where it keeps one (exact, and
    # no expansion back to full width), else expanded from the state
    state_0 = model.initial_weights() if hasattr(model, "initial_weights") else model.full_weights(state)
    L0 = env0.get("L0")
    K = env0.get("K")
    if K is None:
        K = np.broadcast_to(np.asarray(bl.K, dtype=float), (R,))

    def excess(st):
        return np.asarray(bl.excess(model.product(st)), dtype=float).reshape(R)

    excess_grad = getattr(bl, "excess_grad", None) or (lambda W: (bl.excess(W), bl.grad(W)))
    quiet = None  # after step 0: (tol L0, divergence L0), the stopping thresholds

    # a theory may run the whole loop itself, compiled (local-PL on the two-layer model: issue 13), where it
    # applies; it returns what this loop would leave
    fused = None
    if stochastic is None and len(ths) == 1 and not hasattr(sched, "bind"):
        make = getattr(ths[0], "fused_loop", None)
        fused = make(ctx, env0, T) if make is not None else None
    # the model's measured BLAS thread count, through threadpoolctl when installed (models.BLAS_THREADS)
    with blas_threads(getattr(model, "blas_threads", None)):
        if fused is not None:  # a theory's compiled loop for this model and schedule (same records)
            rec, status, nsteps, clipped, state = fused(state, tol, divergence, progress)
        else:
            rec = {k: np.full((R, min(T + 1, RECORD_CHUNK)), np.nan) for k in state_keys + step_keys}
            for t in range(T + 1):
                _grow(rec, t + 1, T + 1)
                W = model.product(state)
                L, Gl = excess_grad(W)  # W - W* formed once for both
                L = np.asarray(L, dtype=float).reshape(R)
                neg = L < 0
                if neg.any():
                    clipped += int((neg & active).sum())
                    L = np.where(neg, 0.0, L)
                grads = model.param_grads(state, Gl)
                grad_sq = model.grad_sq(state, grads)
                act = active
                obs = Observation(t=t, state=state, W=W, loss=L, Gl=Gl, grads=grads, grad_sq=grad_sq, active=act)
                vals = {"loss": L, "grad_sq": grad_sq}
                prev = {}
                for th in ths:
                    v, p = th.observe(t, obs)
                    vals.update(v)
                    prev.update(p)
                if act.all():  # one test for all records (each _put would test the mask again)
                    for key, val in vals.items():
                        rec[key][:, t] = val
                    for key, val in prev.items():
                        rec[key][:, t - 1] = val
                else:
                    for key, val in vals.items():
                        _put(rec, key, t, val, act)
                    for key, val in prev.items():
                        _put(rec, key, t - 1, val, act)
                # stopping rules; L(0) within the rounding band of the product is a minimizer already
                # (after step 0, a seed with L0 <= 0 has stopped already; L0 NaN keeps every step on the full test)
                if quiet is None or not ((L > quiet[0]) & (L <= quiet[1]) | ~act).all():
                    if t == 0:
                        if L0 is None:
                            L0 = L.copy()
                        delta = _round_off(model, state)
                        at_min = L <= np.sqrt(2 * K * L) * delta + 0.5 * K * delta ** 2
                    else:
                        at_min = False
                    zero = act & ((L0 <= 0) | at_min)
                    bad = act & ~np.isfinite(L)
                    div = act & np.isfinite(L) & (L > divergence * L0) & ~zero
                    conv = act & np.isfinite(L) & (L <= tol * L0) & ~zero
                    for mask, name in ((zero, "zero_loss"), (bad, "non_finite"), (div, "diverged"), (conv, "converged")):
                        status[mask & active] = name
                        nsteps[mask & active] = t
                        active = active & ~mask
                    if quiet is None:
                        quiet = (tol * L0, np.minimum(divergence * L0, np.finfo(float).max))  # inf L: the full test
                # else every active seed goes on (finite, in (tol L0, divergence L0]): all the tests above are False
                if t == T or not active.any():
                    break
                # what the schedule looks at
                env = dict(env0)
                env.update(L_t=L, t=np.full(R, float(t)))
                for th in ths:
                    th.schedule_env(t, obs, env, sched)

                def trial(eta, state=state, grads=grads):
                    return excess(model.step(state, grads, eta))

                params_v, grads_v = (_schedule_view(model, state, grads) if getattr(sched, "needs_params", True)
                                     else (tuple(state), tuple(grads)))
                info = StepInfo(t=t, env=env, grad_sq=grad_sq, trial=trial, params=params_v, grads=grads_v,
                                active=active.copy())
                eta = np.where(active, np.asarray(sched(info), dtype=float).reshape(R), 0.0)
                _put(rec, "eta", t, eta, active)
                obs.update_grads = grads if stochastic is None else stochastic(t, obs)
                for th in ths:
                    th.after_step(t, obs, eta)
                state = model.step(state, obs.update_grads, eta)
                if progress is not None:
                    progress(t + 1, T)
    Tm = int(nsteps.max())  # the last step any seed took: state records 0..Tm, step records 0..Tm-1
    for k in state_keys:
        rec[k] = rec[k][:, : Tm + 1].copy()
    for k in step_keys:
        rec[k] = rec[k][:, :Tm].copy()
    if ths and phase is not None:
        phase(AFTER_PHASE, 0, 1)
    for th in ths:
        th.finalize(rec, nsteps, env0)
    if ths and phase is not None:
        phase(AFTER_PHASE, 1, 1)
    wall = time.perf_counter() - t_start
    per_seed = [th.constants() for th in ths]
    constants = [_merged([cs[r] for cs in per_seed if cs]) for r in range(R)] if any(per_seed) else []
    extra = {"clipped": clipped}
    for th in ths:
        extra.update(th.extra())
    if hasattr(sched, "failures"):
        extra["backtracking_failures"] = sched.failures.tolist()
    config = {"model": getattr(model, "name", type(model).__name__), "steps": T, "eta0": eta0, "tol": tol,
              "divergence": divergence, "n": n, "m": m, "R": R, "loss": bl.name,
              "theories": [th.key for th in ths], "RTOL_HELD": RTOL_HELD}
    if stochastic is not None:
        config["stochastic"] = stochastic.to_dict() if hasattr(stochastic, "to_dict") else repr(stochastic)
    return RunResult(schedule=sched.to_dict(), status=list(status), steps=nsteps, arrays=rec, constants=constants,
                     config=config, wall_time=wall, extra=extra, theories=ths, state_0=state_0,
                     state_T=model.full_weights(state))


def run_gd(loss, W1, W2, *, schedule="adaptive", steps: int = 1000, eta0: float | None = None,
           c: float = 0.5, d: float = 2.0, tol: float = 1e-14, divergence: float = 1e8,
           reduce="auto", schedule_options: dict | None = None, progress=None,
           data_arrays: dict | None = None, phase=None, extra_theories=()) -> RunResult:
    """Run GD on ``l(W1 W2^T)`` with a named schedule, recording the local-PL theory against observation.

    :func:`run` with :class:`~convtool.numeric.models.TwoLayerLinear` and
    :class:`~convtool.numeric.theories.local_pl.LocalPL`, plus the Problem-1 reference run
    (``arrays["reference_loss"]``, eta = 1/K from the same W(0)).

    Parameters
    ----------
    loss : Loss or list of Loss
        One loss for all seeds, or one per seed (same kind and shapes).
    W1, W2 : ndarray
        (n, h), (m, h) or batched (R, n, h), (R, m, h); not modified.
    schedule : str or Schedule
        A key of :data:`convtool.numeric.schedules.SCHEDULES` or an instance.
    steps : int
        Maximum number of GD steps T.
    eta0 : float, optional
        Initial step size; default eta_max of each seed (Theorem E.1).
    c, d : float
        Exponents of Theorem E.1.
    tol : float
        Stop a seed when ``L(t)/L(0) <= tol`` (default 1e-14, well above the float floor).
    divergence : float
        Stop a seed as diverged when ``L(t) > divergence * L(0)``.
    reduce : {"auto", True, False}
        Width reduction (:mod:`convtool.numeric.models`).
    progress : callable, optional
        ``progress(t, steps)`` after each step (the CLI draws a bar with it).
    phase : callable, optional
        ``phase(name, i, total)`` through the other phases: the per-seed constants
        (:data:`SETUP_PHASE`) and the theory records after the loop (:data:`AFTER_PHASE`).
    extra_theories : sequence of Theory
        Theories attached after the local-PL one (e.g. Du, Hu & Lee's balancedness theory); they only read the
        state, so the local-PL records are the same with or without them.

    Records are allocated :data:`RECORD_CHUNK` steps at a time, so memory is O(steps taken):
    the returned (R, T'+1) / (R, T') arrays stop at ``T' = max(steps)``, the last step any seed took.
    Before the run, ``steps`` and the batch are checked against the memory limit
    (:func:`check_run_size`).

    Returns
    -------
    RunResult
    """
    steps = int(steps)
    if steps < 0:
        raise InputError(f"steps must be >= 0, got {steps}")
    if not (0 < tol < 1):
        raise InputError(f"tol must lie in (0, 1), got {tol!r}")
    sched = schedule if isinstance(schedule, Schedule) else make_schedule(schedule, **(schedule_options or {}))
    shape1, shape2 = np.shape(W1), np.shape(W2)
    check_run_size(shape1[0] if len(shape1) == 3 else 1, steps, shape1[-2], shape2[-2], shape1[-1])
    model = TwoLayerLinear(W1, W2, reduce=reduce)
    R, n, m = model.R, model.n, model.m
    losses = list(loss) if isinstance(loss, (list, tuple)) else [loss] * R
    res = run(model, losses if isinstance(loss, (list, tuple)) else loss, sched,
              theories=[LocalPL(c=c, d=d), *extra_theories], steps=steps, eta0=eta0, tol=tol, divergence=divergence,
              progress=progress, phase=phase)
    T = steps
    W1_T, W2_T = res.state_T
    res.arrays["reference_loss"], reference_wall = reference_losses(losses, model.W1_0, model.W2_0, T, tol)
    res.config = {"steps": T, "eta0": eta0, "c": c, "d": d, "tol": tol, "divergence": divergence,
                  "reduced": model.reduced, "h": model.h, "n": n, "m": m, "R": R,
                  "rank": model.ranks.tolist(), "loss": res.config["loss"], "RTOL_HELD": RTOL_HELD}
    extra = {"clipped": res.extra["clipped"], "constant_warnings": res.extra["constant_warnings"],
             "reference_wall_time": reference_wall}
    if "backtracking_failures" in res.extra:
        extra["backtracking_failures"] = res.extra["backtracking_failures"]
    if data_arrays:
        extra["data_arrays"] = data_arrays
    res.extra = extra
    res.W1_0, res.W2_0, res.W1_T, res.W2_T = model.W1_0, model.W2_0, W1_T, W2_T
    return res


def reference_losses(losses, W1, W2, steps: int, tol: float = 1e-14) -> tuple[np.ndarray, float]:
    """:func:`run_reference` for each seed r from ``W1[r] W2[r]^T``: (R, T' + 1) losses (NaN after a seed
    reached ``tol``; T' the longest seed's steps) and the wall time."""
    t0 = time.perf_counter()
    try:  # one stacked run (a seed's row is cut where it reached tol, as its own run stops there)
        stacked = stack_losses(list(losses)) if len(losses) > 1 else None
    except (TypeError, ValueError):
        stacked = None
    if stacked is not None:
        W0 = np.asarray(W1) @ np.swapaxes(np.asarray(W2), -1, -2)
        out = run_reference(stacked, W0, steps, tol=tol)
        hit = out <= tol * out[:, :1]
        size = np.where(hit.any(axis=1), np.argmax(hit, axis=1) + 1, out.shape[1])  # a row ends at its first hit
        cols = int(size.max())
        ref = np.where(np.arange(cols) < size[:, None], out[:, :cols], np.nan)
        return ref, time.perf_counter() - t0
    rows = [run_reference(L, a @ b.T, steps, tol=tol)[0] for L, a, b in zip(losses, W1, W2)]
    ref = np.full((len(rows), max(r.size for r in rows)), np.nan)
    for i, r in enumerate(rows):
        ref[i, : r.size] = r
    return ref, time.perf_counter() - t0


def run_reference(loss, W0, steps: int, eta: float | None = None, tol: float = 1e-14) -> np.ndarray:
    """GD on Problem 1 itself from ``W(0)`` with ``eta = 1/K`` (eq. 6; Fig. 4's reference).

    Returns the excess loss ``l(t) - l*`` of shape (R, T' + 1), T' <= steps the last step taken (all
    seeds at ``tol``, or ``steps``); a seed at ``tol`` before the others keeps its later, smaller losses.
    """
    W = np.array(W0, dtype=float, ndmin=3)
    R = W.shape[0]
    K = np.broadcast_to(np.asarray(loss.K, dtype=float), (R,))
    with np.errstate(divide="ignore"):  # K = 0: l is constant, its gradient 0; the step is taken as 0
        e = (np.where(K > 0, 1.0 / K, 0.0) if eta is None else np.full(R, float(eta)))[:, None, None]
    out = {"loss": np.full((R, min(steps + 1, RECORD_CHUNK)), np.nan)}
    L0 = None
    for t in range(steps + 1):
        _grow(out, t + 1, steps + 1)
        L = np.asarray(loss.excess(W), dtype=float).reshape(R)
        L0 = L if L0 is None else L0
        out["loss"][:, t] = L
        if t == steps or np.all(L <= tol * L0):
            break
        W = W - e * loss.grad(W)
    return out["loss"][:, : t + 1].copy()
