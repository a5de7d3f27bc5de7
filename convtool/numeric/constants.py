"""Every constant of the local-PL paper for one instance: :func:`compute_constants`.

The numeric layer measures the primitives (spectra through the width reduction
of :mod:`convtool.numeric.spectra`, L(0), W*), the symbolic layer evaluates every
formula (:func:`convtool.analysis.evaluate.evaluate`), and the bracketed solvers
of :mod:`convtool.numeric.roots` solve eqs. (87) and (88). Nothing of size h x h
is formed; the cost is O(h (n + m)^2).

Examples
--------
>>> import numpy as np
>>> from convtool.numeric.losses import SquaredLoss
>>> rng = np.random.default_rng(0)
>>> X = np.linalg.qr(rng.normal(size=(4, 4)))[0]
>>> W1, W2 = rng.normal(size=(4, 40)), rng.normal(size=(3, 40))
>>> Y = X @ W1 @ W2.T + 0.1 * rng.normal(size=(4, 3))
>>> res = compute_constants(SquaredLoss(X, Y), W1, W2)
>>> bool(res.alpha1 <= res.sigma_min_T0_sq <= res.sigma_max_T0_sq <= res.alpha2)  # Lemma E.3
True
>>> res.eta0 == res.eta_max
True
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from convtool.analysis.registry import get
from convtool.errors import ConvtoolWarning, InputError
from convtool.numeric.losses import Loss
from convtool.numeric.roots import (RootResult, _ask, _drive, _solve_eta0_1_gen, _solve_eta0_2_gen, _solve_eta0_3_gen,
                                    ask_evaluate, ask_value, mp_value)
from convtool.numeric.spectra import (extreme_sv_sq, imbalance_spectrum, lambda_k_rows, reduce_width,
                                      reduced_imbalance, singular_values_sq)
from convtool.results import NotApplicable, jsonable

__all__ = ["ConstantsResult", "Check", "compute_constants", "measure_primitives", "measure_primitives_batch", "FIELDS",
           "GROUPS"]

#: result field -> registered quantity it reports (fields named after t = 0 values of
#: per-iterate quantities map to those quantities)
FIELDS = {
    "mu": "mu", "K": "K", "kappa": "kappa", "lstar": "lstar", "L0": "L0",
    "lambda_plus": "lambda_plus", "lambda_minus": "lambda_minus", "Delta_low": "Delta_low",
    "Delta_plus": "Delta_plus", "Delta_minus": "Delta_minus",
    "beta1": "beta1", "beta2": "beta2", "sigma_min_Wstar": "sigma_min_Wstar", "sigma_max_Wstar": "sigma_max_Wstar",
    "alpha1": "alpha1", "alpha2": "alpha2", "sigma_min_T0_sq": "sigma_min_T_sq", "sigma_max_T0_sq": "sigma_max_T_sq",
    "alpha_ratio": "alpha_ratio",
    "eta0_1": "eta0_1", "eta0_2": "eta0_2", "eta0_3": "eta0_3", "eta_max": "eta_max",
    "eta0": "eta0", "mubar": "mubar", "Kbar0": "Kbar0", "rhobar0": "rhobar0", "Delta": "Delta",
    "mu_0": "mu_t", "K_0": "K_t", "rho_0": "rho",
    "local_rate": "local_rate", "local_rate_limit": "local_rate_limit", "rate_nonoverparam": "rate_nonoverparam",
    "drift_total_bound": "drift_total_bound",
}

#: display groups of ``convtool constants`` (issue 2)
GROUPS = {
    "data": ["mu", "K", "kappa", "lstar", "L0"],
    "imbalance": ["lambda_plus", "lambda_minus", "Delta_low", "Delta_plus", "Delta_minus"],
    "margin": ["beta1", "beta2", "sigma_min_Wstar", "sigma_max_Wstar"],
    "operator": ["alpha1", "alpha2", "sigma_min_T0_sq", "sigma_max_T0_sq", "alpha_ratio"],
    "step sizes": ["eta0_1", "eta0_2", "eta0_3", "eta_max"],
    "theory at eta0": ["eta0", "mubar", "Kbar0", "rhobar0", "Delta", "mu_0", "K_0", "rho_0", "drift_total_bound",
                       "local_rate", "local_rate_limit", "rate_nonoverparam"],
}

_NEEDS_MU = {"kappa", "beta1", "beta2", "alpha1", "alpha2", "alpha_ratio", "eta0_1", "eta0_2", "eta0_3",
             "eta_max", "mubar", "Kbar0", "rhobar0", "Delta", "local_rate", "local_rate_limit",
             "rate_nonoverparam", "drift_total_bound", "eta0"}


#: relative slack (of alpha2) for checking Lemma E.3 on computed values
LEMMA_E3_RTOL = 1e-9

#: L(0)'s relative rounding band above which a warning says which results it limits
L0_PRECISION_WARN = 1e-6

#: results that take L(0) as an input (directly or through eq. 87/88), named in that warning
L0_DEPENDENTS = ("eta0^(1) (eq. 87)", "eta0^(2) (eq. 88)", "eta_max", "Kbar0", "rhobar0", "Delta",
                 "drift_total_bound", "K_0", "rho_0")


@dataclass
class Check:
    """One applicability check: name, whether it holds, and why.

    ``required`` checks are hypotheses of Theorem 3.2; the others are informative
    (``h >= n + m`` is Lemma 3.1's sufficient condition for alpha1 > 0, not a hypothesis).
    ``reference``, when given, is the result the check guards (used by the deep-linear constants).
    """

    name: str
    ok: bool
    detail: str
    required: bool = True
    reference: str = ""

    def to_dict(self) -> dict:
        out = {"name": self.name, "ok": self.ok, "detail": self.detail, "required": self.required}
        if self.reference:  # the deep-linear constants cite their theorem per check
            out["reference"] = self.reference
        return out


@dataclass
class ConstantsResult:
    """All constants of the local-PL paper for one instance (issue 2).

    Every field in :data:`FIELDS` holds a float (``inf`` for an infinite
    eta0^(2)) or a :class:`~convtool.results.NotApplicable` with its reason.
    ``values`` has every evaluated registry quantity (primitives included), which
    ``convtool explain`` shows along the dependency tree.
    """

    N: int | None
    n: int
    m: int
    h: int
    rank: int
    loss: str
    c: float
    d: float
    quantities: dict
    roots: dict
    checks: list
    values: dict
    eta0_source: str
    warnings: list = field(default_factory=list)
    #: L(0)'s first-order rounding band from the float product W1 W2^T and its relative size
    #: (``L0_band``, ``L0_rel_precision``; see :func:`l0_precision`)
    precision: dict = field(default_factory=dict)

    def __getattr__(self, name):
        q = self.__dict__.get("quantities")
        if q is not None and name in q:
            return q[name]
        raise AttributeError(name)

    @property
    def not_applicable(self) -> dict:
        return {k: v.reason for k, v in self.quantities.items() if isinstance(v, NotApplicable)}

    @property
    def theorem_applies(self) -> bool:
        """Whether Theorem 3.2 applies at the chosen eta0 (all required checks hold)."""
        return all(ch.ok for ch in self.checks if ch.required)

    def reference(self, fieldname: str) -> str:
        return get(FIELDS[fieldname]).reference

    def __repr__(self) -> str:
        from convtool.frames import short_repr

        q = self.quantities
        return short_repr("ConstantsResult", {"loss": self.loss, "n": self.n, "m": self.m, "h": self.h,
                                              **{k: q.get(k) for k in ("eta_max", "rhobar0", "alpha1", "alpha2")}},
                          f"{len(q)} quantities; to_dict(), to_frame()")

    def _repr_html_(self) -> str:
        from convtool.frames import quantities_html

        return quantities_html(f"local-PL constants: {self.loss} loss, n={self.n} m={self.m} h={self.h}", self)

    def to_frame(self):
        """The quantities as a pandas DataFrame: value (NaN where not applicable), not_applicable (the reason),
        reference (needs the ``frame`` extra)."""
        from convtool.frames import constants_frame

        return constants_frame(self)

    def to_dict(self) -> dict:
        out = {"N": self.N, "n": self.n, "m": self.m, "h": self.h, "rank": self.rank, "loss": self.loss,
               "c": self.c, "d": self.d, "eta0_source": self.eta0_source}
        out.update(self.quantities)
        out.update(self.precision)
        out["not_applicable"] = self.not_applicable
        out["checks"] = [ch.to_dict() for ch in self.checks]
        out = jsonable(out)
        # a RootResult's to_dict is plain already (jsonable's output, which jsonable returns as it is): not walked
        # a second time (issue 13: 100 seeds' constants at a run's end); the keys in the same order
        out["roots"] = {k: r.to_dict() for k, r in self.roots.items()}
        out["warnings"] = jsonable(list(self.warnings))
        return out


def measure_primitives(loss: Loss, W1: np.ndarray, W2: np.ndarray, reduction=None) -> dict:
    """Primitive values at the initialization (spectra, norms, L(0)) from small matrices only."""
    W1 = np.asarray(W1, dtype=np.float64)
    W2 = np.asarray(W2, dtype=np.float64)
    n, m = W1.shape[0], W2.shape[0]
    red = reduction if reduction is not None else reduce_width(W1, W2)
    spec = imbalance_spectrum(W1, W2, red)
    S1, S2 = red.S1, red.S2
    W0 = S1 @ S2.T
    s1_min_sq, s1_max_sq = extreme_sv_sq(S1)
    s2_min_sq, s2_max_sq = extreme_sv_sq(S2)
    sw = singular_values_sq(loss.Wstar)
    sW = singular_values_sq(W0)
    G = loss.grad(W0)
    return {
        "mu": float(loss.mu), "K": float(loss.K), "lstar": float(loss.lstar),
        "L0": float(loss.excess(W0)),
        "sigma_min_Wstar": float(np.sqrt(sw[min(n, m) - 1])), "sigma_max_Wstar": float(np.sqrt(sw[0])),
        "dist0": float(np.linalg.norm(W0 - loss.Wstar)),
        "lambda_max_D0": spec.lambda_k(1), "lambda_max_negD0": spec.lambda_k(1, negate=True),
        "lambda_n_D0": spec.lambda_k(n), "lambda_m_negD0": spec.lambda_k(m, negate=True),
        "s1_min_sq": float(s1_min_sq), "s1_max_sq": float(s1_max_sq),
        "s2_min_sq": float(s2_min_sq), "s2_max_sq": float(s2_max_sq),
        "sigma_max_W": float(np.sqrt(sW[0])), "W_fro": float(np.linalg.norm(W0)),
        "grad_l_norm": float(np.linalg.norm(G)),
        "_rank": red.rank,
    }


def _fro(x: np.ndarray) -> float:
    """``float(np.linalg.norm(x))`` of a real array, the same float (numpy's Frobenius norm is the square root of
    the raveled array's ``dot`` with itself), without its dispatch (a batch takes three per seed)."""
    v = x.ravel(order="K")
    return math.sqrt(v.dot(v))


def measure_primitives_batch(losses, W1: np.ndarray, W2: np.ndarray, reductions) -> list[dict] | None:
    """:func:`measure_primitives` of every seed of a batch, the spectra in one LAPACK call per kind (issue 13).

    ``W1`` (R, n, h), ``W2`` (R, m, h), one loss and one width reduction per seed. The imbalance, the
    factors' Grams and the products ``W0`` are stacked, so each of the five decompositions is one batched
    ``eigvalsh`` (numpy's stacked routines run the same LAPACK routine on each matrix: the values are those
    of the per-seed calls, bit for bit); the losses' own quantities (``L(0)``, the gradient) stay per seed.
    Returns None where the seeds cannot be stacked (reduced ranks or data shapes differ): the caller then
    measures seed by seed.
    """
    R = len(reductions)
    ranks = {red.rank for red in reductions}
    if R < 2 or len(ranks) != 1 or ranks == {0} or len({np.shape(ls.Wstar) for ls in losses}) != 1:
        return None
    n, m = reductions[0].S1.shape[0], reductions[0].S2.shape[0]
    S1 = np.stack([red.S1 for red in reductions])
    S2 = np.stack([red.S2 for red in reductions])
    ev = np.linalg.eigvalsh(reduced_imbalance(S1, S2))[..., ::-1]
    s1_min_sq, s1_max_sq = extreme_sv_sq(S1)
    s2_min_sq, s2_max_sq = extreme_sv_sq(S2)
    sw = singular_values_sq(np.stack([np.asarray(ls.Wstar) for ls in losses]))
    W0 = S1 @ np.swapaxes(S2, -1, -2)
    sW = singular_values_sq(W0)
    h = reductions[0].h  # one width for the whole stack (W1 is (R, n, h))
    lam = list(zip(lambda_k_rows(ev, h, 1), lambda_k_rows(ev, h, 1, negate=True), lambda_k_rows(ev, h, n),
                   lambda_k_rows(ev, h, m, negate=True)))
    out = []
    for r, (loss, red) in enumerate(zip(losses, reductions)):
        w0 = W0[r]
        G = loss.grad(w0)
        lams = lam[r]
        out.append({
            "mu": float(loss.mu), "K": float(loss.K), "lstar": float(loss.lstar),
            "L0": float(loss.excess(w0)),
            "sigma_min_Wstar": float(np.sqrt(sw[r, min(n, m) - 1])), "sigma_max_Wstar": float(np.sqrt(sw[r, 0])),
            "dist0": _fro(w0 - loss.Wstar),
            "lambda_max_D0": lams[0], "lambda_max_negD0": lams[1], "lambda_n_D0": lams[2], "lambda_m_negD0": lams[3],
            "s1_min_sq": float(s1_min_sq[r]), "s1_max_sq": float(s1_max_sq[r]),
            "s2_min_sq": float(s2_min_sq[r]), "s2_max_sq": float(s2_max_sq[r]),
            "sigma_max_W": float(np.sqrt(sW[r, 0])), "W_fro": _fro(w0),
            "grad_l_norm": _fro(G),
            "_rank": red.rank,
        })
    return out


def compute_constants(loss: Loss, W1: np.ndarray, W2: np.ndarray, *, c: float = 0.5, d: float = 2.0,
                      eta0: float | None = None, reduction=None, primitives: dict | None = None) -> ConstantsResult:
    """Compute every constant of Table 2, Theorems 3.1, 3.2/E.1 for ``l(W1 W2^T)``.

    Parameters
    ----------
    loss : Loss
        The loss of Problem 1 (:mod:`convtool.numeric.losses`).
    W1, W2 : ndarray, shapes (n, h) and (m, h)
        Initial weights; not modified.
    c, d : float
        Exponents of Theorem E.1, ``0 < c < 1``, ``d > 1`` (Theorem 3.2: 1/2 and 2).
    eta0 : float, optional
        Initial step size; default ``eta_max``. Above ``eta_max`` a
        :class:`~convtool.errors.ConvtoolWarning` is issued and the check fails.
    reduction : WidthReduction, optional
        A precomputed :func:`~convtool.numeric.spectra.reduce_width` of (W1, W2), to
        share the one QR with a GD run.
    primitives : dict, optional
        :func:`measure_primitives` of these weights, already measured (a batched run measures all seeds
        at once with :func:`measure_primitives_batch`); not modified.

    Returns
    -------
    ConstantsResult

    Raises
    ------
    InputError
        Shapes that do not match the loss, c or d out of range, eta0 <= 0.
    """
    return _drive(_compute_constants_gen(loss, W1, W2, c=c, d=d, eta0=eta0, reduction=reduction,
                                         primitives=primitives, stacklevel=4))


def _compute_constants_gen(loss: Loss, W1: np.ndarray, W2: np.ndarray, *, c: float = 0.5, d: float = 2.0,
                           eta0: float | None = None, reduction=None, primitives: dict | None = None,
                           stacklevel: int = 2):
    """:func:`compute_constants` as a generator of queries (root-side signs, :class:`~convtool.numeric.roots.
    SignQuery`; certified values, ``ValueQuery``; evaluations, ``EvalQuery``), so a batch of seeds can be
    answered together (:func:`~convtool.numeric.roots.drive_batch`) with the answers one seed gets alone;
    ``stacklevel`` makes the warnings point at the caller of the driver."""
    W1 = np.asarray(W1)
    W2 = np.asarray(W2)
    if W1.ndim != 2 or W2.ndim != 2 or W1.shape[0] != loss.n or W2.shape[0] != loss.m or W1.shape[1] != W2.shape[1]:
        raise InputError(f"weights must be W1 (n={loss.n} x h) and W2 (m={loss.m} x h), "
                         f"got {W1.shape} and {W2.shape}")
    if not 0 < c < 1:
        raise InputError(f"c must lie in (0, 1), got {c!r}")
    if not d > 1:
        raise InputError(f"d must be > 1, got {d!r}")
    if eta0 is not None and not (np.isfinite(eta0) and eta0 > 0):
        raise InputError(f"eta0 must be a positive number, got {eta0!r}")
    n, m, h = loss.n, loss.m, W1.shape[1]
    prim = measure_primitives(loss, W1, W2, reduction) if primitives is None else dict(primitives)
    rank = prim.pop("_rank")
    prim.update(c=float(c), d=float(d), t=0.0)
    na: dict[str, NotApplicable] = {}
    roots: dict[str, RootResult] = {}
    warn_list: list[str] = []
    mu = prim["mu"]

    if not mu > 0:
        reason = "mu = 0: l is not strongly convex (rank-deficient X or sensing operator)"
        for k in _NEEDS_MU:
            na[k] = NotApplicable(reason)
        if eta0 is not None:  # the user's step is used as given; only Theorem 3.2 is out of reach
            del na["eta0"]
        vals = yield from ask_evaluate(prim, targets=["sigma_min_T_sq", "sigma_max_T_sq", "lambda_plus",
                                                      "lambda_minus", "Delta_low", "Delta_plus", "Delta_minus"])
        vals["eta0"] = None if eta0 is None else float(eta0)
        eta0_source = "user" if eta0 is not None else "none"
    else:
        vals = yield from ask_evaluate(prim, targets=["alpha1", "alpha2", "alpha_ratio", "eta0_3", "kappa",
                                                      "rate_nonoverparam", "local_rate_limit", "sigma_min_T_sq",
                                                      "sigma_max_T_sq"])
        # the closed form amplifies rounding by 1/c: take the float where mubar >= 0 is verified (issue 14)
        vals["eta0_3"], eta0_3_above, _ = yield from _solve_eta0_3_gen(vals)
        roots["eta0_1"] = yield from _solve_eta0_1_gen(vals)
        alpha1 = vals["alpha1"]
        if not alpha1 > 0:
            reason = "alpha1 = 0: no imbalance (Delta_low = 0) and no margin (beta1 = 0); Theorem 3.2 needs alpha1 > 0"
            na["eta0_2"] = NotApplicable(reason)
            roots["eta0_2"] = RootResult("eta0_2", np.nan, False, -5, "scan+brentq", message=reason)
            eta_max = NotApplicable(reason)
        else:
            roots["eta0_2"] = yield from _solve_eta0_2_gen(vals, eta0_3_above=eta0_3_above)
            for k in ("eta0_1", "eta0_2"):
                r = roots[k]
                if r.converged:
                    vals[k] = r.root
                else:
                    na[k] = NotApplicable(r.message)
            if "eta0_1" in na or "eta0_2" in na:
                bad = "eta0_1" if "eta0_1" in na else "eta0_2"
                eta_max = NotApplicable(f"{bad} is not available: {na[bad].reason}")
            else:
                eta_max = (yield from ask_evaluate(vals, targets=["eta_max"]))["eta_max"]
                vals["eta_max"] = eta_max
        if "eta0_1" not in na and roots["eta0_1"].converged:
            vals["eta0_1"] = roots["eta0_1"].root
        if isinstance(eta_max, NotApplicable):
            na["eta_max"] = eta_max
        if eta0 is None:
            if isinstance(eta_max, NotApplicable):
                na["eta0"] = NotApplicable(f"no default eta0: eta_max is {eta_max}")
                eta0_source = "none"
            else:
                eta0 = float(eta_max)
                eta0_source = "eta_max"
        else:
            eta0_source = "user"
            if not isinstance(eta_max, NotApplicable) and eta0 > eta_max:
                msg = f"eta0 = {eta0:.6g} is above eta_max = {eta_max:.6g}: Theorem 3.2 does not cover it"
                warnings.warn(msg, ConvtoolWarning, stacklevel=stacklevel)
                warn_list.append(msg)
        if eta0 is not None:
            vals["eta0"] = float(eta0)
            vals["eta"] = float(eta0)
            vals["L_t"] = prim["L0"]
            if mu > 0 and vals.get("alpha1", 0) > 0:
                # mubar cancels near eta0^(3): the float nearest its exact value at the float inputs (its sign
                # right), from a long double enclosure where that decides, else 50 digits (roots.certified_value)
                vals["mubar"] = yield from ask_value("mubar", eta0, vals)
            vals = yield from ask_evaluate(vals)
            if mu > 0 and vals.get("alpha1", 0) > 0:
                db = yield from _drift_total_bound_gen(vals, roots.get("eta0_2"))
                if isinstance(db, NotApplicable):
                    na["drift_total_bound"] = db
                    vals.pop("drift_total_bound", None)
                else:
                    vals["drift_total_bound"] = db
    quantities = {}
    for fname, qname in FIELDS.items():
        if fname in na:
            quantities[fname] = na[fname]
        elif vals.get(qname) is not None:  # an infinite eta0_2 (status 1) is kept as inf
            quantities[fname] = float(vals[qname])
        else:
            quantities[fname] = NotApplicable(_missing_reason(fname, na))
    checks = _checks(quantities, n, m, h, mu, eta0_source, vals)
    precision = l0_precision(prim["K"], prim["L0"], float(np.linalg.norm(W1)), float(np.linalg.norm(W2)))
    if precision["L0_rel_precision"] > L0_PRECISION_WARN:
        msg = (f"L(0) = {prim['L0']:.6g} is known only to +-{precision['L0_band']:.2g} (relative "
               f"{precision['L0_rel_precision']:.2g}): the float product W1 W2^T carries a rounding error "
               f"64 eps ||W1||_F ||W2||_F near the optimum; {', '.join(L0_DEPENDENTS)} inherit it")
        warnings.warn(msg, ConvtoolWarning, stacklevel=stacklevel)
        warn_list.append(msg)
    return ConstantsResult(N=loss.N, n=n, m=m, h=h, rank=rank, loss=loss.name, c=float(c), d=float(d),
                           quantities=quantities, roots=roots, checks=checks, values=vals,
                           eta0_source=eta0_source, warnings=warn_list, precision=precision)


def l0_precision(K: float, L0: float, W1_fro: float, W2_fro: float) -> dict:
    """Attainable precision of L(0) = l(W1 W2^T) - l*: the first-order rounding band of the product.

    The computed product carries an error ``delta = 64 eps ||W1||_F ||W2||_F``, which moves
    the excess loss by up to ``band = sqrt(2 K L0) delta + K delta^2 / 2`` (README, "Losses near
    the float floor"); ``L0_rel_precision = band / L0`` (inf when L0 = 0).

    >>> p = l0_precision(1.0, 1.0, 1.0, 1.0)
    >>> p["L0_rel_precision"] < 1e-13
    True
    """
    delta = 64 * np.finfo(np.float64).eps * W1_fro * W2_fro
    band = float(np.sqrt(2 * K * max(L0, 0.0)) * delta + K * delta ** 2 / 2)
    rel = band / L0 if L0 > 0 else (0.0 if band == 0 else float("inf"))
    return {"L0_band": band, "L0_rel_precision": float(rel)}


def _drift_total_bound_gen(vals: dict, root88: RootResult | None):
    """Eq. (103)'s bound on ||D(t) - D(0)||_F at eta0, never from a cancelled ``1 - Delta``.

    At eta0 = eta0^(2) (the root of eq. 88 on its verified side, F(eta0) >= 0) the bound is
    at most ``alpha2 (exp(eta0^c) - 1) / 2`` (eq. 110), with equality at the exact root: that
    closed form is used. Elsewhere the sign of ``1 - Delta`` (expanded so its 1's cancel) is certified
    (:class:`~convtool.numeric.roots.SignQuery`: an enclosure, else 50-digit mpmath, on the float inputs);
    ``1 - Delta <= 0`` (eta0 outside the theorem's range) makes the bound not applicable, otherwise the
    registered ``drift_total_bound`` in the same expanded form is the float nearest its exact value
    (:func:`~convtool.numeric.roots.certified_value`; until issue 13 it was the quotient of a hand-written
    50-digit numerator and ``1 - Delta``, the same float but for a 50-digit rounding tie).
    """
    eta0 = vals["eta0"]
    if root88 is not None and root88.converged and root88.root == eta0:
        return float(vals["drift_total_bound_eq110"])
    if not (yield from _ask("one_minus_Delta", eta0, vals, near_root=False)) > 0:
        one_minus_Delta = mp_value("one_minus_Delta", eta0, vals)
        return NotApplicable(f"Delta = 1 - ({float(one_minus_Delta):.3g}) >= 1 at eta0 = {eta0:.6g}: eq. 103's "
                             "geometric sum does not converge (the proof needs Delta < 1, which holds up to eta_max)")
    return (yield from ask_value("drift_total_bound", eta0, vals))


def _missing_reason(fname: str, na: dict) -> str:
    if "eta0" in na:
        return f"needs eta0, which is {na['eta0']}"
    if na:
        first = next(iter(na.values()))
        return first.reason
    return "not computed"


def _checks(q: dict, n: int, m: int, h: int, mu: float, eta0_source: str, vals: dict) -> list[Check]:
    out = [Check("strong convexity", mu > 0,
                 f"mu = {mu:.6g} > 0" if mu > 0 else "mu = 0: l is not strongly convex; margin, alpha and step "
                                                    "sizes are not applicable")]
    a1 = q["alpha1"]
    if isinstance(a1, NotApplicable):
        out.append(Check("alpha1 > 0", False, str(a1)))
    else:
        out.append(Check("alpha1 > 0", a1 > 0, f"alpha1 = {a1:.6g}" + ("" if a1 > 0 else
                         ": Theorem 3.2 does not apply (no imbalance and no margin)")))
    out.append(Check("h >= n + m", h >= n + m,
                     f"h = {h}, n + m = {n + m}: " + ("alpha1 > 0 almost surely for continuous i.i.d. init "
                                                      "(Lemma 3.1)" if h >= n + m else
                                                      "Lemma 3.1 does not guarantee alpha1 > 0"), required=False))
    a1, a2, smin, smax = (q[k] for k in ("alpha1", "alpha2", "sigma_min_T0_sq", "sigma_max_T0_sq"))
    if not any(isinstance(v, NotApplicable) for v in (a1, a2)):
        slack = LEMMA_E3_RTOL * a2
        ok = a1 <= smin + slack and smin <= smax + slack and smax <= a2 + slack
        detail = (f"alpha1 = {a1:.6g} <= sigma_min^2(T0) = {smin:.6g} <= sigma_max^2(T0) = {smax:.6g} "
                  f"<= alpha2 = {a2:.6g}")
        if not ok:
            detail = ("fails on this data: " + detail.replace("<=", "vs") +
                      (" (the lower bound can fail when n != m; Theorem 3.2's proof uses it)" if n != m else ""))
        out.append(Check("Lemma E.3 at T0", ok, detail))
    em, e0 = q["eta_max"], q["eta0"]
    if isinstance(em, NotApplicable) or isinstance(e0, NotApplicable):
        out.append(Check("eta0 <= eta_max", False, str(em if isinstance(em, NotApplicable) else e0)))
    else:
        ok = e0 <= em * (1 + 1e-12)
        out.append(Check("eta0 <= eta_max", ok, f"eta0 = {e0:.6g} ({eta0_source}), eta_max = {em:.6g}"))
    return out
