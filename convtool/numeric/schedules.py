"""Step-size schedules for the GD engine, selectable by name from :data:`SCHEDULES`.

A schedule is called once per step with a :class:`StepInfo` (the iterate's
primitives, the per-seed constants, and a ``trial(eta)`` that evaluates the loss
after a trial step) and returns the step sizes, one per seed. Every per-step
root comes from a registered defining equation (``eta_hat``, ``eta_local``)
or, for ``xu2023``, from Xu et al.'s published cubic, solved on a proven bracket by
:func:`convtool.numeric.roots.convex_poly_root`.

============== ============================================================ ===========================
name           rule                                                         reference
============== ============================================================ ===========================
constant       eta_t = eta0 (default eta0 = eta_max)                         Theorem 3.2
adaptive       max(eta0, min((1 + eta0^d)^(t/2) eta0, eta_hat_t))            eq. (19) with rho
adaptive-bar   max(eta0, min((1 + eta0^d)^(t/2) eta0, 1/Kbar_t))             eq. (19) with rhobar
local          argmin_eta rho(eta, t), K_t's eta-dependence included         beyond the paper
xu2023         argmin_eta of Xu et al.'s degree-4 bound, current weights     Xu et al. 2023, code 3bc68f7
backtracking   eta_bt tau^j, first j with Armijo L(new) <= L - gamma eta |g|^2 Algorithm 1, typo reading 5
adgd           min(sqrt(1 + theta) lam_prev, |dx| / (2 |dg|))                Malitsky & Mishchenko 2020
thm1           n_N / (beta N) (deep linear; eta_* = 1/beta)                 Zhao & Xu, Theorem 1
cor3           2 n_N / ((alpha + beta) N) (deep linear)                     Zhao & Xu, Corollary 3
thm31          eta_thm31 = 1/beta(W(0)) (linear ResNet)                     Zou, Long & Gu, Theorem 3.1
thm36          eta_thm36 at Theorem 3.6's eta/T fixed point (ResNet SGD)    Zou, Long & Gu, Theorem 3.6
thm38          eta_thm38 at T = --steps, needs L* = 0 (ResNet SGD)          Zou, Long & Gu, Theorem 3.8
duhulee        sqrt(eps/r) / (100 (t+1) ||M*||_F^(3/2)); --delta: footnote 11 Du, Hu & Lee, Theorem 3.1
rank1          c_step / sigma_1 (rank-1 matrix factorization)               Du, Hu & Lee, Theorem 3.2
============== ============================================================ ===========================

Examples
--------
>>> sorted(SCHEDULES)
['adaptive', 'adaptive-bar', 'adgd', 'backtracking', 'constant', 'cor3', 'duhulee', 'local', 'rank1', 'thm1', 'thm31', 'thm36', 'thm38', 'xu2023']
>>> make_schedule("backtracking", tau=0.5).tau
0.5
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from convtool.analysis.evaluate import compiled
from convtool.errors import InputError
from convtool.numeric.roots import convex_poly_root, positive_root

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
    """Xu et al. (2023)'s time-varying step, as the authors' code computes it.

    Source: github.com/simonxu97/aistats2023_overparametrization, first commit
    ``3bc68f72cf3d5025fbb966510cb23f86570059e8`` (the self-consistent one; its head does not run):
    ``utils.py`` ``find_lr(..., version='rho_hat')`` (lines 110-119, 166-178) with ``alpha``, ``beta``,
    ``p1``, ``p2``, ``c``, ``a1``-``a4`` (lines 25-84), called at the current weights after every step by
    ``main.py`` ``train_over`` (lines 71, 80, 118). In convtool's notation (``Y ~ X W1 W2^T``; the code's
    ``u = W1``, ``v = W2^T``), with ``s_X``, ``S_X`` the least and largest singular values of X,
    ``kappa = (S_X/s_X)^2``, ``e = Y - X W(t)``, ``l = ||e||_F^2 / 2`` (the loss itself, not the excess),
    ``D = W1^T W1 - W2^T W2`` with eigenvalues ``lam_1 >= lam_2 >= ...``, ``lam'_k`` those of ``-D``,
    ``[x]+ = max(x, 0)``, ``r = rank(X)``, ``m`` outputs::

        p1 = [s_min(Y) - ||e||_F]+ / S_X,            p2 = (||Y||_F + ||e||_F) / s_X
        beta  = (l1 + sqrt(l1^2 + 4 p2^2))/2 + (l2 + sqrt(l2^2 + 4 p2^2))/2,  l1 = [lam_1]+, l2 = [lam'_1]+
        d1 = [lam_1]+ - [lam_r]+,  d2 = [lam'_1]+ - [lam'_m]+,  d3 = [lam_r]+ + [lam'_m]+
        alpha = (-d1 + sqrt((d1 + d3)^2 + 4 p1^2) - d2 + sqrt((d2 + d3)^2 + 4 p1^2)) / 2
        a1 = 2 alpha s_X^2,   a2 = sqrt(8) p2 sqrt(l) S_X s_X^2 + kappa beta^2 s_X^4
        a3 = sqrt(8) beta p2 sqrt(l) S_X^3 s_X^2,   a4 = 2 kappa^2 p2^2 l s_X^6
        eta_t = the positive root of  4 a4 eta^3 + 3 a3 eta^2 + 2 a2 eta - a1 = 0,

    the minimizer over eta > 0 of the bound ``1 - a1 eta + a2 eta^2 + a3 eta^3 + a4 eta^4`` on
    ``L(t+1)/L(t)`` (``utils.target``): eq. (50) of the local-PL paper's Lemma C.1 with sigma_min^2(T_t),
    sigma_max^2(T_t), sigma_max(W(t)), ||grad l|| replaced by Xu et al.'s data bounds alpha, beta, p2,
    sqrt(2 l) S_X, and no eq. (48) constraint.

    Where the code and the local-PL paper differ (this class follows the code, the published rule):

    * The paper (Section 4.2) gives the scheme hyperparameters ``c1 = 0.5, c2 = 1.5`` "as in their
      simulations" (its Appendix C: ``0 < c1 < 1 < c2``, lower and upper factors on alpha, beta). The code
      names them the other way round (``main.py`` line 52-53: ``c1 = 1.5`` on beta, ``c2 = 0.5`` on alpha)
      and uses them only in the constant step ``find_lr(..., 'f')`` and its bound; the time-varying step
      passes 1.0 for both (``utils.py`` lines 116-119). So ``c1``, ``c2`` (paper naming, defaults 0.5,
      1.5, checked ``0 < c1 < 1 < c2``) are recorded with the run but do not change eta_t.
    * The code keeps the *last* real root of ``np.roots`` (line 166-170); the cubic has exactly one
      positive root (Descartes), which is taken here; the two agree whenever the other roots are complex.
    * ``r = rank(X)`` as in the code (``numpy.linalg.matrix_rank``); where D has fewer than r or m
      eigenvalues (h < r or h < m; the code would fail) the missing ones count as 0. The width reduction
      keeps D's nonzero eigenvalues, so reduced and full-width runs give the same step.
    * The rule is for the squared loss ``l(W) = ||Y - X W||_F^2 / 2`` (``squared``, ``factorization``);
      other losses are refused. The schedule reads X and Y through :meth:`bind`, which the engine calls
      with the run's losses.
    """

    name = "xu2023"
    reference = "Xu et al. (2023), code 3bc68f7 utils.find_lr('rho_hat')"
    options = ("c1", "c2")
    c1 = 0.5
    c2 = 1.5
    needs_params = True

    def validate(self):
        for n in ("c1", "c2"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
                    or not np.isfinite(v):
                raise InputError(f"schedule xu2023: {n} must be a finite number, got {v!r}")
        if not 0 < self.c1 < 1:
            raise InputError(f"schedule xu2023: c1 must lie in (0, 1) (Xu et al.'s lower factor), got {self.c1!r}")
        if not self.c2 > 1:
            raise InputError(f"schedule xu2023: c2 must be > 1 (Xu et al.'s upper factor), got {self.c2!r}")
        self._data = None

    def bind(self, losses) -> None:
        """Take X, Y of each seed's squared loss (a list, one per seed, or one loss for all)."""
        losses = list(losses) if isinstance(losses, (list, tuple)) else [losses]
        for L in losses:
            if getattr(L, "X", None) is None or getattr(L, "Y", None) is None:
                raise InputError(f"schedule xu2023 is Xu et al.'s rule for the squared loss 1/2 ||Y - X W||_F^2; "
                                 f"loss {getattr(L, 'name', type(L).__name__)!r} has no X, Y")
        X = np.stack([np.asarray(L.X, dtype=float) for L in losses])
        Y = np.stack([np.asarray(L.Y, dtype=float) for L in losses])
        sX = np.linalg.svd(X, compute_uv=False)
        sY = np.linalg.svd(Y, compute_uv=False)
        self._data = {"X": X, "Y": Y, "sX_min": sX[:, -1], "sX_max": sX[:, 0], "sY_min": sY[:, -1],
                      "Y_fro": np.sqrt(np.sum(Y * Y, axis=(-2, -1))),
                      "r": np.array([np.linalg.matrix_rank(x) for x in X])}

    @staticmethod
    def coefficients(data: dict, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """``(a1, a2, a3, a4)`` of ``utils.target`` (first commit) at weights (A, B) (R, n, k), (R, m, k)."""
        X, Y = data["X"], data["Y"]
        R, n, k = A.shape
        m = B.shape[-2]
        e = Y - X @ (A @ np.swapaxes(B, -1, -2))
        l = 0.5 * np.sum(e * e, axis=(-2, -1))
        ef = np.sqrt(2 * l)
        s, S = data["sX_min"], data["sX_max"]
        kappa = (S / s) ** 2
        p1 = np.maximum(data["sY_min"] - ef, 0.0) / S
        p2 = (data["Y_fro"] + ef) / s
        D = np.swapaxes(A, -1, -2) @ A - np.swapaxes(B, -1, -2) @ B
        ev = np.linalg.eigvalsh(D)[:, ::-1]                                  # lam_1 >= lam_2 >= ...
        q = max(int(data["r"].max()), m, 1)
        pos = np.zeros((R, max(q, k)))
        neg = np.zeros((R, max(q, k)))
        pos[:, :k] = np.maximum(ev, 0.0)                                     # [lam_j]+
        neg[:, :k] = np.maximum(-ev[:, ::-1], 0.0)                           # [lam'_j]+ of -D
        lr = pos[np.arange(R), data["r"] - 1]
        lm = neg[:, m - 1]
        l1, l2 = pos[:, 0], neg[:, 0]
        beta = (l1 + np.sqrt(l1 ** 2 + 4 * p2 ** 2)) / 2 + (l2 + np.sqrt(l2 ** 2 + 4 * p2 ** 2)) / 2
        d1, d2, d3 = l1 - lr, l2 - lm, lr + lm
        alpha = (-d1 + np.sqrt((d1 + d3) ** 2 + 4 * p1 ** 2) - d2 + np.sqrt((d2 + d3) ** 2 + 4 * p1 ** 2)) / 2
        rl = np.sqrt(l)
        a1 = 2 * alpha * s ** 2
        a2 = np.sqrt(8) * p2 * rl * S * s ** 2 + kappa * beta ** 2 * s ** 4
        a3 = np.sqrt(8) * beta * p2 * rl * S ** 3 * s ** 2
        a4 = 2 * kappa ** 2 * p2 ** 2 * l * s ** 6
        return np.stack([a1, a2, a3, a4], axis=-1)

    def __call__(self, info):
        if self._data is None:
            raise InputError("schedule xu2023 needs the squared loss's X and Y; the engine binds them "
                             "(Xu2023.bind(losses)) before the first step")
        if len(info.params) != 2:
            raise InputError("schedule xu2023 is Xu et al.'s rule for the two-layer linear model")
        A, B = info.params
        a = self.coefficients(self._data, A, B)
        coeffs = np.stack([4 * a[:, 3], 3 * a[:, 2], 2 * a[:, 1], -a[:, 0]], axis=-1)
        return convex_poly_root(coeffs).root


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
class Thm31(Schedule):
    """Zou, Long & Gu's Theorem 3.1 step ``eta_thm31 = 1/(2 L lambda_A lambda_B ||X|| (sqrt(2 e L0) + e/2 lambda_A
    lambda_B ||X||))`` (the Lemma-A.2-consistent form, registry ``zou-long-gu:eta_thm31``), constant; linear
    ResNet only (the ``zou-long-gu`` theory puts it into the step context)."""

    name = "thm31"
    reference = "Zou, Long & Gu (ICLR 2020), Theorem 3.1"
    key = "eta_thm31"

    def __call__(self, info):
        v = info.env.get(self.key)
        if v is None:
            raise InputError(f"schedule {self.name!r} is Zou, Long & Gu's step for the linear ResNet (--model resnet)")
        v = np.array(v, dtype=float)
        if not np.isfinite(v).all():
            raise InputError(f"schedule {self.name!r}: {self.key} is not applicable for this instance "
                             f"(see convtool constants --model resnet)")
        return v


@_register
class Thm36(Thm31):
    """Zou, Long & Gu's Theorem 3.6 SGD step ``eta_thm36`` at the eta/T fixed point (``zou-long-gu:T_thm36``)."""

    name = "thm36"
    reference = "Zou, Long & Gu (ICLR 2020), Theorem 3.6"
    key = "eta_thm36"


@_register
class Thm38(Thm31):
    """Zou, Long & Gu's Theorem 3.8 SGD step ``eta_thm38`` with T = the run's steps; needs L(W*) = 0."""

    name = "thm38"
    reference = "Zou, Long & Gu (ICLR 2020), Theorem 3.8"
    key = "eta_thm38"


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


@_register
class DuHuLee(Schedule):
    """Du, Hu & Lee's Theorem 3.1 step ``eta_t = c_eta (t+1)^-(1/2 + delta)`` for matrix factorization.

    Without ``delta`` (i.e. delta = 1/2): ``c_eta = sqrt(eps/r) / (100 ||M*||_F^(3/2))`` exactly as printed
    (registry ``du-hu-lee:c_eta_thm31``). With ``delta`` in (0, 1/2] the footnote-11 family with the derived
    admissible ``c_eta`` (``du-hu-lee:c_eta_delta``, labelled derived; it needs ||D_0||_F < eps). The
    balancedness theory (:class:`~convtool.numeric.theories.balanced.Balanced`) computes c_eta from M*,
    r = the factor width and the init, and puts it in ``env["dhl_c_eta"]``.

    Warning
    -------
    The printed step makes ``tau_T = sum eta_t`` grow like ``c_eta ln T``: in practice almost no progress
    (notes Sec. 4.3); the run records tau_T.
    """

    name = "duhulee"
    reference = "Du, Hu & Lee (NeurIPS 2018), Theorem 3.1, footnote 11"
    options = ("eps", "delta")
    eps = None
    delta = None

    def validate(self):
        if self.eps is None:
            raise InputError("schedule duhulee needs eps (--eps: Theorem 3.1's accuracy, 0 < eps < ||M*||_F)")
        _check_positive(self, "eps")
        if self.delta is not None and not (np.isfinite(self.delta) and 0 < self.delta <= 0.5):
            raise InputError(f"schedule duhulee: delta must lie in (0, 1/2] (footnote 11), got {self.delta!r}")

    def __call__(self, info):
        if "dhl_c_eta" not in info.env:
            raise InputError("schedule duhulee is Du, Hu & Lee's step for the two-layer model with --loss "
                             "factorization")
        p = 0.5 + (0.5 if self.delta is None else float(self.delta))
        return np.asarray(info.env["dhl_c_eta"], dtype=float) * (info.t + 1.0) ** (-p)


@_register
class Rank1(Schedule):
    """Du, Hu & Lee's Theorem 3.2 constant step ``eta = c_step / sigma_1`` (rank-1 factorization, width 1).

    The balancedness theory refuses it (one line) when rank(M*) > 1 or the width h > 1, and puts
    ``eta`` (registry ``du-hu-lee:eta_rank1``) in ``env["dhl_eta_rank1"]``."""

    name = "rank1"
    reference = "Du, Hu & Lee (NeurIPS 2018), Theorem 3.2"
    options = ("c_step",)
    c_step = 0.1

    def validate(self):
        _check_positive(self, "c_step")

    def __call__(self, info):
        if "dhl_eta_rank1" not in info.env:
            raise InputError("schedule rank1 is Du, Hu & Lee's step for the two-layer model with --loss "
                             "factorization, a rank-1 target and width 1")
        return np.asarray(info.env["dhl_eta_rank1"], dtype=float)
