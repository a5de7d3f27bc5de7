"""Batches of seeds, schedule comparisons and schedule previews (the library behind
``convtool run``, ``convtool compare`` and ``convtool schedule``).

Examples
--------
>>> batch = default_batch(seeds=2, h=40)
>>> batch.W1.shape, len(batch.losses)
((2, 10, 40), 2)
>>> cmp = compare_schedules(batch, ["adaptive", "local"], steps=200)
>>> [row.name for row in cmp.rows]
['adaptive', 'local', 'problem-1 (eta = 1/K)']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from convtool.errors import InputError
from convtool.numeric.data import DEFAULT_FIG1, Instance, build_instance
from convtool.numeric.engine import RunResult, observed_rate, reference_losses, run_gd
from convtool.numeric.init import init_weights
from convtool.results import jsonable

__all__ = ["Batch", "default_batch", "generator_batch", "batch_from_instance", "compare_schedules", "CompareResult", "CompareRow",
           "schedule_preview", "SchedulePreview", "bar_takeover"]


@dataclass
class Batch:
    """R (loss, W1, W2) triples stacked for one batched run; ``data_arrays`` are saved with ``--out``."""

    losses: list
    W1: np.ndarray
    W2: np.ndarray
    source: str
    data_arrays: dict = field(default_factory=dict)

    @property
    def R(self) -> int:
        return self.W1.shape[0]


def default_batch(seeds: int = 1, seed: int = 0, h: int | None = None, sigma: float = 1.0, n: int = 10) -> Batch:
    """The Fig. 1 setting (Section 4): one instance per seed, seeds ``seed .. seed + R - 1``.

    As in the paper's 30 repeats, each seed draws its own X, W1(0), W2(0) and noise.
    """
    h = DEFAULT_FIG1["h"] if h is None else int(h)
    return generator_batch("fig1", seeds=seeds, seed=seed, n=n, h=h, sigma=sigma)


#: the phase name under which batch construction reports ``progress(name, r, R)``
INSTANCES_PHASE = "instances per seed"


def generator_batch(name: str, seeds: int = 1, seed: int = 0, progress=None, **params) -> Batch:
    """One instance of the paper's generator ``name`` (``fig1``, ``fig3``, ``fig4``) per seed.

    Seed r of the batch calls ``GENERATORS[name](seed=seed + r, **params)``: data and
    initialization are redrawn together, as in the paper's repeated experiments.
    """
    from convtool.numeric.generators import GENERATORS

    if name not in GENERATORS:
        raise InputError(f"unknown instance {name!r}; choose one of {', '.join(GENERATORS)}")
    seeds = int(seeds)
    if seeds < 1:
        raise InputError(f"seeds must be >= 1, got {seeds}")
    insts = []
    for r in range(seeds):
        insts.append(build_instance(GENERATORS[name](seed=seed + r, **params)))
        if r == 0:  # every seed's instance has the first one's size: refuse a batch that cannot fit, now
            _check_batch_size(insts[0], seeds)
        if progress is not None:
            progress(INSTANCES_PHASE, r + 1, seeds)
    import inspect

    full = {k: p.default for k, p in inspect.signature(GENERATORS[name]).parameters.items() if k != "seed"}
    full.update(params)
    shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in full.items())
    label = {"fig1": "Fig. 1", "fig3": "Fig. 3", "fig4": "Fig. 4"}[name]
    what = "built-in default" if name == "fig1" else "built-in instance"
    src = f"{what} ({label}{', ' + shown if shown else ''}, seeds {seed}..{seed + seeds - 1})"
    return _stack(insts, src)


def batch_from_instance(inst: Instance, seeds: int = 1, seed: int = 0, progress=None) -> Batch:
    """R initializations of one instance: seed r draws its weights with ``seed + r``.

    Weights read from a file cannot be redrawn, so ``seeds > 1`` then needs ``--width``.
    """
    seeds = int(seeds)
    if seeds < 1:
        raise InputError(f"seeds must be >= 1, got {seeds}")
    if seeds == 1:
        return _stack([inst], inst.source)
    meta = inst.meta
    scheme = meta.get("init")
    if scheme in (None, "file") or scheme not in ("gaussian", "xavier", "he"):
        raise InputError("--seeds > 1 needs generated weights: the weights come from the data file "
                         "(drop W1/W2 from it and give --width)")
    _check_batch_size(inst, seeds)
    Ws = []
    for r in range(seeds):
        Ws.append(init_weights(inst.n, inst.m, inst.h, scheme, std=meta.get("std") if meta.get("p") is None else None,
                               p=meta.get("p"), seed=seed + r))
        if progress is not None:
            progress(INSTANCES_PHASE, r + 1, seeds)
    insts = [Instance(inst.loss, a, b, inst.source, dict(meta, seed=seed + r)) for r, (a, b) in enumerate(Ws)]
    return _stack(insts, f"{inst.source} ({seeds} inits, seeds {seed}..{seed + seeds - 1})")


def _check_batch_size(inst: Instance, seeds: int) -> None:
    """InputError (with the limit) when ``seeds`` copies of ``inst``'s arrays, data and weights, cannot fit."""
    from convtool.limits import check_bytes

    per_seed = 8 * (inst.W1.size + inst.W2.size) + sum(8 * np.size(getattr(inst.loss, k)) for k in ("X", "Y", "A", "y", "G", "M")
                                                     if hasattr(inst.loss, k))
    check_bytes(seeds * per_seed * 4, f"{seeds} seed(s) of this instance (data and weights of every seed, "
                f"{per_seed} bytes each)", "lower --seeds")


def _stack(insts, source) -> Batch:
    first = insts[0]
    losses = [i.loss for i in insts]
    if all(L is losses[0] for L in losses):
        losses = [losses[0]] * len(insts)
    data = {}
    for key in ("X", "Y", "A", "y"):
        if hasattr(first.loss, key):
            data[key] = np.asarray(getattr(first.loss, key))
    return Batch(losses=losses, W1=np.stack([i.W1 for i in insts]), W2=np.stack([i.W2 for i in insts]),
                 source=source, data_arrays=data)


def run_batch(batch: Batch, schedule: str = "adaptive", **kwargs) -> RunResult:
    """``run_gd`` on a :class:`Batch` (one loss shared, or one per seed)."""
    loss = batch.losses[0] if all(L is batch.losses[0] for L in batch.losses) else batch.losses
    return run_gd(loss, batch.W1, batch.W2, schedule=schedule, data_arrays=batch.data_arrays, **kwargs)


@dataclass
class CompareRow:
    """One schedule's outcome over the batch (medians over seeds)."""

    name: str
    status: dict
    steps_to_tol: float | None
    wall_time: float
    final_loss: float
    mean_eta: float | None
    observed_rate: float | None
    violations: dict
    loss_mean: np.ndarray
    loss_std: np.ndarray

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("name", "status", "steps_to_tol", "wall_time", "final_loss",
                                            "mean_eta", "observed_rate", "violations")}
        return jsonable(d)


@dataclass
class CompareResult:
    """Side-by-side schedules on the same instance(s) and initialization(s) (Fig. 2)."""

    rows: list
    source: str
    steps: int
    tol: float
    seeds: int
    runs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return jsonable({"source": self.source, "steps": self.steps, "tol": self.tol, "seeds": self.seeds,
                         "rows": [r.to_dict() for r in self.rows]})

    def __repr__(self) -> str:
        from convtool.frames import short_repr

        return short_repr("CompareResult", {"schedules": [r.name for r in self.rows], "seeds": self.seeds,
                                            "steps": self.steps}, "to_dict(), to_frame()")

    def _repr_html_(self) -> str:
        from convtool.frames import html_table

        rows = [(r.name, ", ".join(f"{k} {n}" for k, n in r.status.items()), r.steps_to_tol,
                 f"{r.final_loss:.6g}", "-" if r.observed_rate is None else f"{r.observed_rate:.6g}")
                for r in self.rows]
        return html_table(f"compare: {self.source}", rows,
                          header=("schedule", "status", "steps to tol", "final L", "observed rate"))

    def to_frame(self):
        """One row per schedule as a pandas DataFrame (needs the ``frame`` extra)."""
        from convtool.frames import compare_frame

        return compare_frame(self)


def compare_schedules(batch: Batch, schedules, *, steps: int = 1000, tol: float = 1e-14, reference: bool = True,
                      progress=None, **kwargs) -> CompareResult:
    """Run each schedule on the same batch; add the Problem-1 reference (eta = 1/K) when ``reference``.

    ``progress(name, t, steps)`` is called as runs advance.
    """
    rows, runs = [], {}
    for name in schedules:
        cb = None if progress is None else (lambda t, T, name=name: progress(name, t, T))
        ph = None if progress is None else (lambda what, i, n, name=name: progress(f"{name}: {what}", i, n))
        res = run_batch(batch, schedule=name, steps=steps, tol=tol, progress=cb, phase=ph, **kwargs)
        runs[name] = res
        s = res.summary()
        conv = [int(st) for st, stt in zip(res.steps, res.status) if stt == "converged"]
        mean, std = res.log10_loss_stats()
        rows.append(CompareRow(name=name, status=s["status"],
                               steps_to_tol=float(np.median(conv)) if len(conv) == res.R else None,
                               wall_time=res.wall_time, final_loss=s["final_loss_max"], mean_eta=s["mean_eta"],
                               observed_rate=s["observed_rate"], violations=s["violations"],
                               loss_mean=mean, loss_std=std))
    if reference:
        if runs:  # every run already recorded GD on Problem 1 from the same W(0)
            first = next(iter(runs.values()))
            ref, wall = first.arrays["reference_loss"], first.extra["reference_wall_time"]
        else:
            ref, wall = reference_losses(batch.losses, batch.W1, batch.W2, steps, tol)
        reached = [int(np.flatnonzero(np.isfinite(r))[-1]) for r in ref]
        conv = [k for k, r in zip(reached, ref) if r[k] <= tol * r[0]]
        rates = [observed_rate(r[np.isfinite(r)]) for r in ref]
        rates = [x for x in rates if x is not None]
        with np.errstate(divide="ignore", invalid="ignore"):
            lg = np.log10(np.where(ref > 0, ref, np.nan))
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, std = np.nanmean(lg, axis=0), np.nanstd(lg, axis=0)
        rows.append(CompareRow(name="problem-1 (eta = 1/K)",
                               status={"converged" if len(conv) == len(ref) else "max_steps": len(ref)},
                               steps_to_tol=float(np.median(conv)) if len(conv) == len(ref) else None,
                               wall_time=wall, final_loss=float(max(r[k] for k, r in zip(reached, ref))),
                               mean_eta=_reference_eta(batch.losses),
                               observed_rate=float(np.median(rates)) if rates else None,
                               violations={}, loss_mean=mean, loss_std=std))
    return CompareResult(rows=rows, source=batch.source, steps=steps, tol=tol, seeds=batch.R, runs=runs)


def _reference_eta(losses) -> float | None:
    """Mean of the reference step 1/K over the batch; None when some K = 0 (l constant: no step is defined)."""
    K = np.array([float(np.max(L.K)) for L in losses])
    return float(np.mean(1.0 / K)) if np.all(K > 0) else None


@dataclass
class SchedulePreview:
    """eta_max with its parts, the chosen eta0, and the adaptive schedule's first steps (issue 3)."""

    constants: dict
    eta0: float
    steps: list
    takeover_observed: int | None
    takeover_bar: int | None
    bar_horizon: int
    schedule: str

    def to_dict(self) -> dict:
        return jsonable({"schedule": self.schedule, "eta0": self.eta0,
                         "eta_max": self.constants.get("eta_max"), "eta0_1": self.constants.get("eta0_1"),
                         "eta0_2": self.constants.get("eta0_2"), "eta0_3": self.constants.get("eta0_3"),
                         "roots": self.constants.get("roots"),
                         "takeover_observed": self.takeover_observed, "takeover_bar": self.takeover_bar,
                         "bar_horizon": self.bar_horizon, "steps": self.steps})


def schedule_preview(loss, W1, W2, *, schedule: str = "adaptive", c: float = 0.5, d: float = 2.0,
                     eta0: float | None = None, steps: int = 20, horizon: int = 10 ** 6) -> SchedulePreview:
    """The caps of the first ``steps`` steps and when the 1/K_t branch takes over.

    Runs ``schedule`` (``adaptive`` or ``adaptive-bar``) for ``steps`` steps and lists, per
    step, the growth cap ``(1 + eta0^d)^(t/2) eta0``, ``eta_hat_t`` (the 1/K_t of eq. 19),
    ``1/Kbar_t`` and the chosen eta_t. ``takeover_observed`` is the first of those steps at
    which the 1/K_t branch binds (strictly below the cap, relative margin 1e-12).
    ``takeover_bar`` is the first ``t <= horizon`` with ``(1 + eta0^d)^(t/2) eta0 > 1/Kbar_t``, from the explicit formulas of Theorem E.1
    (``None`` when beyond ``horizon``; :func:`bar_takeover`, logarithmic in the horizon).
    """
    if schedule not in ("adaptive", "adaptive-bar"):
        raise InputError(f"schedule preview covers adaptive and adaptive-bar, got {schedule!r}")
    res = run_gd(loss, W1, W2, schedule=schedule, steps=steps, eta0=eta0, c=c, d=d, tol=1e-300)
    const = res.constants[0]
    a = res.arrays
    e0 = const["eta0"]
    if e0 is None:
        raise InputError("no eta0: eta_max is not applicable here; pass --eta0")
    rows = []
    T = int(res.steps[0])
    for t in range(T):
        cap, hat, eta = a["growth_cap"][0, t], a["eta_hat"][0, t], a["eta"][0, t]
        inv_bar = 1.0 / a["Kbar_t"][0, t]
        branch_val = hat if schedule == "adaptive" else inv_bar
        binds = cap > branch_val * (1 + 1e-12)
        branch = ("1/K_t" if schedule == "adaptive" else "1/Kbar_t") if binds else "cap"
        if min(cap, branch_val) < e0 * (1 - 1e-12):  # the lower clip max(eta0, .) of eq. (15) binds
            branch = "eta0 floor"
        rows.append({"t": t, "cap": float(cap), "eta_hat": float(hat), "inv_Kbar": float(inv_bar), "eta": float(eta),
                     "branch": branch})
    obs = next((r["t"] for r in rows if r["branch"] in ("1/K_t", "1/Kbar_t")), None)
    env = {k: const[k] for k in ("K", "L0", "alpha2", "beta2", "rhobar0", "Delta", "mu") if k in const}
    env.update(eta0=e0, c=c, d=d)
    take_bar = None
    if all(isinstance(v, float) for v in env.values()):
        take_bar = bar_takeover(env, horizon)
    return SchedulePreview(constants=const, eta0=e0, steps=rows, takeover_observed=obs, takeover_bar=take_bar,
                           bar_horizon=horizon, schedule=schedule)


def _takeover_margin(env: dict, t: np.ndarray) -> np.ndarray:
    """``cap(t) Kbar_t`` over integer steps t (> 1 + 1e-12 where the 1/Kbar_t branch binds), registered formulas."""
    from convtool.numeric.schedules import evaluate_on

    e = {k: np.full(t.shape, v) for k, v in env.items()}
    e["t"] = t.astype(float)
    with np.errstate(all="ignore"):
        return evaluate_on("growth_cap", e) * evaluate_on("Kbar_t", e)


def bar_takeover(env: dict, horizon: int, scan_block: int = 10 ** 5, progress=None) -> int | None:
    """First step ``t <= horizon`` at which adaptive-bar's 1/Kbar_t branch binds: ``cap(t) Kbar_t > 1 + 1e-12``.

    With ``0 <= rhobar0 <= 1`` and ``Delta >= 0`` (Theorem E.1's range), ``f(t) = cap(t) Kbar_t`` is a sum of
    exponentials ``a_i r_i^t`` with ``a_i >= 0`` (eqs. 89, 114: ``cap = eta0 (1 + eta0^d)^(t/2)`` times each
    term of ``Kbar_t``), hence convex in t, and ``Kbar_t >= K exp(eta0^c) alpha2 > 0`` makes it grow without
    bound. A convex f that starts below the threshold crosses it exactly once, so the first crossing is
    found by doubling (a proven bracket ``f(lo) <= thr < f(hi)``) and integer bisection, in
    O(log horizon) evaluations; ``None`` when it lies beyond ``horizon``. Outside that range the steps are
    scanned in blocks (``progress(i, n)`` after each block).
    """
    thr = 1 + 1e-12
    horizon = int(horizon)
    if env["rhobar0"] >= 0 and env["rhobar0"] <= 1 and env["Delta"] >= 0:
        f = lambda t: float(_takeover_margin(env, np.array([t]))[0])  # noqa: E731
        if f(0) > thr:
            return 0
        lo, hi = 0, 1
        while not f(hi) > thr:  # f(lo) <= thr throughout
            if hi >= horizon:
                return None
            lo, hi = hi, min(2 * hi, horizon)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if f(mid) > thr else (mid, hi)
        return hi
    blocks = range(0, horizon + 1, scan_block)
    for i, start in enumerate(blocks):
        tt = np.arange(start, min(start + scan_block, horizon + 1))
        hit = np.flatnonzero(_takeover_margin(env, tt) > thr)
        if progress is not None:
            progress(i + 1, len(blocks))
        if hit.size:
            return int(tt[hit[0]])
    return None
