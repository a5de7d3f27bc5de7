"""Step-size schedules for the GD engine, selectable by name from :data:`SCHEDULES`.

A schedule is called once per step with a :class:`StepInfo` (the iterate's
primitives, the per-seed constants, and a ``trial(eta)`` that evaluates the loss
after a trial step) and returns the step sizes, one per seed. Every per-step
root comes from a registered defining equation (``eta_hat``, ``eta_local``,
``eta_xu_star``, ``eta_48``) solved on a proven bracket by
:func:`convtool.numeric.roots.convex_poly_root`.

============== ============================================================ ===========================
name           rule                                                         reference
============== ============================================================ ===========================
constant       eta_t = eta0 (default eta0 = eta_max)                         Theorem 3.2
adaptive       max(eta0, min((1 + eta0^d)^(t/2) eta0, eta_hat_t))            eq. (19) with rho
adaptive-bar   max(eta0, min((1 + eta0^d)^(t/2) eta0, 1/Kbar_t))             eq. (19) with rhobar
local          argmin_eta rho(eta, t), K_t's eta-dependence included         beyond the paper
xu2023         min(argmin_eta rho_xu(eta, t), largest eta with eq. 48)       Lemma C.1 (Xu et al. 2023)
backtracking   eta_bt tau^j, first j with Armijo L(new) <= L - gamma eta |g|^2 Algorithm 1, typo reading 5
adgd           min(sqrt(1 + theta) lam_prev, |dx| / (2 |dg|))                Malitsky & Mishchenko 2020
thm1           n_N / (beta N) (deep linear; eta_* = 1/beta)                 Zhao & Xu, Theorem 1
cor3           2 n_N / ((alpha + beta) N) (deep linear)                     Zhao & Xu, Corollary 3
============== ============================================================ ===========================

Examples
--------
>>> sorted(SCHEDULES)
['adaptive', 'adaptive-bar', 'adgd', 'backtracking', 'constant', 'cor3', 'local', 'thm1', 'xu2023']
>>> make_schedule("backtracking", tau=0.5).tau
0.5
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from convtool.analysis.evaluate import compiled
from convtool.errors import InputError
from convtool.numeric.roots import positive_root

__all__ = ["Schedule", "SCHEDULES", "make_schedule", "StepInfo", "evaluate_on"]


@dataclass
class StepInfo:
    """What a schedule may look at before step t (all arrays have one entry per seed).

    ``env`` maps registry names (``K``, ``mu``, ``L_t``, the spectral primitives, the
    per-seed constants ``eta0``, ``mubar``, ``rhobar0``, ``Delta``..., and whatever the
    schedule lists in ``needs``, evaluated by the engine) to arrays; ``trial(eta)`` returns the excess loss after a step of size ``eta``;
    ``params``/``grads`` are the current parameters and gradients (for ``adgd``).
    """

    t: int
    env: dict
    grad_sq: np.ndarray
    trial: Callable[[np.ndarray], np.ndarray]
    params: tuple
    grads: tuple
    active: np.ndarray
    extra: dict = field(default_factory=dict)


_EVAL_CACHE: dict = {}


def evaluate_on(name: str, env: dict) -> np.ndarray:
    """Evaluate registered expression ``name`` on the arrays in ``env`` (compiled once, cached)."""
    try:
        f, inputs = _EVAL_CACHE[name]
    except KeyError:
        f = compiled(name)
        f, inputs = _EVAL_CACHE.setdefault(name, (f, f.argnames))
    return np.asarray(f(*[env[i] for i in inputs]), dtype=float)


class Schedule:
    """Base class: ``__call__(info) -> eta`` (one step size per seed)."""

    name = "schedule"
    reference = ""
    #: whether Theorem 3.2's hypotheses (eq. 89) can hold for this schedule
    theorem_schedule = False
    options: tuple = ()
    #: registry quantities the engine evaluates into ``info.env`` before calling the schedule
    needs: tuple = ()
    #: whether the rule reads ``info.params`` / ``info.grads`` (in the model's GD coordinates); the engine
    #: forms them only for such rules (for the deep linear model that is two passes over every layer)
    needs_params = False

    def __init__(self, **options):
        unknown = set(options) - set(self.options)
        if unknown:
            raise InputError(f"schedule {self.name!r} has no option(s) {', '.join(sorted(unknown))}; "
                             f"it takes {', '.join(self.options) or 'none'}")
        for k, v in options.items():
            setattr(self, k, v)
        self.validate()

    def validate(self):
        pass

    def start(self, R: int) -> None:
        """Called once before step 0 with the batch size."""

    def __call__(self, info: StepInfo) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dict(self) -> dict:
        return {"name": self.name, "reference": self.reference,
                **{k: getattr(self, k, None) for k in self.options}}


SCHEDULES: dict[str, type] = {}


def _register(cls):
    SCHEDULES[cls.name] = cls
    return cls


def make_schedule(name: str, **options) -> Schedule:
    """Instantiate schedule ``name`` with ``options`` (InputError on unknown names/options)."""
    if name not in SCHEDULES:
        raise InputError(f"unknown schedule {name!r}; choose from {', '.join(sorted(SCHEDULES))}")
    return SCHEDULES[name](**options)


def _check_positive(obj, *names):
    for n in names:
        v = getattr(obj, n, None)
        if v is not None and not (np.isfinite(v) and v > 0):
            raise InputError(f"schedule {obj.name}: {n} must be a positive number, got {v!r}")


@_register
class Constant(Schedule):
    """``eta_t = eta0`` for every t; eta0 defaults to eta_max (Theorem 3.2 with eta_t = eta0)."""

    name = "constant"
    reference = "Theorem 3.2"
    theorem_schedule = True

    def __call__(self, info):
        return np.array(info.env["eta0"], dtype=float)


@_register
class Adaptive(Schedule):
    """Eq. (19) with rho: ``eta_t = max(eta0, min((1 + eta0^d)^(t/2) eta0, eta_hat_t))``.

    ``eta_hat_t`` is the positive root of ``eta K_t(eta) = 1`` at the current
    iterate (typo reading 4); the lower clip at eta0 is the constraint
    ``eta0 <= eta_t`` of eq. (15). ``info.extra["branch"]`` records which term binds.
    """

    name = "adaptive"
    reference = "eq. (19), h = rho"
    theorem_schedule = True
    needs = ("sigma_max_T_sq", "growth_cap", "eta_hat")

    def __call__(self, info):
        cap = info.env["growth_cap"]
        hat = info.env["eta_hat"]
        info.extra["branch"] = np.where(cap <= hat, "cap", "1/K_t")
        return np.maximum(info.env["eta0"], np.minimum(cap, hat))


@_register
class AdaptiveBar(Schedule):
    """Eq. (19) with rhobar: ``eta_t = max(eta0, min((1 + eta0^d)^(t/2) eta0, 1/Kbar_t))``."""

    name = "adaptive-bar"
    reference = "eq. (19), h = rhobar"
    theorem_schedule = True
    needs = ("growth_cap", "Kbar_t")

    def __call__(self, info):
        cap = info.env["growth_cap"]
        inv = 1.0 / info.env["Kbar_t"]
        info.extra["branch"] = np.where(cap <= inv, "cap", "1/Kbar_t")
        return np.maximum(info.env["eta0"], np.minimum(cap, inv))


@_register
class Local(Schedule):
    """``eta_t = argmin_{eta > 0} rho(eta, t)`` with ``K_t(eta)`` substituted (root of a cubic).

    Warning
    -------
    Beyond the paper: there is no growth cap, so Theorem 3.2's global rate does not
    apply; Theorem 3.1 still certifies each step (``eta_t K_t < 2`` holds at the
    minimizer since ``rho < 1`` there).
    """

    name = "local"
    reference = "argmin of eq. (10) (beyond the paper)"
    needs = ("sigma_max_T_sq",)

    def __call__(self, info):
        return positive_root("eta_local", info.env)


@_register
class Xu2023(Schedule):
    """Xu et al. (2023): minimize the degree-4 rate eq. (50) subject to eq. (48), current weights.

    ``eta_t = min(eta*, eta_48)``: rho_xu is convex in eta > 0 with a unique stationary
    point eta*, and eq. (48)'s left side decreases from sigma_min^2(T_t) > 0, so the
    feasible set is (0, eta_48]; the constrained minimizer is the smaller of the two.
    """

    name = "xu2023"
    reference = "Lemma C.1, eqs. (48), (50); typo reading 6"
    needs = ("sigma_min_T_sq", "sigma_max_T_sq")

    def __call__(self, info):
        star = positive_root("eta_xu_star", info.env)
        e48 = positive_root("eta_48", info.env)
        info.extra["branch"] = np.where(star <= e48, "eq. 50 minimizer", "eq. 48 boundary")
        return np.minimum(star, e48)


@_register
class Backtracking(Schedule):
    """Algorithm 1 (Armijo reading): from ``eta_bt``, multiply by ``tau`` until
    ``L(new) <= L(t) - gamma eta ||grad L||^2``.

    Defaults ``tau = 0.1``, ``gamma = 0.9`` (Appendix G.2.1); ``eta_bt = 1`` (the paper gives
    no value). ``info.extra["backtracks"]`` counts the reductions per seed; when the test
    still fails after ``max_backtracks`` reductions, the last trial,
    ``eta_bt tau^max_backtracks``, is taken and counted in ``failures``.
    """

    name = "backtracking"
    reference = "Algorithm 1, typo reading 5"
    options = ("eta_bt", "tau", "gamma", "max_backtracks")
    eta_bt = 1.0
    tau = 0.1
    gamma = 0.9
    max_backtracks = 60

    def validate(self):
        _check_positive(self, "eta_bt")
        if not 0 < self.tau < 1:
            raise InputError(f"schedule backtracking: tau must lie in (0, 1), got {self.tau!r}")
        if not 0 < self.gamma < 1:
            raise InputError(f"schedule backtracking: gamma must lie in (0, 1), got {self.gamma!r}")

    def start(self, R):
        self.failures = np.zeros(R, dtype=int)

    def __call__(self, info):
        L = info.env["L_t"]
        eta = np.full(L.shape, float(self.eta_bt))
        todo = info.active.copy()
        count = np.zeros(L.shape, dtype=int)
        for j in range(int(self.max_backtracks) + 1):
            Lnew = info.trial(eta)
            ok = np.isfinite(Lnew) & (Lnew <= L - self.gamma * eta * info.grad_sq)
            todo &= ~ok
            if not todo.any() or j == int(self.max_backtracks):
                break
            eta = np.where(todo, eta * self.tau, eta)
            count += todo
        self.failures += todo
        info.extra["backtracks"] = count
        return eta


@_register
class Thm1(Schedule):
    """Zhao & Xu's Theorem 1 step ``eta = n_N/(beta N)`` (``eta_* = 1/beta``), constant; deep linear model only.

    The theory (``zhao-xu``) puts ``eta_thm1`` (registry ``zhao-xu:eta_thm1``) into the step context."""

    name = "thm1"
    reference = "Zhao & Xu (TMLR 2024), Theorem 1"
    key = "eta_thm1"

    def __call__(self, info):
        if self.key not in info.env:
            raise InputError(f"schedule {self.name!r} is Zhao & Xu's step for the deep linear model "
                             f"(--model deep-linear)")
        return np.array(info.env[self.key], dtype=float)


@_register
class Cor3(Thm1):
    """Zhao & Xu's Corollary 3 step ``eta = 2 n_N/((alpha + beta) N)`` (``eta_* = 2/(alpha + beta)``)."""

    name = "cor3"
    reference = "Zhao & Xu (TMLR 2024), Corollary 3"
    key = "eta_cor3"


@_register
class AdGD(Schedule):
    """Adaptive GD of Malitsky & Mishchenko (2020), "Adaptive gradient descent without descent".

    ``lam_t = min(sqrt(1 + theta_{t-1}) lam_{t-1}, ||x_t - x_{t-1}|| / (2 ||g_t - g_{t-1}||))``,
    ``theta_t = lam_t / lam_{t-1}``, ``theta_0 = inf``; the first step is ``lam0``.
    ``x`` = the parameters in which the step is plain GD ``x - eta g`` (two-layer: (W1, W2), whose
    Frobenius norms the width reduction preserves; deep linear: the W_j of eq. 7, not the V_j of eq. 9),
    any number of arrays, and ``g`` the gradient in the same coordinates.
    """

    name = "adgd"
    reference = "Malitsky & Mishchenko 2020, Algorithm 1"
    needs_params = True
    options = ("lam0",)
    lam0 = 1e-6

    def validate(self):
        _check_positive(self, "lam0")

    def start(self, R):
        self.prev = None

    def __call__(self, info):
        R = info.grad_sq.shape[0]
        if self.prev is None:
            lam = np.full(R, float(self.lam0))
            self.theta = np.full(R, np.inf)
        else:
            px, pg, plam = self.prev
            dx = np.sqrt(sum(np.sum((a - b) ** 2, axis=(-2, -1)) for a, b in zip(info.params, px)))
            dg = np.sqrt(sum(np.sum((a - b) ** 2, axis=(-2, -1)) for a, b in zip(info.grads, pg)))
            with np.errstate(divide="ignore", invalid="ignore"):
                local = np.where(dg > 0, dx / (2 * dg), np.inf)
                grow = np.sqrt(1 + self.theta) * plam
            lam = np.minimum(grow, local)
            lam = np.where(np.isfinite(lam), lam, plam)
            self.theta = lam / plam
        self.prev = (tuple(p.copy() for p in info.params), tuple(g.copy() for g in info.grads), lam)
        return lam
