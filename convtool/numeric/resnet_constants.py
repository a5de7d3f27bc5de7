"""Every constant of Zou, Long & Gu's linear-ResNet paper for one instance (``convtool constants --model resnet``).

Paper: "On the Global Convergence of Training Deep Linear ResNets", Difan Zou, Philip M. Long and Quanquan
Gu, ICLR 2020, arXiv:2003.01094. The formulas live once in the registry (:mod:`convtool.analysis.zou_long_gu`,
paper key ``"zou-long-gu"``); this module measures the primitives (spectra of X, A, B from SVDs, the
least-squares optimum, the initial loss and gap), evaluates the registry, solves Theorem 3.6's eta/T
coupling on a verified bracket, and replaces every value outside its theorem's range by
:class:`~convtool.results.NotApplicable` with the reason.

Pinned readings (issue 8): ``beta_smooth0`` is beta(W(0)) of Lemma A.2 written as a local smoothness
(quadratic coefficient beta/2); ``T_eps`` is the smallest t with ``(1 - rho)^t Delta0 <= eps``; one
``delta`` serves Proposition 3.3 and Theorems 3.6, 3.8; of the two roots of Theorem 3.6's fixed point the
one with T >= 1 is taken; Theorem 3.8's horizon T is the run's ``--steps``; ``thm38_*`` are not applicable
when L(W*) > 0; with m < d or m < k (mu_A or mu_B = 0) every constant that needs them is not applicable.

Examples
--------
>>> import numpy as np
>>> from convtool.numeric.resnet import make_transforms
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.normal(size=(50, 3)), rng.normal(size=(50, 2))
>>> A, B = make_transforms("modified-identity", d=3, k=2, m=5, alpha_mod=2.0)
>>> res = compute_resnet_constants(X, Y, A, B, depth=4)
>>> res.quantities["Gamma"], res.quantities["region"]
(2.0, 0.125)
>>> res.quantities["thm38_margin"].reason[:22]
'needs L(W*) = 0 (Theor'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from convtool.errors import InputError
from convtool.numeric.constants import Check
from convtool.results import NotApplicable, jsonable

__all__ = ["compute_resnet_constants", "ResNetConstants", "resnet_primitives", "SHOWN", "PAPER", "LSTAR_ZERO_RTOL",
           "solve_thm36"]

PAPER = "zou-long-gu"
#: L(W*) counts as 0 (Theorem 3.8) when L(W*) <= LSTAR_ZERO_RTOL ||Y||_F^2 (a residual at round-off)
LSTAR_ZERO_RTOL = 1e-24

#: (JSON key, registry name) of what ``constants --model resnet`` reports, in order
SHOWN = (("L", "L"), ("m", "m"), ("d", "d"), ("k", "k"), ("n", "n"), ("rank_X", "r"), ("X_norm", "X_norm"),
         ("sigma_r", "sigma_r"), ("kappa", "kappa"), ("X_fro", "X_fro"), ("X_2inf", "X_2inf"), ("Y_fro", "Y_fro"),
         ("lstar", "lstar"), ("L0", "L0"), ("Delta0", "Delta0"), ("lambda_A", "lambda_A"), ("mu_A", "mu_A"),
         ("lambda_B", "lambda_B"), ("mu_B", "mu_B"), ("Gamma", "Gamma"), ("C_thm31", "C_thm31"),
         ("thm31_rhs", "thm31_rhs"), ("thm31_margin", "thm31_margin"), ("eta_thm31", "eta_thm31"),
         ("eta_thm31_printed", "eta_thm31_printed"), ("rho_thm31", "rho_thm31"), ("eps", "epsilon"),
         ("T_eps", "T_eps"), ("R_GD", "R_GD"), ("region", "region"), ("beta_smooth0", "beta_smooth0"),
         ("pl_lower", "pl_lower"), ("pl_upper", "pl_upper"), ("remark32", "remark32"), ("delta", "delta"),
         ("m_prop33", "m_prop33"), ("m_cor34", "m_cor34"), ("cor34_const", "cor34_const"), ("batch", "b"),
         ("thm36_margin", "thm36_margin"), ("eta_thm36", "eta_thm36"), ("T_thm36", "T_thm36"),
         ("T_thm38", "T"), ("thm38_margin", "thm38_margin"), ("eta_thm38", "eta_thm38"),
         ("eta_thm38_printed", "eta_thm38_printed"), ("eta_thm38_tight", "eta_thm38_tight"),
         ("alpha_star", "alpha_star"), ("identity_fail_ratio", "identity_fail_ratio"))

#: registry names that need mu_A > 0 and mu_B > 0 (Lemma A.1's lower bound)
_NEEDS_MU = ("Gamma", "thm31_margin", "rho_thm31", "T_eps", "R_GD", "pl_lower", "thm36_margin", "eta_thm36",
             "T_thm36", "thm38_margin", "eta_thm38", "eta_thm38_printed", "eta_thm38_tight")
_THM36 = ("thm36_margin", "eta_thm36", "T_thm36")
_THM38 = ("thm38_margin", "eta_thm38", "eta_thm38_printed", "eta_thm38_tight")


@dataclass
class ResNetConstants:
    """Result of :func:`compute_resnet_constants`: values by JSON key (float or NotApplicable), checks."""

    quantities: dict
    checks: list
    values: dict
    derived: list = field(default_factory=list)
    transform: str = "file"
    skip: bool = True
    notes: list = field(default_factory=list)
    thm36_solve: dict = field(default_factory=dict)

    @property
    def not_applicable(self) -> dict:
        return {k: v.reason for k, v in self.quantities.items() if isinstance(v, NotApplicable)}

    def to_dict(self) -> dict:
        out = {"model": "resnet" if self.skip else "resnet --no-skip", "paper": PAPER, "transform": self.transform}
        out.update({k: (None if isinstance(v, NotApplicable) else v) for k, v in self.quantities.items()})
        out["not_applicable"] = self.not_applicable
        out["derived"] = list(self.derived)
        out["checks"] = [c.to_dict() for c in self.checks]
        out["thm36_solve"] = dict(self.thm36_solve)
        out["notes"] = list(self.notes)
        return jsonable(out)


def resnet_primitives(X, Y, A, B, W0=None, *, skip: bool = True) -> dict:
    """Measured primitives (registry names) at the initialization; ``Delta0`` from the explicit residual.

    X (n x d), Y (n x k) samples as rows; A (m x d), B (k x m); W0 (L, m, m) or None (zeros).
    """
    from convtool.numeric.losses import SquaredLoss
    from convtool.numeric.resnet import LinearResNet, transform_spectra

    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    n, d = X.shape
    k = Y.shape[1]
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if A.ndim != 2 or A.shape[1] != d:
        raise InputError(f"A must be (m, d) with d = {d} (X's columns), got shape {A.shape}")
    if B.ndim != 2 or B.shape[0] != k:
        raise InputError(f"B must be (k, m) with k = {k} (Y's columns), got shape {B.shape}")
    if B.shape[1] != A.shape[0]:
        raise InputError(f"A is {A.shape} and B is {B.shape}: A's rows and B's columns must both be the width m")
    s = np.linalg.svd(X, compute_uv=False)
    rk = int(np.sum(s > max(n, d) * np.finfo(float).eps * s[0])) if s.size and s[0] > 0 else 0
    if rk == 0:
        raise InputError("X = 0: no data direction, sigma_r(X) and every bound are undefined")
    loss = SquaredLoss(X, Y)
    model = LinearResNet(A, B, W0, depth=None if W0 is not None else 1, skip=skip)
    U0T = model.product(model.init_state())[0]
    res0 = X @ U0T - Y
    prim = {"n": float(n), "d": float(d), "k": float(k), "m": float(A.shape[0]), "L": float(model.L), "r": float(rk),
            "X_norm": float(s[0]), "sigma_r": float(s[rk - 1]), "X_fro": float(np.sqrt(np.sum(s ** 2))),
            "X_2inf": float(np.sqrt(np.max(np.sum(X * X, axis=1)))), "Y_fro": float(np.linalg.norm(Y)),
            "lstar": float(loss.lstar), "L0": 0.5 * float(np.sum(res0 * res0)),
            "Delta0": float(loss.excess(U0T))}
    prim.update(transform_spectra(A, B))
    return prim


def solve_thm36(values: dict) -> tuple[float | None, dict]:
    """Theorem 3.6's horizon: the root T >= 1 of ``T - T_of_eta36(eta_thm36(T)) = 0`` (registry ``T_thm36``).

    ``g(T) = T - T_req(T)`` with T_req increasing like log(T/delta): g(1) < 0 is checked, then the upper end
    grows by factors of 10 until g > 0 (a verified sign change), and brentq solves. Returns ``(T, info)``;
    T is None when g(1) >= 0 (no root with T >= 1) or no sign change below 1e300, with the reason in info.
    """
    from scipy.optimize import brentq

    from convtool.analysis.evaluate import residual

    f, args = residual("T_thm36", paper=PAPER)
    vals = [np.float64(values[a]) for a in args]  # numpy floats: 1/0 is inf (L* = 0), not an exception

    def g(T):
        with np.errstate(all="ignore"):
            return float(f(np.float64(T), *vals))

    lo, glo = 1.0, g(1.0)
    info = {"method": "brentq", "bracket": None, "f_bracket": None}
    if not np.isfinite(glo):
        info["flag"] = f"g(1) = {glo!r} is not finite"
        return None, info
    if glo >= 0:
        info["flag"] = f"no root with T >= 1: g(1) = {glo:.6g} >= 0 (the coupled horizon is below one step)"
        return None, info
    hi = 10.0
    ghi = g(hi)
    while not ghi > 0 and hi < 1e300:
        lo, glo = hi, ghi
        hi *= 10.0
        ghi = g(hi)
    if not ghi > 0:
        info["flag"] = f"no sign change of g on [1, 1e300] (g(1e300) = {ghi!r})"
        return None, info
    root, rr = brentq(g, lo, hi, xtol=1e-12, rtol=4 * np.finfo(float).eps, full_output=True, maxiter=500)
    info.update(bracket=[lo, hi], f_bracket=[glo, ghi], iterations=int(rr.iterations), converged=bool(rr.converged),
                residual=g(root), flag="converged" if rr.converged else rr.flag)
    return (float(root) if rr.converged else None), info


def compute_resnet_constants(X, Y, A, B, W0=None, *, depth: int | None = None, skip: bool = True,
                             eps: float | None = None, delta: float = 0.1, batch: int | None = None,
                             steps: int = 1000, transform: str = "file") -> ResNetConstants:
    """Constants of Zou, Long & Gu at the initialization (Theorems 3.1, 3.6, 3.8, Lemmas A.1, A.2, Prop. 3.3,
    Cor. 3.4, Section 4).

    Parameters
    ----------
    X, Y : ndarray (n, d), (n, k)
        Data, samples as rows (the paper's columns).
    A, B : ndarray (m, d), (k, m)
        Fixed input and output transforms.
    W0 : ndarray (L, m, m), optional
        Initial hidden weights (default zeros, Algorithm 1); with W0 != 0 Theorem 3.1 does not apply.
    depth : int
        L when W0 is not given.
    skip : bool
        False: the standard deep linear network baseline (the theorems are for the ResNet only).
    eps : float, optional
        Target accuracy (T_eps, Theorem 3.6); default 1e-6 Delta0 (relative), or 1e-12 when Delta0 = 0.
    delta : float
        Failure probability of Proposition 3.3 and Theorems 3.6, 3.8, in (0, 1).
    batch : int, optional
        Minibatch size b of Theorems 3.6, 3.8 (default n).
    steps : int
        Theorem 3.8's horizon T (the run's --steps).
    transform : str
        How A, B were made (reported).
    """
    from convtool.analysis import get
    from convtool.analysis.evaluate import evaluate

    if W0 is None and depth is None:
        raise InputError("give the depth L (or initial hidden weights W)")
    if W0 is None:
        W0 = np.zeros((int(depth), np.shape(A)[0], np.shape(A)[0]))
        zero_init = True
    else:
        W0 = np.asarray(W0, dtype=np.float64)
        zero_init = not np.any(W0)
    if not (np.isfinite(delta) and 0 < delta < 1):
        raise InputError(f"--delta must lie in (0, 1), got {delta!r}")
    if int(steps) != steps or steps < 1:
        raise InputError(f"--steps must be a positive integer (Theorem 3.8's horizon T), got {steps!r}")
    prim = resnet_primitives(X, Y, A, B, W0, skip=skip)
    n = int(prim["n"])
    b = n if batch is None else batch
    if int(b) != b or not 1 <= b <= n:
        raise InputError(f"--batch must be an integer in 1..n = {n}, got {batch!r}")
    D0 = prim["Delta0"]
    if eps is None:
        eps_v = 1e-6 * D0 if D0 > 0 else 1e-12
    else:
        eps_v = float(eps)
        if not (np.isfinite(eps_v) and eps_v > 0):
            raise InputError(f"--eps must be a positive number, got {eps!r}")
    values = dict(prim, epsilon=eps_v, delta=float(delta), b=float(b), T=float(steps))
    targets = [name for _, name in SHOWN if name not in ("T_thm36",)]
    vals = evaluate(values, targets=targets, paper=PAPER)
    na: dict[str, str] = {}
    m, d, k = int(prim["m"]), int(prim["d"]), int(prim["k"])
    mu_ok = prim["mu_A"] > 0 and prim["mu_B"] > 0
    if not mu_ok:
        why = []
        if prim["mu_A"] <= 0:
            why.append(f"sigma_min(A) = 0 (m = {m} < d = {d})" if m < d else "sigma_min(A) = 0 (A rank deficient)")
        if prim["mu_B"] <= 0:
            why.append(f"sigma_min(B) = 0 (m = {m} < k = {k})" if m < k else "sigma_min(B) = 0 (B rank deficient)")
        reason = (f"needs mu_A, mu_B > 0: {'; '.join(why)}; Lemma A.1's PL bound is then vacuous, so Theorems 3.1, "
                  f"3.6 and 3.8 do not apply")
        for name in _NEEDS_MU:
            na[name] = reason
    lstar_zero = prim["lstar"] <= LSTAR_ZERO_RTOL * prim["Y_fro"] ** 2
    if not lstar_zero:
        for name in _THM38:
            na.setdefault(name, f"needs L(W*) = 0 (Theorem 3.8, interpolation); here L(W*) = {prim['lstar']:.6g}")
    if D0 <= 0:
        na.setdefault("thm31_margin", "Delta0 = 0: W(0) is already optimal (Theorem 3.1's condition holds trivially)")
    if not delta <= 1 / 6:
        for name in _THM36:
            na.setdefault(name, f"needs delta <= 1/6 (Theorem 3.6); here delta = {delta:g}")
    if not eps_v < D0:
        for name in _THM36:
            na.setdefault(name, f"needs eps < Delta0 (otherwise W(0) is already eps-optimal, proof of Theorem 3.6); "
                                f"here eps = {eps_v:.6g}, Delta0 = {D0:.6g}")
    if not math.log(3 * n / delta) >= 1:
        na.setdefault("m_cor34", f"needs log(3n/delta) >= 1 (Proposition 3.3's loss bound); here {math.log(3*n/delta):.4g}")
    if not skip:
        reason = "the theorems are for the ResNet (skip connections, zero init); --no-skip is Section 5.2's baseline"
        for name in ("thm31_margin", "eta_thm31", "eta_thm31_printed", "rho_thm31", "T_eps", "R_GD", *_THM36, *_THM38):
            na[name] = reason
    solve_info: dict = {}
    if not any(n_ in na for n_ in _THM36):
        T36, solve_info = solve_thm36(vals)
        if T36 is None:
            na["T_thm36"] = na["eta_thm36"] = f"Theorem 3.6's eta/T fixed point: {solve_info.get('flag')}"
        else:
            vals["T_thm36"] = T36
            vals["eta_thm36"] = float(evaluate(dict(vals, T=T36), targets=["eta_thm36"], paper=PAPER)["eta_thm36"])
    quantities: dict = {}
    derived = []
    for key, name in SHOWN:
        q = get(name, paper=PAPER)
        if q.derived:
            derived.append(key)
        if name in na:
            quantities[key] = NotApplicable(na[name])
            continue
        v = vals.get(name)
        if v is None:
            quantities[key] = NotApplicable("not computed")
        elif not np.isfinite(float(v)):
            quantities[key] = NotApplicable(f"not finite at this instance ({q.description})")
        else:
            quantities[key] = float(v)
    checks = [Check("m >= max(d, k)", m >= max(d, k), f"m = {m}, d = {d}, k = {k}", reference="Section 1, Lemma A.1"),
              Check("zero initialization", zero_init, "W(0) = 0" if zero_init else "W(0) != 0 (from the data file)",
                    reference="Algorithm 1, Theorems 3.1-3.8"),
              Check("skip connections", skip, "ResNet" if skip else "--no-skip baseline", reference="Section 2")]
    mg = quantities["thm31_margin"]
    checks.append(Check("Theorem 3.1 condition", isinstance(mg, float) and mg >= 1,
                        f"thm31_margin = {mg!r}" if isinstance(mg, float) else str(mg), reference="Theorem 3.1"))
    m36 = quantities["thm36_margin"]
    checks.append(Check("Theorem 3.6 condition", isinstance(m36, float) and m36 >= 1,
                        f"thm36_margin = {m36!r} at batch {b}" if isinstance(m36, float) else str(m36),
                        reference="Theorem 3.6", required=False))
    m38 = quantities["thm38_margin"]
    checks.append(Check("Theorem 3.8 condition", isinstance(m38, float) and m38 >= 1,
                        f"thm38_margin = {m38!r} at batch {b}" if isinstance(m38, float) else str(m38),
                        reference="Theorem 3.8", required=False))
    notes = [f"T_thm38 is the run's horizon --steps = {steps} (Theorem 3.8's T)",
             f"batch b = {b}" + (" (default n)" if batch is None else ""),
             "eta_thm31 is the Lemma-A.2-consistent step (schedule thm31); eta_thm31_printed the proof's sqrt(e L0) "
             "form, sufficient too (reading 7)"]
    if eps is None:
        notes.append(f"eps defaults to 1e-6 Delta0 = {eps_v:.6g}")
    return ResNetConstants(quantities=quantities, checks=checks, values=vals, derived=derived, transform=transform,
                           skip=skip, notes=notes, thm36_solve=solve_info)
