"""Every constant of Song et al.'s Theorem 3 chain for one shallow instance (``convtool constants --model shallow``).

Paper: Song, Ramezani-Kebrya, Pethick, Eftekhari, Cevher, "Subquadratic Overparameterization for Shallow
Neural Networks", NeurIPS 2021 (arXiv:2111.01875). Formulas live once in the registry
(:mod:`convtool.analysis.song_et_al`, paper key ``"song-et-al"``); this module measures the primitives (data
geometry, the activation's numbers from :mod:`convtool.numeric.hermite`, the spectra at Theta0), evaluates the
registry and replaces every value outside its range by :class:`~convtool.results.NotApplicable` with the
reason. Assumption 2's data conditions (unit-norm samples, ||Y||_F <= 1) are checked and reported, not
enforced.

Keys (``to_dict``): ``sigma_max_X``, ``sigma_min_X1`` .. ``sigma_min_X4``, ``mu_Phi`` (and
``mu_Phi_zero_reason`` when d1 < n), ``nu_Phi``, ``chi_max`` (``chi_source``: ``--chi``, or the derived a
priori fixed point ``chi_apriori``), ``beta_Phi``, ``rho_Phi``, ``h0``, ``grad_f0_norm``,
``certificate_ratio``, ``certificate_gd`` (the derived 1/4608 threshold) and ``certificate_gd_holds``,
``certificate_gf`` (1/288), ``eta_13``, ``eta_a``, ``eta_a_simple``, ``eta_b``, ``eta_explicit``,
``rate_guaranteed`` (at eta_explicit), ``c0`` .. ``c6``, ``c_inf_sq``, ``phi_d1_max``, ``phi_d2_max``, ``r1``,
``r2``, ``omega1`` (with ``omega1_source``), ``omega2``, ``t``, ``c_t``, ``EM0_min``, ``EM0_max``, (58)'s bounds,
``xi_78``, ``width_79``, ``width_80``, ``xi_odd``, ``width_odd``, ``jac_sigma_min``, ``jac_sigma_max`` (Lemma
3's near-isometry, checked), and the ``checks``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from convtool.errors import InputError
from convtool.numeric.constants import Check
from convtool.results import NotApplicable, jsonable

__all__ = ["compute_shallow_constants", "ShallowConstants", "PAPER", "T_MAX", "check_shallow_data"]

PAPER = "song-et-al"
#: t is searched in 1 .. T_MAX (the Hermite coefficients c0 .. c6 are computed)
T_MAX = 6
_UNIT_TOL = 1e-8
#: the constants compute the Jacobian spectrum by default up to this n d2 (beyond: --jacobian)
JAC_DEFAULT_MAX = 1500


@dataclass
class ShallowConstants:
    """Result of :func:`compute_shallow_constants`: values (float or NotApplicable), checks, provenance."""

    shape: dict
    activation: dict
    quantities: dict
    checks: list
    notes: dict = field(default_factory=dict)
    hermite: dict = field(default_factory=dict)
    sups: dict = field(default_factory=dict)
    scaling: dict = field(default_factory=dict)

    @property
    def not_applicable(self) -> dict:
        return {k: v.reason for k, v in self.quantities.items() if isinstance(v, NotApplicable)}

    def to_dict(self) -> dict:
        out = {"model": "shallow", "paper": PAPER, **self.shape, "activation": self.activation}
        out.update({k: (None if isinstance(v, NotApplicable) else v) for k, v in self.quantities.items()})
        out["not_applicable"] = self.not_applicable
        out["notes"] = dict(self.notes)
        out["hermite"] = self.hermite
        out["sups"] = self.sups
        out["scaling_exponents"] = self.scaling
        out["checks"] = [c.to_dict() for c in self.checks]
        from convtool.analysis.registry import REGISTRIES

        out["derived"] = sorted(k for k in self.quantities if k in REGISTRIES[PAPER] and REGISTRIES[PAPER][k].derived)
        return jsonable(out)


def check_shallow_data(X, Y, W=None, V=None) -> None:
    """InputError (one line) on inconsistent shapes: X (n, d0), Y (n, d2), W (d1, d0), V (d2, d1)."""
    X, Y = np.asarray(X), np.asarray(Y)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise InputError(f"X (n x d0) and Y (n x d2) must have the same number of rows, got {X.shape}, {Y.shape}")
    if W is not None:
        W, V = np.asarray(W), np.asarray(V)
        if W.ndim != 2 or V.ndim != 2:
            raise InputError(f"W (d1 x d0) and V (d2 x d1) must be 2-D, got {W.shape}, {V.shape}")
        if W.shape[1] != X.shape[1]:
            raise InputError(f"W has {W.shape[1]} columns but X has d0 = {X.shape[1]} (W is d1 x d0)")
        if V.shape != (Y.shape[1], W.shape[0]):
            raise InputError(f"V must be d2 x d1 = {Y.shape[1]} x {W.shape[0]}, got {V.shape}")
        for k, a in (("W", W), ("V", V)):
            if not np.isfinite(a).all():
                raise InputError(f"array {k} has non-finite entries")


def compute_shallow_constants(X, Y, W, V, act, *, chi: float | None = None, t: int | None = None,
                              omega1: float | None = None, omega2: float | None = None, omega_source: str = "given",
                              deltas: dict | None = None, jacobian: bool | None = None,
                              exact: bool | None = None, gram: bool = True, symbolic: bool = True,
                              geometry: dict | None = None) -> ShallowConstants:
    """The constants of the module docstring at Theta0 = (W, V) for the activation ``act``
    (:class:`~convtool.analysis.activations.SymbolicActivation`).

    ``omega1``/``omega2``: the init's standard deviations; None (weights from a file): the RMS of W's / V's
    entries, said so in ``omega1_source``. ``chi``: chi_max (default: the derived a priori ``chi_apriori``).
    ``t``: Theorem 3's order (default: the smallest t >= 1 with sigma_min(X^{*t}) > 0 and c_t != 0).
    ``jacobian``: compute the Jacobian spectrum (default: when n d2 <= :data:`JAC_DEFAULT_MAX`); ``gram``: the
    exact E[M0]; ``symbolic``: let sympy look for critical points and exact Hermite integrals; ``geometry``: a
    dict that caches the data geometry (sigma_max(X), sigma_min(X^{*t})) between calls on the same X (seeds).
    """
    from convtool.analysis.evaluate import evaluate
    from convtool.analysis.song_et_al import DELTA_DEFAULTS
    from convtool.numeric.hermite import activation_constants
    from convtool.numeric.shallow import (expected_gram, hadamard_sigma_min, jacobian_spectrum,
                                          sigma_max)

    X, Y, W, V = (np.asarray(a, dtype=np.float64) for a in (X, Y, W, V))
    check_shallow_data(X, Y, W, V)
    n, d0 = X.shape
    d2, d1 = V.shape
    deltas = {**DELTA_DEFAULTS, **(deltas or {})}
    if not 0 < deltas["delta1"] < 1:
        raise InputError(f"delta1 must lie in (0, 1), got {deltas['delta1']!r}")
    q: dict = {}
    na = NotApplicable
    notes: dict = {}
    checks: list = []
    ac = activation_constants(act, T_MAX, exact, symbolic)
    herm, s1, s2, sc = ac["hermite"], ac["d1"], ac["d2"], ac["scaling"]
    cs = herm.values
    # --- activation
    q["phi_d1_max"] = s1.value if np.isfinite(s1.value) else na("sup |phi'| is infinite")
    if s2 is None:
        q["phi_d2_max"] = na(act.smooth_reason)
    else:
        q["phi_d2_max"] = s2.value if np.isfinite(s2.value) else na("sup |phi''| is infinite")
    for i in range(T_MAX + 1):
        q[f"c{i}"] = float(cs[i])
    q["c_inf_sq"] = herm.c_inf_sq
    q["r1"] = sc.r1 if sc.r1 is not None else na(sc.r1_reason)
    q["r2"] = sc.r2 if sc.r2 is not None else na(sc.r2_reason)
    q["hermite_norm"] = na("Def. 4's norm sqrt(sum c_i^2) " + herm.norm_reason) if herm.norm_diverges \
        else float(math.sqrt(sum(c * c for c in herm.tail)))
    # --- data geometry
    geo = geometry if geometry is not None else {}
    if "sX" not in geo:
        geo["sX"] = sigma_max(X)
        geo["smin"] = {k: hadamard_sigma_min(X, k) for k in range(1, 5)}
    sX = geo["sX"]
    q["sigma_max_X"] = sX
    smins = {}
    for k in range(1, 5):
        v, why = geo["smin"][k]
        smins[k] = v
        q[f"sigma_min_X{k}"] = v
        if why:
            notes[f"sigma_min_X{k}"] = why
    # --- t
    ctol = 1e-10 * max(abs(c) for c in cs)
    if t is None:
        cand = [k for k in range(1, T_MAX + 1) if abs(cs[k]) > ctol
                and (smins[k] if k <= 4 else hadamard_sigma_min(X, k)[0]) > 0]
        if cand:
            t_val = cand[0]
            notes["t"] = f"smallest t >= 1 with sigma_min(X^(*t)) > 0 and c_t != 0 (t <= {T_MAX})"
        else:
            t_val = None
            q["t"] = na(f"no t in 1..{T_MAX} with sigma_min(X^(*t)) > 0 and c_t != 0")
    else:
        t_val = int(t)
        if not 1 <= t_val <= T_MAX:
            raise InputError(f"--t must lie in 1..{T_MAX}, got {t}")
        notes["t"] = "given (--t)"
    smin_t = None
    if t_val is not None:
        q["t"] = float(t_val)
        q["c_t"] = float(cs[t_val])
        smin_t = smins[t_val] if t_val <= 4 else hadamard_sigma_min(X, t_val)[0]
        q["sigma_min_Xt"] = smin_t
    # --- init scales
    if omega1 is None:
        omega1 = float(np.sqrt(np.mean(W * W)))
        omega2 = float(np.sqrt(np.mean(V * V)))
        omega_source = "read from the weights: RMS of the entries of W (omega1) and V (omega2)"
    q["omega1"], q["omega2"] = float(omega1), float(omega2)
    notes["omega1_source"] = omega_source
    q["omega_product_19"] = float(omega1 * omega2 * math.sqrt(d0 * d1))
    # --- spectra at Theta0
    P = W @ X.T
    A0 = act.phi(P)
    sA = np.linalg.svd(A0, compute_uv=False)
    sA0 = float(sA[0])
    if d1 < n:
        mu = 0.0
        q["mu_Phi"] = 0.0
        q["mu_Phi_zero_reason"] = (f"d1 = {d1} < n = {n}: phi(W0 X) (d1 x n) has rank < n, so sigma_min = 0 "
                                   f"(Lemma 3's mu_Phi uses only the V-block; Theorem 3 is vacuous)")
    else:
        mu = float(sA[n - 1])
        q["mu_Phi"] = mu
    q["sigma_max_A0"] = sA0
    sV0 = sigma_max(V)
    q["sigma_max_V0"] = sV0
    R0 = A0.T @ V.T - Y
    h0 = float(np.sum(R0 * R0))
    q["h0"] = h0
    vals = {"sigma_max_X": sX, "sigma_max_V0": sV0, "sigma_max_A0": sA0, "mu_Phi": mu, "h0": h0,
            "alpha_f": 2.0, "beta_f": 2.0, "n": float(n), "d0": float(d0), "d1": float(d1),
            "omega1": float(omega1), "omega2": float(omega2), "c0": float(cs[0]), "c1": float(cs[1]),
            "c_inf_sq": herm.c_inf_sq, **{k: float(v) for k, v in deltas.items()}}
    if t_val is not None:
        vals.update(t=float(t_val), c_t=float(cs[t_val]), sigma_min_Xt=float(smin_t))
    d1max_ok = not isinstance(q["phi_d1_max"], NotApplicable)
    d2max_ok = not isinstance(q["phi_d2_max"], NotApplicable)
    if d1max_ok:
        vals["phi_d1_max"] = float(q["phi_d1_max"])
    if d2max_ok:
        vals["phi_d2_max"] = float(q["phi_d2_max"])
    base = evaluate(vals, ["nu_Phi", "grad_f0_norm", "chi_apriori"], paper=PAPER)
    q["nu_Phi"] = base["nu_Phi"] if "nu_Phi" in base else na("sup |phi'| is not finite")
    q["grad_f0_norm"] = base["grad_f0_norm"]
    if chi is not None:
        if not (np.isfinite(chi) and chi >= 0):
            raise InputError(f"--chi must be a finite number >= 0, got {chi!r}")
        q["chi_max"] = float(chi)
        notes["chi_source"] = "given (--chi)"
    elif "chi_apriori" in base and mu > 0:
        q["chi_max"] = float(base["chi_apriori"])
        notes["chi_source"] = ("derived a priori bound chi_apriori: the positive root of chi = sigma_max(V0) + "
                               "mu_Phi/(2 beta_Phi(chi)) (sigma_max(V) in the ball of Lemma 1)")
    elif d1max_ok and d2max_ok:
        q["chi_max"] = sV0
        notes["chi_source"] = "sigma_max(V0) (mu_Phi = 0: the ball of Lemma 1 is a point; pass --chi)"
    else:
        q["chi_max"] = na("needs sup |phi'|, sup |phi''| (phi twice differentiable)")
    if d2max_ok and d1max_ok and not isinstance(q["chi_max"], NotApplicable):
        vals["chi_max"] = float(q["chi_max"])
    names = ["beta_Phi", "rho_Phi", "certificate_ratio", "certificate_gd_threshold", "certificate_gf_threshold",
             "eta_13", "G_34", "eta_a", "eta_a_simple", "eta_b", "eta_explicit", "jac_lower", "jac_upper",
             "path_bound_gf"]
    ev = evaluate(vals, names, paper=PAPER)
    smooth_reason = act.smooth_reason or (None if d2max_ok else "sup |phi''| is not finite")
    for k in names:
        if k in ("certificate_gd_threshold", "certificate_gf_threshold"):
            continue
        if k not in ev:
            q[k] = na(smooth_reason or "needs chi_max")
        elif mu <= 0 and k in ("rho_Phi", "certificate_ratio", "eta_b", "eta_explicit", "jac_lower", "path_bound_gf"):
            q[k] = na(q.get("mu_Phi_zero_reason") or "mu_Phi = 0")
        else:
            q[k] = float(ev[k])
    q["certificate_gd"] = float(ev["certificate_gd_threshold"])
    q["certificate_gf"] = float(ev["certificate_gf_threshold"])
    cr = q["certificate_ratio"]
    if isinstance(cr, NotApplicable):
        q["certificate_gd_holds"] = cr
        q["certificate_gf_holds"] = cr
    else:
        q["certificate_gd_holds"] = bool(cr <= q["certificate_gd"])
        q["certificate_gf_holds"] = bool(cr < q["certificate_gf"])
    if not isinstance(q.get("eta_explicit"), NotApplicable) and "eta_explicit" in ev:
        q["eta_b_over_eta_a"] = float(ev["eta_b"] / ev["eta_a"])
        r = evaluate({**vals, "eta": float(ev["eta_explicit"])}, ["rate_guaranteed", "path_bound_gd"], paper=PAPER)
        q["rate_guaranteed"] = float(r["rate_guaranteed"])
        q["path_bound_gd"] = float(r["path_bound_gd"])
        notes["eta_explicit"] = ("min(eta_a, eta_b) (derived): the notes' one-line step 1/(2 beta sqrt(h0) + 6 nu^2) "
                                 "is eta_a_simple and drops condition (b)")
    else:
        why = q["eta_explicit"].reason if isinstance(q.get("eta_explicit"), NotApplicable) else "needs eta_explicit"
        q["rate_guaranteed"] = na(why + "; pass --eta to run")
        q["path_bound_gd"] = na(why)
    # --- E[M0] at the actual omega1 and (58)
    try:
        if not gram:
            raise InputError("not computed here (gram=False)")
        K, em_method = expected_gram(X, act, float(omega1))
        ek = np.linalg.eigvalsh(K)
        q["EM0_min"], q["EM0_max"] = float(d1 * ek[0]), float(d1 * ek[-1])
        notes["EM0"] = f"exact E[M0] = d1 K at omega1 = {omega1:.6g}: {em_method}"
    except InputError as exc:
        q["EM0_min"] = q["EM0_max"] = na(str(exc))
    have_r = sc.r1 is not None and sc.r2 is not None
    omega_one = float(omega1) == 1.0
    rv = {"r1": float(sc.r1) if sc.r1 is not None else 0.0, "r2": float(sc.r2) if sc.r2 is not None else 0.0}
    r_reason = None
    if not (have_r or omega_one):
        r_reason = (sc.r1_reason or sc.r2_reason) + " (and omega1 != 1, footnote 3)"
    elif not omega_one and omega1 >= 1:
        r_reason = f"the scaling property is applied with tau = omega1 = {omega1:.6g} >= 1 (Theorem 3 needs < 1)"
    ext = {**vals, **rv}
    if omega_one and not have_r:
        notes["r1_r2"] = "omega1 = 1: the scaling property is not needed (footnote 3); omega1^r = 1"
    for k in ("EM0_lower_58", "EM0_upper_58", "xi_78", "width_79", "width_80", "xi_odd", "width_odd", "K_odd"):
        if r_reason:
            q[k] = na(r_reason)
            continue
        if t_val is None and k not in ("EM0_upper_58", "K_odd"):
            q[k] = q["t"]
            continue
        e = evaluate(ext, [k], paper=PAPER)
        if k not in e:
            q[k] = na(smooth_reason or "needs chi_max")
        elif k in ("xi_odd", "width_odd", "K_odd") and herm.parity != "odd":
            q[k] = na(f"phi is not odd (parity: {herm.parity}; c0 = {cs[0]:.6g}): the odd-activation variant "
                      f"(derived) is for c0 = 0; see width_79")
        elif k in ("xi_78", "width_79", "width_80") and cs[0] == 0:
            q[k] = na("c0 = 0 (odd phi): (77) assumes the c0 term dominates nu_Phi (footnote 5); see width_odd")
        elif k in ("width_79", "width_odd") and smin_t == 0:
            q[k] = na(f"sigma_min(X^(*t)) = 0 at t = {t_val}")
        elif not np.isfinite(e[k]):
            q[k] = na("not finite (c_t = 0 or sigma_min = 0)")
        else:
            q[k] = float(e[k])
    notes["deltas"] = f"delta constants of (78): {deltas} (the reading notes' defaults unless given); logs dropped"
    # --- Lemma 3 near-isometry on the Jacobian
    if jacobian is None:
        jacobian = d2 * n <= JAC_DEFAULT_MAX
    if jacobian:
        jmin, jmax, jm = jacobian_spectrum(X, W, V, act)
        q["jac_sigma_min"], q["jac_sigma_max"] = jmin, jmax
        notes["jacobian"] = jm
        if not isinstance(q["nu_Phi"], NotApplicable):
            rel = 1e-9
            holds = bool(jmin >= mu * (1 - rel) and jmax <= q["nu_Phi"] * (1 + rel))
            checks.append(Check("lemma3_near_isometry", holds,
                                f"mu_Phi = {mu:.6g} <= sigma_min(J) = {jmin:.6g}, sigma_max(J) = {jmax:.6g} <= "
                                f"nu_Phi = {q['nu_Phi']:.6g}", required=False, reference="Lemma 3, (43)"))
    else:
        q["jac_sigma_min"] = q["jac_sigma_max"] = na(f"not computed: n d2 = {n * d2} > {JAC_DEFAULT_MAX} "
                                                     f"(pass --jacobian)")
    # --- checks (Assumption 2, Theorem 3)
    norms = np.linalg.norm(X, axis=1)
    dev = float(np.max(np.abs(norms - 1)))
    checks += [
        Check("unit_norm_samples", dev <= _UNIT_TOL, f"max_i | ||x_i|| - 1 | = {dev:.3g}", reference="Assumption 2"),
        Check("labels_norm", float(np.linalg.norm(Y)) <= 1 + 1e-12, f"||Y||_F = {np.linalg.norm(Y):.6g} (<= 1)",
              reference="Assumption 2"),
        Check("phi0_zero", act.phi0_is_zero, f"phi(0) = {act.phi0:.6g}", reference="Assumption 2"),
        Check("twice_differentiable", act.smooth, act.smooth_reason or "phi is C^2 (Piecewise break points checked)",
              reference="Assumption 2, Remark 2"),
        Check("bounded_derivatives", d1max_ok and d2max_ok,
              f"sup|phi'| = {q['phi_d1_max']}, sup|phi''| = {q['phi_d2_max']}", reference="Assumption 2"),
        Check("d1_at_least_n", d1 >= n, f"d1 = {d1}, n = {n}", reference="Lemma 3 (mu_Phi > 0 needs d1 >= n)"),
        Check("certificate_gd", q["certificate_gd_holds"] is True,
              f"certificate_ratio = {cr} vs 1/4608 (derived)", reference="(9), Theorem 2"),
        Check("scaling_property", have_r, "r1 = %s, r2 = %s" % (q["r1"], q["r2"]), required=False,
              reference="Theorem 3"),
        Check("omega_product_19", q["omega_product_19"] <= 1 + 1e-12,
              f"omega1 omega2 sqrt(d0 d1) = {q['omega_product_19']:.6g} (<~ 1)", required=False, reference="(19)"),
    ]
    shape = {"n": n, "d0": d0, "d1": d1, "d2": d2}
    return ShallowConstants(shape, act.to_dict(), q, checks, notes, herm.to_dict(),
                            {"phi_d1_max": s1.to_dict(), "phi_d2_max": None if s2 is None else s2.to_dict()},
                            sc.to_dict())
