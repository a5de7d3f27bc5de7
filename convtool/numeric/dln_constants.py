"""Every constant of Zhao & Xu's deep-linear-network paper for one instance (``convtool constants --model deep-linear``).

Paper: "Convergence Analysis and Trajectory Comparison of Gradient Descent for Overparameterized Deep
Linear Networks", Hongru Zhao and Jinchao Xu, TMLR (07/2024), OpenReview jG7ndW7UHp. The formulas live
once in the registry (:mod:`convtool.analysis.zhao_xu`, paper key ``"zhao-xu"``); this module measures
the primitives (spectra of the row-sample X from its SVD, the minimizer, the initial gap, the region
parameters of eq. (14), P(0)'s spectrum) with :mod:`convtool.numeric.deep_linear`, evaluates the
registry, and replaces every value outside its paper's range by :class:`~convtool.results.NotApplicable`
with the condition in words.

Samples are rows (``X`` M x d, ``Y`` M x k, prediction ``X (a_N W_{N:1})^T``); the paper's columns are
``X.T``. ``loss_scale="sum"`` is Appendix G's ``1/2 ||.||_F^2``; ``"mean"`` is Example 1's
``(1/M) ||.||_F^2`` (curvature scale s = 2/M).

Examples
--------
>>> import numpy as np
>>> from convtool.numeric.deep_linear import init_layers
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.normal(size=(40, 4)), rng.normal(size=(40, 2))
>>> res = compute_deep_linear_constants(X, Y, [W[0] for W in init_layers((4, 30, 30, 2), "orthogonal", seed=1)])
>>> res.quantities["eta"] == res.quantities["eta_thm1"], res.quantities["N_distinct"]
(True, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from convtool.errors import InputError
from convtool.numeric.constants import Check
from convtool.results import NotApplicable, jsonable

__all__ = ["compute_deep_linear_constants", "DeepLinearConstants", "deep_linear_primitives", "LOSS_SCALES",
           "PAPER", "SHOWN"]

PAPER = "zhao-xu"
LOSS_SCALES = ("sum", "mean")

#: quantities ``constants --model deep-linear`` reports, in order (the per-step ones, which need tau or t,
#: belong to ``run``)
SHOWN = ("N", "n_0", "n_N", "n_min", "n_max", "N_distinct", "Delta_1", "C0", "rank_X", "lambda_max", "lambda_min_pos",
         "loss_scale", "alpha", "beta", "kappa", "lstar", "E0", "dist0_X_sq", "Wstar_X_sq", "B_delta", "B0",
         "delta", "c", "C", "theta", "eps", "eta",
         "eta_thm1", "eta_cor3", "eta1", "eta0_c", "eta_star", "eta_over_eta1", "eta_ratio", "eps_thm4", "q",
         "rate_cvx_3", "rate_cvx_4", "rate_thm1", "rate_thm4_printed", "rate_thm4_proof", "eps_thm1_printed",
         "eps_thm1_proof", "c1", "c2", "c1_hat", "c2_hat", "M_hat", "c_min_region", "p_lo", "p_hi",
         "p_lo_bound_43", "p_hi_bound_43", "rho_first_order", "pl_dln",
         "width_C1", "width_C2", "width_C3", "width_C4", "width_C5", "width_C6",
         "width_thm1_gaussian", "width_thm1_orthogonal", "width_thm2_balanced", "width_thm4", "width_thm5",
         "width_thm5_equal", "width_thm6", "Delta1_max_thm4",
         "eta_L3", "rho_L3", "rho_L3_printed", "eps1", "xi", "tau_formula", "drift_radius_R",
         "C_claim2", "C_claim3", "width_claim2", "width_claim3", "width_lemma3_derived")

#: quantities that need eta < eta0_c (eq. 22; Theorems 4-6)
_NEEDS_ETA0 = ("width_C4", "width_C5", "width_C6", "width_thm4", "width_thm5", "width_thm5_equal", "width_thm6",
               "rate_thm4_printed", "rate_thm4_proof", "eps_thm4")
#: quantities that need eta < eta1 (eta_* < 2/beta; Theorem 2, eq. 10)
_NEEDS_ETA1 = ("q", "rho_first_order")
#: the Theorem-1 eps read off the Theorem-4/5 rates at eta = eta_thm1 needs c < ln(2)/2
_NEEDS_SMALL_C = ("eps_thm1_printed", "eps_thm1_proof")
#: line 5 of (14) needs a pair 1 < i <= j < N: depth >= 3
_NEEDS_DEPTH3 = ("M_hat",)
#: the Lemma 3 chain needs 0 < eps < 1
_NEEDS_EPS = ("eta_L3", "rho_L3", "rho_L3_printed", "drift_radius_R", "width_claim2", "width_claim3",
              "width_lemma3_derived", "rate_thm1")


@dataclass
class DeepLinearConstants:
    """Result of :func:`compute_deep_linear_constants`: values (float or NotApplicable), checks, provenance."""

    widths: tuple
    init: str
    quantities: dict
    checks: list
    spectrum_method: str
    derived: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def not_applicable(self) -> dict:
        return {k: v.reason for k, v in self.quantities.items() if isinstance(v, NotApplicable)}

    def __repr__(self) -> str:
        from convtool.frames import short_repr

        q = self.quantities
        keys = [k for k in ("kappa", "eta_thm1", "q", "rate_thm1") if k in q]
        return short_repr("DeepLinearConstants", {"widths": list(self.widths), "init": self.init,
                                                  **{k: q[k] for k in keys}},
                          f"{len(q)} quantities; to_dict(), to_frame()")

    def _repr_html_(self) -> str:
        from convtool.frames import quantities_html

        return quantities_html(f"Zhao & Xu constants: widths {list(self.widths)}, init {self.init}", self)

    def to_frame(self):
        """The quantities as a pandas DataFrame (NaN where not applicable, the reason in not_applicable)."""
        from convtool.frames import constants_frame

        return constants_frame(self)

    def to_dict(self) -> dict:
        out = {"model": "deep-linear", "paper": PAPER, "widths": list(self.widths), "init": self.init}
        out.update({k: (None if isinstance(v, NotApplicable) else v) for k, v in self.quantities.items()})
        out["not_applicable"] = self.not_applicable
        out["derived"] = list(self.derived)
        out["checks"] = [c.to_dict() for c in self.checks]
        out["p_spectrum_method"] = self.spectrum_method
        out["warnings"] = list(self.warnings)
        return jsonable(out)


def _svd_data(X: np.ndarray):
    from convtool.numeric.deep_linear import projector_basis

    U_X, r = projector_basis(X)
    s = np.linalg.svd(X, compute_uv=False)
    return U_X, int(r), float(s[0] ** 2), float(s[r - 1] ** 2)


def deep_linear_primitives(X, Y, layers, *, loss_scale: str = "sum", theta: float = 0.5,
                           dense_max: int = 500) -> tuple[dict, str]:
    """The registry's measured primitives (plain zhao-xu names) at the initialization, and P(0)'s method.

    ``layers`` are the unscaled W_j, W_j of shape (n_j, n_{j-1}); X (M x d) and Y (M x k) samples as rows.
    Spectra of X come from its SVD (relative error eps cond(X), not eps cond(X)^2).
    """
    from convtool.numeric.deep_linear import DeepLinear, P_spectrum, region_params

    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if loss_scale not in LOSS_SCALES:
        raise InputError(f"loss scale must be one of {', '.join(LOSS_SCALES)}, got {loss_scale!r}")
    model = DeepLinear([np.asarray(W, dtype=np.float64) for W in layers])
    widths = tuple(int(w) for w in model.widths)
    M, d = X.shape
    if widths[0] != d or widths[-1] != Y.shape[1]:
        raise InputError(f"the layers map R^{widths[0]} to R^{widths[-1]} but X has d = {d} columns and "
                         f"Y has k = {Y.shape[1]}")
    s = 1.0 if loss_scale == "sum" else 2.0 / M
    U_X, r, lmax, lmin = _svd_data(X)
    Wstar, *_ = np.linalg.lstsq(X, Y, rcond=None)  # minimum norm: lies on the row space of X (Lemma 7)
    res = X @ Wstar - Y
    state = model.init_state()
    W0 = model.product(state)[0]
    E = X @ (W0 - Wstar)
    hidden = widths[1:-1]
    c1_hat, c2_hat, M_hat = region_params(state, U_X, theta=theta)
    p_lo, p_hi, method = P_spectrum(state, U_X, dense_max=dense_max)
    prim = {
        "N": float(len(widths) - 1), "n_0": float(widths[0]), "n_N": float(widths[-1]),
        "n_min": float(min(hidden)), "n_max": float(max(hidden)), "N_distinct": float(len(set(hidden))),
        "Delta_1": float(sum(1.0 / n for n in hidden)), "rank_X": float(r), "lambda_max": lmax,
        "lambda_min_pos": lmin, "loss_scale": s, "lstar": s * 0.5 * float(np.sum(res * res)),
        "E0": s * 0.5 * float(np.sum(E * E)), "dist0_X_sq": float(np.sum((U_X.T @ (W0 - Wstar)) ** 2)),
        "Wstar_X_sq": float(np.sum((U_X.T @ Wstar) ** 2)),
        "c1_hat": float(np.ravel(c1_hat)[0]), "c2_hat": float(np.ravel(c2_hat)[0]),
        "M_hat": None if M_hat is None else float(np.ravel(M_hat)[0]),
        "p_lo": float(np.ravel(p_lo)[0]), "p_hi": float(np.ravel(p_hi)[0]),
    }
    return prim, method


def compute_deep_linear_constants(X, Y, layers, *, loss_scale: str = "sum", delta: float = 0.1, c: float = 0.1,
                                  C: float = 1.0, eta: float | None = None, theta: float = 0.5,
                                  eps: float | None = None, init: str = "file") -> DeepLinearConstants:
    """Constants of Zhao & Xu at the initialization ``layers`` (sections 2-3 of the paper).

    Parameters
    ----------
    X, Y : ndarray (M, d), (M, k)
        Data, samples as rows.
    layers : list of ndarray
        W_1..W_N, W_j of shape (n_j, n_{j-1}); N >= 2.
    loss_scale : {"sum", "mean"}
        Appendix G's 1/2 ||.||^2 (default) or Example 1's (1/M) ||.||^2.
    delta, c, C, theta : float
        Failure probability (Lemma 2), the exponent of eta0(c) (eq. 22), the theorems' unspecified absolute
        constant (reported, default 1), the exponent of line 5 of (14).
    eta : float, optional
        The step the step-dependent constants use; default Theorem 1's n_N/(beta N).
    eps : float, optional
        Lemma 3 / Theorem 1's slack; default the eps the proof implies at Theorem 1's step,
        ``eps_thm1_proof(c)`` (derived; defined for c < ln(2)/2).
    init : str
        How the layers were made (gaussian, orthogonal, balanced, file): selects which width condition
        the checks hold the hidden width against.
    """
    from convtool.analysis import get
    from convtool.analysis.evaluate import evaluate

    for name, v, lo, hi in (("delta", delta, 0.0, 1.0), ("c", c, 0.0, math.inf), ("C", C, 0.0, math.inf),
                            ("theta", theta, -1e-300, math.inf)):
        if not (np.isfinite(v) and lo < v < hi):
            raise InputError(f"--{name} must lie in ({lo:g}, {hi:g}), got {v!r}")
    if eta is not None and not (np.isfinite(eta) and eta > 0):
        raise InputError(f"--eta must be a positive number, got {eta!r}")
    if eps is not None and not 0 < eps < 1:
        raise InputError(f"--eps must lie in (0, 1), got {eps!r}")
    prim, method = deep_linear_primitives(X, Y, layers, loss_scale=loss_scale, theta=theta)
    widths = tuple(int(prim[k]) for k in ("n_0",)) + tuple(int(np.shape(W)[-2]) for W in layers)
    if prim["lambda_min_pos"] <= 0:
        raise InputError("X = 0: no data direction, alpha and kappa are undefined")
    values = dict(prim, delta=float(delta), c=float(c), C=float(C), theta=float(theta))
    base = evaluate(dict(values, eta=1.0, eps=0.5), targets=["eta_thm1", "eta1", "eta0_c", "eps_thm1_proof"],
                    paper=PAPER)
    eta_v = float(base["eta_thm1"] if eta is None else eta)
    eps_v = float(eps) if eps is not None else float(base["eps_thm1_proof"])
    values.update(eta=eta_v, eps=eps_v)
    if values["M_hat"] is None:
        values["M_hat"] = 1.0  # only M_L3 = max(1, M_hat) reads it; reported as not applicable below
    vals = evaluate(values, targets=list(SHOWN), paper=PAPER)

    na: dict[str, str] = {}
    eta0_c, eta1 = float(base["eta0_c"]), float(base["eta1"])
    if not eta_v < eta0_c:
        for k in _NEEDS_ETA0:
            na[k] = (f"needs eta < eta0_c = 2 n_N/(e^(2c) N beta) = {eta0_c:.6g} (eq. 22, Theorems 4-6); "
                     f"here eta = {eta_v:.6g} (eta/eta0_c = {eta_v / eta0_c:.4g}; at Theorem 1's step this fails "
                     f"for c >= ln(2)/2)")
    if not eta_v < eta1:
        for k in _NEEDS_ETA1:
            na[k] = f"needs eta < eta1 = 2 n_N/(beta N) = {eta1:.6g} (eta_* < 2/beta, eq. 10); here eta = {eta_v:.6g}"
    if not c < math.log(2) / 2:
        for k in _NEEDS_SMALL_C:
            na[k] = f"needs c < ln(2)/2 = {math.log(2) / 2:.6g} (eta_thm1 < eta0_c); here c = {c:g}"
    if prim["M_hat"] is None:
        for k in _NEEDS_DEPTH3:
            na[k] = "depth N = 2: line 5 of (14) has no pair 1 < i <= j < N (vacuous); Lemma 3 takes M = 1"
    if not 0 < eps_v < 1:
        for k in _NEEDS_EPS:
            na[k] = f"needs 0 < eps < 1 (Lemma 3, Theorem 1); here eps = {eps_v:.6g} (the default eps_thm1_proof(c))"
    quantities: dict = {}
    derived = []
    for k in SHOWN:
        q = get(k, paper=PAPER)
        if getattr(q, "derived", False):
            derived.append(k)
        if k in na:
            quantities[k] = NotApplicable(na[k])
            continue
        v = vals.get(k)
        if v is None or not np.isfinite(float(v)):
            quantities[k] = NotApplicable(f"not finite at this instance ({q.description})")
        else:
            quantities[k] = float(v)
    checks = _checks(quantities, prim, init, eta_v, eta0_c, eta1)
    warn = []
    if not prim["n_min"] >= max(prim["n_0"], prim["n_N"]):
        warn.append(f"hidden width n_min = {prim['n_min']:g} is below max(n_0, n_N) = "
                    f"{max(prim['n_0'], prim['n_N']):g}: the theorems of Zhao & Xu assume the thinnest layer is "
                    f"the input or the output (Section 3)")
    return DeepLinearConstants(widths=widths, init=init, quantities=quantities, checks=checks,
                               spectrum_method=method, derived=derived, warnings=warn)


#: which width requirement each initialization is held to (Theorem 1 / 2)
_WIDTH_FOR_INIT = {"gaussian": "width_thm1_gaussian", "orthogonal": "width_thm1_orthogonal",
                   "balanced": "width_thm2_balanced"}


def _checks(q: dict, prim: dict, init: str, eta: float, eta0_c: float, eta1: float) -> list:
    n_min = prim["n_min"]
    out = [Check("n_min >= max(n_0, n_N)", n_min >= max(prim["n_0"], prim["n_N"]),
                 f"n_min = {n_min:g}, n_0 = {prim['n_0']:g}, n_N = {prim['n_N']:g}", reference="Section 3"),
           Check("eta < eta1", eta < eta1, f"eta = {eta:.6g}, eta1 = {eta1:.6g}", reference="Theorem 2"),
           Check("eta < eta0(c)", eta < eta0_c, f"eta = {eta:.6g}, eta0_c = {eta0_c:.6g}",
                 reference="eq. (22), Theorems 4-6", required=False)]
    key = _WIDTH_FOR_INIT.get(init)
    if key is not None and isinstance(q.get(key), float):
        need = q[key]
        out.append(Check(f"width for {init} init", n_min >= need,
                         f"n_min = {n_min:g} vs {key} = {need:.6g} (times the unspecified C = {q['C']:g})",
                         reference="Theorems 1, 2"))
    else:
        out.append(Check("width condition", False, "initialization read from a file: no init family, so no "
                         "theorem's width condition is selected (see the width_* rows)",
                         reference="Theorems 1, 2", required=False))
    return out
