"""The GD engine: runs a schedule and records, at every step, the theory next to what happened.

:func:`run_gd` runs GD on ``l(W1 W2^T)`` for a batch of R initializations (and,
with a list of losses, R instances) as one computation over stacked arrays. At
every step it records the observed excess loss, the spectra, Theorem 3.1's
``mu_t, K_t(eta_t), rho(eta_t, t)``, Theorem 3.2's ``Kbar_t, rhobar(eta_t, t)`` and
cumulative bounds, the imbalance drift with Lemma E.2's bound, and per-step
flags saying whether each theorem applied and held. The loop itself records the
observed state (and evaluates only what the schedule needs); the theory records are
evaluated from it after the loop, with the same registered formulas, vectorized over
seeds and steps, so that recording costs little more than a bare GD step.

Round-off and the float floor
-----------------------------
The built-in losses compute the excess loss from the explicit residual at W*
(never negative, exact to a few ulps relative). A loss that returns a slightly
negative excess near the float floor is clipped at 0 and the clipped steps are
counted (``clipped``). The computed iterate carries an error of at most
``delta_t = 64 eps ||W1(t)||_F ||W2(t)||_F`` in the product, which moves the excess
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

from convtool.analysis.evaluate import warm_up
from convtool.errors import ConvtoolWarning, InputError
from convtool.numeric.constants import compute_constants
from convtool.numeric.losses import stack_losses
from convtool.numeric.models import TwoLayerLinear
from convtool.numeric.roots import positive_root
from convtool.numeric.schedules import Schedule, StepInfo, evaluate_on, make_schedule
from convtool.results import NotApplicable, jsonable

__all__ = ["run_gd", "run_reference", "reference_losses", "RunResult", "STATUSES", "RTOL_HELD", "observed_rate",
           "check_run_size", "SETUP_PHASE", "AFTER_PHASE"]

EPS = np.finfo(np.float64).eps
RTOL_HELD = 1e-9

#: per-seed run status
STATUSES = {
    "converged": "L(t)/L(0) reached the tolerance",
    "max_steps": "the step budget ran out first",
    "diverged": "L(t) grew past the divergence bound",
    "non_finite": "the loss became non-finite",
    "zero_loss": "L(0) = 0 to round-off: already at a minimizer",
}

#: observed in the loop: state t (R, T+1) and step t (R, T)
_LOOP_STATE_KEYS = ("loss", "grad_sq", "s1_min_sq", "s1_max_sq", "s2_min_sq", "s2_max_sq", "sW_min", "sW_max",
                    "lambda_max_D", "lambda_max_negD", "drift", "grad_l_norm", "W_fro", "weight_fro_prod")
_LOOP_STEP_KEYS = ("eta", "drift_step")
#: evaluated from them afterwards (_theory_records)
_THEORY_STEP_KEYS = ("eta_hat", "growth_cap", "K_t", "rho", "Kbar_t", "rhobar", "ratio", "drift_step_bound")
_FLAG_KEYS = ("thm31_applicable", "thm31_held", "thm32_in_range", "thm32_held")

_CONST_KEYS = ("mu", "K", "L0", "alpha1", "alpha2", "beta2", "eta_max", "mubar", "rhobar0", "Delta",
               "local_rate", "local_rate_limit", "rate_nonoverparam")


@dataclass
class RunResult:
    """Arrays recorded by :func:`run_gd`, with leading seed axis R.

    ``arrays`` holds (R, T+1) state records (``loss`` = excess loss, spectra,
    ``mu_t``, drift, cumulative bounds), (R, T) step records (``eta``, ``K_t``,
    ``rho``, ``Kbar_t``, ``rhobar``, ``ratio``...) and boolean (R, T) flags. After a
    seed stops its later entries are NaN (flags False). ``steps[r]`` is the number
    of GD steps seed r took; ``status[r]`` a key of :data:`STATUSES`.
    """

    schedule: dict
    status: list
    steps: np.ndarray
    arrays: dict
    constants: list
    config: dict
    wall_time: float
    W1_0: np.ndarray
    W2_0: np.ndarray
    W1_T: np.ndarray
    W2_T: np.ndarray
    extra: dict = field(default_factory=dict)

    @property
    def R(self) -> int:
        return len(self.status)

    def violations(self) -> dict:
        """Counts and first steps of Theorem 3.1 / 3.2 violations (where the theorem applied)."""
        a = self.arrays
        v31 = a["thm31_applicable"] & ~a["thm31_held"]
        v32 = a["thm32_in_range"] & ~a["thm32_held"]
        out = {}
        for key, v in (("thm31", v31), ("thm32", v32)):
            idx = np.argwhere(v)
            out[key] = int(v.sum())
            out[f"{key}_first"] = int(idx[:, 1].min()) if idx.size else None
        out["thm31_steps_applicable"] = int(a["thm31_applicable"].sum())
        out["thm32_steps_in_range"] = int(a["thm32_in_range"].sum())
        return out

    def tightness(self) -> float | None:
        """Median over applicable steps of observed ratio / rho (1 = Theorem 3.1 tight)."""
        a = self.arrays
        mask = a["thm31_applicable"] & np.isfinite(a["ratio"]) & (a["rho"] > 0)
        if not mask.any():
            return None
        return float(np.median(a["ratio"][mask] / a["rho"][mask]))

    def _reference_rate(self) -> float | None:
        """Median observed rate of GD on Problem 1 with eta = 1/K from the same W(0) (``reference_loss``)."""
        ref = self.arrays.get("reference_loss")
        if ref is None:
            return None
        rates = [observed_rate(r[np.isfinite(r)]) for r in ref]
        rates = [x for x in rates if x is not None]
        return float(np.median(rates)) if rates else None

    def _eta_over_eta_max(self) -> float | None:
        """Median of eta_t / eta_max over steps and seeds: how far a schedule strays from Theorem 3.2's
        step (the ``local`` step can exceed eta_max by orders of magnitude on ill-conditioned data)."""
        em = np.array([c.get("eta_max") if isinstance(c.get("eta_max"), float) else np.nan for c in self.constants])
        with np.errstate(all="ignore"):
            r = self.arrays["eta"] / em[:, None]
        r = r[np.isfinite(r)]
        return float(np.median(r)) if r.size else None

    def log10_loss_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std over seeds of log10 L(t) (as in the paper's figures); NaN after all stop."""
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lg = np.log10(np.where(self.arrays["loss"] > 0, self.arrays["loss"], np.nan))
            return np.nanmean(lg, axis=0), np.nanstd(lg, axis=0)

    def summary(self) -> dict:
        """The numbers ``convtool run`` prints (strict-JSON-ready via :func:`jsonable`)."""
        a = self.arrays
        final = np.array([a["loss"][r, self.steps[r]] for r in range(self.R)])
        rates = [observed_rate(a["loss"][r, : self.steps[r] + 1]) for r in range(self.R)]
        rates_ok = [x for x in rates if x is not None]
        viol = self.violations()
        c0 = self.constants
        def cmean(key):
            vals = [c[key] for c in c0 if isinstance(c.get(key), float)]
            return float(np.mean(vals)) if vals else None
        return jsonable({
            "schedule": self.schedule["name"], "seeds": self.R,
            "status": _counts(self.status), "steps": self.steps.tolist(),
            "final_loss": final.tolist(), "final_loss_max": float(np.max(final)),
            "observed_rate": float(np.median(rates_ok)) if rates_ok else None,
            "rhobar0": cmean("rhobar0"), "local_rate": cmean("local_rate"),
            "local_rate_limit": cmean("local_rate_limit"), "rate_nonoverparam": cmean("rate_nonoverparam"),
            "eta_max": cmean("eta_max"),
            "mean_eta": float(np.nanmean(a["eta"])) if np.isfinite(a["eta"]).any() else None,
            "eta_over_eta_max": self._eta_over_eta_max(),
            "reference_rate": self._reference_rate(),
            "violations": viol, "tightness": self.tightness(),
            "clipped": int(self.extra.get("clipped", 0)), "wall_time": self.wall_time,
            "reduced": self.config.get("reduced"), "width": self.config.get("h"),
            "rank": self.config.get("rank"),
        })

    def to_dict(self) -> dict:
        return {"summary": self.summary(), "config": jsonable(self.config), "schedule": jsonable(self.schedule),
                "constants": jsonable(self.constants)}

    def save(self, path) -> None:
        """Write every recorded array plus ``W1_0, W2_0, W1_T, W2_T`` (full width), the data
        arrays given in ``config['data_arrays']`` and a JSON metadata string to ``.npz``."""
        out = {k: v for k, v in self.arrays.items()}
        out.update(W1_0=self.W1_0, W2_0=self.W2_0, W1_T=self.W1_T, W2_T=self.W2_T,
                   steps=self.steps, status=np.array(self.status),
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


def _per_seed_constants(losses, W1, W2, c, d, eta0, reductions, phase=None):
    out = []
    R = W1.shape[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvtoolWarning)
        for r in range(R):
            res = compute_constants(losses[r], W1[r], W2[r], c=c, d=d, eta0=eta0, reduction=reductions[r])
            out.append(res)
            if phase is not None:
                phase(SETUP_PHASE, r + 1, R)
    return out, [str(w.message) for w in caught]


#: names of the phases reported through ``run_gd(phase=...)`` besides the steps themselves
SETUP_PHASE = "constants per seed"
AFTER_PHASE = "theory records"
#: columns of records allocated at a time; the record arrays grow by doubling, so memory follows the steps taken
RECORD_CHUNK = 1024
#: float64 columns a run holds per recorded step and seed, temporaries of the theory evaluation included
#: (what ``--steps`` is checked against before the run)
BYTES_PER_STEP = 8 * 96


def check_run_size(R: int, steps: int, n: int, m: int, h: int) -> None:
    """InputError (one line, with the limit) when a run of ``steps`` steps on R seeds could not fit in memory."""
    from convtool.limits import check_bytes

    check_bytes(R * (steps + 1) * BYTES_PER_STEP, f"--steps {steps} with {R} seed(s) (per-step records, were every "
                f"step taken)", "lower --steps or --seeds (memory grows with the steps actually taken)")
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


def _const_env(consts):
    """Per-seed constants of Theorem E.1 as arrays (NaN where not applicable)."""
    env = {}
    for k in _CONST_KEYS:
        vals = []
        for res in consts:
            v = res.quantities.get(k) if k in res.quantities else res.values.get(k)
            vals.append(np.nan if isinstance(v, NotApplicable) or v is None else float(v))
        env[k] = np.array(vals)
    return env


@np.errstate(all="ignore")  # overflow in a diverging run is a status, not a warning
def run_gd(loss, W1, W2, *, schedule="adaptive", steps: int = 1000, eta0: float | None = None,
           c: float = 0.5, d: float = 2.0, tol: float = 1e-14, divergence: float = 1e8,
           reduce="auto", schedule_options: dict | None = None, progress=None,
           data_arrays: dict | None = None, phase=None) -> RunResult:
    """Run GD on ``l(W1 W2^T)`` with a named schedule, recording theory against observation.

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
    if len(losses) != R:
        raise InputError(f"{len(losses)} losses for {R} seeds")
    bl = losses[0] if all(L is losses[0] for L in losses) else stack_losses(losses)
    if (bl.n, bl.m) != (n, m):
        raise InputError(f"weights give W of shape ({n}, {m}) but the loss expects ({bl.n}, {bl.m})")

    warm_up()
    t_start = time.perf_counter()
    consts, const_warnings = _per_seed_constants(losses, model.W1_0, model.W2_0, c, d, eta0, model.reductions, phase)
    cenv = _const_env(consts)
    eta0_arr = np.array([res.quantities["eta0"] if not isinstance(res.quantities["eta0"], NotApplicable)
                         else np.nan for res in consts])
    if np.isnan(eta0_arr).any() and sched.theorem_schedule:  # constant / adaptive / adaptive-bar use eta0
        bad = next(res for res in consts if isinstance(res.quantities["eta0"], NotApplicable))
        raise InputError(f"schedule {sched.name!r} needs eta0, but {bad.quantities['eta0'].reason}; "
                         "pass --eta0 explicitly")
    env0 = {"c": np.full(R, float(c)), "d": np.full(R, float(d)), "eta0": eta0_arr, **cenv}  # per-seed constants
    theorem_ok = np.array([res.theorem_applies for res in consts]) & sched.theorem_schedule

    T = steps
    rec = {k: np.full((R, min(T + 1, RECORD_CHUNK)), np.nan) for k in _LOOP_STATE_KEYS + _LOOP_STEP_KEYS}
    status = np.array(["max_steps"] * R, dtype=object)
    nsteps = np.full(R, T)
    active = np.ones(R, dtype=bool)
    clipped = 0
    sched.start(R)

    A, B = model.init_state()
    D0 = model.imbalance(A, B)
    Dprev = D0
    eta_hat_prev = np.full(R, np.nan)

    def excess(AA, BB):
        return np.asarray(bl.excess(model.product(AA, BB)), dtype=float).reshape(R)

    # The loop records the observed state and what the schedule needs; every theory record
    # (K_t, rho, rhobar, bounds, flags) is evaluated afterwards, vectorized over all steps.
    for t in range(T + 1):
        _grow(rec, t + 1, T + 1)
        W = model.product(A, B)
        L = np.asarray(bl.excess(W), dtype=float).reshape(R)
        neg = L < 0
        if neg.any():
            clipped += int((neg & active).sum())
            L = np.where(neg, 0.0, L)
        Gl = bl.grad(W)
        gA, gB = model.param_grads(A, B, Gl)
        grad_sq = np.sum(gA * gA, axis=(-2, -1)) + np.sum(gB * gB, axis=(-2, -1))
        Dt = model.imbalance(A, B)
        sp_ = model.spectra(A, B, W, Dt)
        act = active
        state = {"loss": L, "grad_sq": grad_sq, "s1_min_sq": sp_["s1_min_sq"], "s1_max_sq": sp_["s1_max_sq"],
                 "s2_min_sq": sp_["s2_min_sq"], "s2_max_sq": sp_["s2_max_sq"], "sW_min": sp_["sigma_min_W"],
                 "sW_max": sp_["sigma_max_W"], "lambda_max_D": sp_["lambda_max_D"],
                 "lambda_max_negD": sp_["lambda_max_negD"], "drift": np.sqrt(np.sum((Dt - D0) ** 2, axis=(-2, -1))),
                 "grad_l_norm": np.sqrt(np.sum(Gl * Gl, axis=(-2, -1))), "W_fro": sp_["W_fro"],
                 "weight_fro_prod": np.sqrt(np.sum(A * A, axis=(-2, -1)) * np.sum(B * B, axis=(-2, -1)))}
        if act.all():
            for key, val in state.items():
                rec[key][:, t] = val
        else:
            for key, val in state.items():
                _put(rec, key, t, val, act)
        if t > 0:
            _put(rec, "drift_step", t - 1, np.sqrt(np.sum((Dt - Dprev) ** 2, axis=(-2, -1))), act)
        # stopping rules; L(0) within the rounding band of the product is a minimizer already
        L0 = env0["L0"]
        delta = 64 * EPS * state["weight_fro_prod"]
        at_min = (t == 0) & (L <= np.sqrt(2 * env0["K"] * L) * delta + 0.5 * env0["K"] * delta ** 2)
        zero = act & ((L0 <= 0) | at_min)
        bad = act & ~np.isfinite(L)
        div = act & np.isfinite(L) & (L > divergence * L0) & ~zero
        conv = act & np.isfinite(L) & (L <= tol * L0) & ~zero
        for mask, name in ((zero, "zero_loss"), (bad, "non_finite"), (div, "diverged"), (conv, "converged")):
            status[mask & active] = name
            nsteps[mask & active] = t
            active = active & ~mask
        if t == T or not active.any():
            break
        # what the schedule looks at
        env = dict(env0)
        env.update(sp_)
        env.update(L_t=L, grad_l_norm=state["grad_l_norm"], t=np.full(R, float(t)))
        for name in sched.needs:
            if name == "eta_hat":  # warm start from the previous root, enlarged 1% (kept only if proven)
                env[name] = eta_hat_prev = positive_root("eta_hat", env, hint=eta_hat_prev * 1.01)
            else:
                env[name] = evaluate_on(name, env)

        def trial(eta, A=A, B=B, gA=gA, gB=gB):
            A2, B2 = model.step(A, B, gA, gB, eta)
            return excess(A2, B2)

        info = StepInfo(t=t, env=env, grad_sq=grad_sq, trial=trial, params=(A, B), grads=(gA, gB),
                        active=active.copy())
        eta = np.where(active, np.asarray(sched(info), dtype=float).reshape(R), 0.0)
        _put(rec, "eta", t, eta, active)
        Dprev = Dt
        A, B = model.step(A, B, gA, gB, eta)
        if progress is not None:
            progress(t + 1, T)
    Tm = int(nsteps.max())  # the last step any seed took: state records 0..Tm, step records 0..Tm-1
    for k in _LOOP_STATE_KEYS:
        rec[k] = rec[k][:, : Tm + 1].copy()
    for k in _LOOP_STEP_KEYS:
        rec[k] = rec[k][:, :Tm].copy()
    if phase is not None:
        phase(AFTER_PHASE, 0, 1)
    _theory_records(rec, env0, nsteps, theorem_ok)
    if phase is not None:
        phase(AFTER_PHASE, 1, 1)
    wall = time.perf_counter() - t_start
    W1_T, W2_T = model.full_weights(A, B)
    rec["reference_loss"], reference_wall = reference_losses(losses, model.W1_0, model.W2_0, T, tol)
    config = {"steps": T, "eta0": eta0, "c": c, "d": d, "tol": tol, "divergence": divergence,
              "reduced": model.reduced, "h": model.h, "n": n, "m": m, "R": R,
              "rank": model.ranks.tolist(), "loss": bl.name, "RTOL_HELD": RTOL_HELD}
    extra = {"clipped": clipped, "constant_warnings": const_warnings, "reference_wall_time": reference_wall}
    if hasattr(sched, "failures"):
        extra["backtracking_failures"] = sched.failures.tolist()
    if data_arrays:
        extra["data_arrays"] = data_arrays
    return RunResult(schedule=sched.to_dict(), status=list(status), steps=nsteps, arrays=rec,
                     constants=[res.to_dict() for res in consts], config=config, wall_time=wall,
                     W1_0=model.W1_0, W2_0=model.W2_0, W1_T=W1_T, W2_T=W2_T, extra=extra)


def _flat(env: dict, shape: tuple) -> dict:
    """Every entry broadcast to ``shape`` (per-seed (R,) values as (R, 1)) and flattened."""
    out = {}
    for k, v in env.items():
        v = np.asarray(v, dtype=float)
        if v.ndim == 1:
            v = v[:, None]
        out[k] = np.broadcast_to(v, shape).ravel()
    return out


def _theory_records(rec: dict, env0: dict, nsteps: np.ndarray, theorem_ok: np.ndarray) -> None:
    """Evaluate every theory record from the observed state, vectorized over seeds and steps.

    Step t uses the state at t and eta_t: Theorem 3.1's ``K_t(eta_t)``, ``rho``; Theorem 3.2's
    ``Kbar_t``, ``rhobar``, the growth cap, ``eta_hat_t`` (root of eta K_t(eta) = 1), the cumulative
    bounds ``L0 prod rhobar`` and ``L0 rhobar0^t``, Lemma E.2's bound and its running sum, and
    the flags (module docstring). Entries after a seed stopped are NaN (flags False).
    """
    R, T = rec["eta"].shape
    L = rec["loss"]
    steps = np.arange(T)[None, :] < nsteps[:, None]            # (R, T): step t was taken
    states = np.arange(T + 1)[None, :] <= nsteps[:, None]      # (R, T+1): state t was reached
    env = dict(env0)
    for k in ("s1_min", "s1_max", "s2_min", "s2_max"):  # recorded as singular values, used squared
        env[k + "_sq"] = sq = rec.pop(k + "_sq")
        rec[k] = np.sqrt(sq)
    for k in ("sigma_min_T_sq", "sigma_max_T_sq"):
        env[k] = evaluate_on(k, _flat(env, (R, T + 1))).reshape(R, T + 1)
    rec["mu_t"] = np.where(states, evaluate_on("mu_t", _flat(env, (R, T + 1))).reshape(R, T + 1), np.nan)
    if T == 0:
        for k in _THEORY_STEP_KEYS:
            rec[k] = np.full((R, 0), np.nan)
        for k in _FLAG_KEYS:
            rec[k] = np.zeros((R, 0), dtype=bool)
        rec["bound_prod"] = env0["L0"][:, None].copy()
        rec["bound_rhobar0"] = env0["L0"][:, None].copy()
        rec["drift_bound"] = np.zeros((R, 1))
        return
    se = {k: (v[:, :T] if np.ndim(v) == 2 else v) for k, v in env.items()}
    se.update(L_t=L[:, :T], sigma_max_W=rec["sW_max"][:, :T], eta=rec["eta"], t=np.arange(T, dtype=float)[None, :],
              mu_t=rec["mu_t"][:, :T])
    flat = _flat(se, (R, T))
    ev = {k: evaluate_on(k, flat) for k in ("K_t", "growth_cap", "Kbar_t", "drift_step_bound")}
    flat.update(ev)
    ev["rho"] = evaluate_on("rho", flat)
    ev["rhobar"] = evaluate_on("rhobar", flat)
    ev["eta_hat"] = positive_root("eta_hat", flat)
    for k, v in ev.items():
        rec[k] = np.where(steps, v.reshape(R, T), np.nan)
    eta, K_t = rec["eta"], rec["K_t"]
    # observed ratio and the rounding band of the computed L(t+1) (module docstring)
    Lp, Ln = L[:, :-1], L[:, 1:]
    rec["ratio"] = np.where(steps & (Lp > 0), Ln / np.where(Lp > 0, Lp, 1.0), np.nan)
    delta = 64 * EPS * rec["weight_fro_prod"][:, 1:]
    K = env0["K"][:, None]
    band = np.sqrt(2 * K * np.where(np.isfinite(Ln), Ln, 0.0)) * delta + 0.5 * K * delta ** 2
    L0, rhobar0 = env0["L0"][:, None], env0["rhobar0"][:, None]
    tt = np.arange(T + 1)[None, :]
    rec["bound_rhobar0"] = np.where(states, L0 * rhobar0 ** tt, np.nan)
    rec["bound_prod"] = np.where(states, L0 * np.concatenate(
        [np.ones((R, 1)), np.cumprod(np.where(steps, rec["rhobar"], 1.0), axis=1)], axis=1), np.nan)
    rec["drift_bound"] = np.where(states, np.concatenate(
        [np.zeros((R, 1)), np.cumsum(np.where(steps, rec["drift_step_bound"], 0.0), axis=1)], axis=1), np.nan)
    held = 1 + RTOL_HELD
    rec["thm31_applicable"] = steps & (eta > 0) & (eta * K_t < 2)
    rec["thm31_held"] = steps & (Ln <= rec["rho"] * Lp * held + band)
    rec["thm32_held"] = steps & (Ln <= rec["rhobar"] * Lp * held + band) & \
        (Ln <= rec["bound_rhobar0"][:, 1:] * held + band)
    # eq. (89) at every step so far: eta0 <= eta_t <= min(cap, 1/K_t); eta_t <= 1/K_t is eta_t K_t(eta_t) <= 1
    tol_rel = 1 + 1e-12
    ok = (env0["eta0"][:, None] <= eta * tol_rel) & (eta <= rec["growth_cap"] * tol_rel) & (eta * K_t <= tol_rel)
    rec["thm32_in_range"] = steps & theorem_ok[:, None] & np.logical_and.accumulate(ok | ~steps, axis=1)


def _put(rec, key, t, val, mask):
    if mask.all():
        rec[key][:, t] = val
    else:
        rec[key][:, t] = np.where(mask, val, rec[key][:, t])


def reference_losses(losses, W1, W2, steps: int, tol: float = 1e-14) -> tuple[np.ndarray, float]:
    """:func:`run_reference` for each seed r from ``W1[r] W2[r]^T``: (R, T' + 1) losses (NaN after a seed
    reached ``tol``; T' the longest seed's steps) and the wall time."""
    t0 = time.perf_counter()
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
