"""Song et al.'s theory of the shallow network along a GD run (paper key ``"song-et-al"``).

With the shallow model (:func:`~convtool.numeric.shallow.shallow_model`, ``x -> V phi(W x)``) and the paper's
loss (:class:`~convtool.numeric.shallow.ShallowLoss`, ``||F - Y||_F^2``) the theory computes each seed's
constants at Theta0 (:func:`~convtool.numeric.shallow_constants.compute_shallow_constants`: mu_Phi, nu_Phi,
beta_Phi, rho_Phi, the certificate, eta_explicit and the guaranteed rate), sets the constant step to
``eta_explicit`` unless the user gave one, and records per state t:

* ``envelope`` = ``rate_guaranteed^t h0`` ((14) with the derived C = 1/4, at the run's step);
* ``dist0`` = ``||Theta_t - Theta_0||`` (Frobenius over both layers) against ``rho_Phi``;
* ``path`` = ``sum_{s<t} eta_s ||grad h(Theta_s)||`` against ``path_bound_gd`` ((33) with constants, derived);
* ``sigma_max_V`` and ``chi_obs`` = ``max_{k<=t} sigma_max(V_k)`` against ``chi_max`` (Assumption 2);
* ``jac_sigma_min`` (and ``jac_sigma_max``) of the Jacobian adjoint: always at t = 0, at every step with
  ``jacobian=True`` (:func:`~convtool.numeric.shallow.jacobian_spectrum`); NaN otherwise.

Checks (step t, state t + 1; a violation is a step where the check applied and did not hold):

=========== ================================================================== ================================
check       held when                                                          applies when
=========== ================================================================== ================================
thm2_rate   ``h(t+1) <= rate^(t+1) h0``                                        Theorem 2's hypotheses: the GD
                                                                               certificate (c), eta <= eta_explicit,
                                                                               phi C^2, chi_obs <= chi_max so far
ball        ``||Theta_{t+1} - Theta_0|| <= rho_Phi``                           same
path        ``path(t+1) <= path_bound_gd``                                     same
lemma1      ``sigma_min(J(Theta_{t+1})) >= mu_Phi / 2``                        ``||Theta_{t+1} - Theta_0|| <= rho``,
                                                                               chi_obs <= chi_max, J recorded
chi         ``chi_obs(t+1) <= chi_max``                                        chi_max finite
=========== ================================================================== ================================

"Held" allows ``RTOL_HELD`` relative and, for h, the engine's rounding band.
"""

from __future__ import annotations

import numpy as np

from convtool.errors import InputError
from convtool.results import NotApplicable
from convtool.numeric.theories.base import EPS, RTOL_HELD, Check, Observation, RunContext, Theory

__all__ = ["SongEtAl"]


def _num(v) -> float:
    return float("nan") if isinstance(v, NotApplicable) or v is None else float(v)


class SongEtAl(Theory):
    """Theorem 2 / Lemma 1 / Lemma 2 of Song et al. along a shallow run (module docstring).

    Parameters
    ----------
    act : SymbolicActivation
        The activation (its constants come from :mod:`convtool.numeric.hermite`).
    chi : float, optional
        chi_max (default: the derived a priori bound).
    jacobian : bool
        Record the Jacobian spectrum at every step (always at step 0).
    omega1, omega2 : float, optional
        The init scales (reported); None reads them from the weights.
    """

    key = "song-et-al"
    reference = "Song et al. (NeurIPS 2021), Theorem 2, Lemmas 1-3"
    state_keys = ("envelope", "dist0", "path", "sigma_max_V", "chi_obs", "jac_sigma_min", "jac_sigma_max")

    def __init__(self, act=None, chi: float | None = None, jacobian: bool = False, omega1=None, omega2=None,
                 t: int | None = None):
        self.act, self.chi, self.jacobian = act, chi, bool(jacobian)
        self.omega1, self.omega2, self.t_order = omega1, omega2, t
        self.thm_reason = None
        self.smooth = True if act is None else act.smooth
        self.checks = self._checks()

    def _checks(self) -> tuple:
        why_l1 = None if self.smooth else self.act.smooth_reason
        return (
            Check("thm2_rate", "thm2_rate_applies", "thm2_rate_held", "Theorem 2, (14) with C = 1/4 (derived)",
                  "h(t) <= (1 - eta mu^2/2)^t h0", self.thm_reason),
            Check("ball", "ball_applies", "ball_held", "Theorem 2's proof, (11)", "||Theta_t - Theta_0|| <= rho_Phi",
                  self.thm_reason),
            Check("path", "path_applies", "path_held", "Lemma 2, (33) (derived constants)",
                  "path length <= path_bound_gd", self.thm_reason),
            Check("lemma1", "lemma1_applies", "lemma1_held", "Lemma 1, (5)",
                  "sigma_min(J) >= mu_Phi/2 inside ball(Theta_0, rho_Phi)", why_l1),
            Check("chi", "chi_applies", "chi_held", "Assumption 2, (18)", "max_k sigma_max(V_k) <= chi_max"),
        )

    def setup(self, ctx: RunContext) -> dict:
        from convtool.numeric.feedforward import FeedForward
        from convtool.numeric.shallow import ShallowLoss
        from convtool.numeric.shallow_constants import compute_shallow_constants

        model = ctx.model
        if self.act is None:
            raise InputError("the song-et-al theory needs the activation (SongEtAl(act=...))")
        if not isinstance(model, FeedForward) or model.N != 2:
            raise InputError("the song-et-al theory applies to the shallow network V phi(W x) (FeedForward, N = 2)")
        if not isinstance(ctx.loss, ShallowLoss):
            raise InputError("the song-et-al theory needs the paper's loss ||F - Y||_F^2 (ShallowLoss)")
        self.model, self.R = model, ctx.R
        X, Y = model.X, ctx.loss.Y
        self.X = X
        W0, V0 = model.W_0
        self.W0, self.V0 = W0.copy(), V0.copy()
        self.consts = []
        geometry: dict = {}  # the data geometry once for all seeds
        for r in range(ctx.R):
            c = compute_shallow_constants(X, Y, W0[r], V0[r], self.act, chi=self.chi, t=self.t_order,
                                          omega1=self.omega1, omega2=self.omega2, jacobian=False, gram=False,
                                          geometry=geometry)
            self.consts.append(c)
        q = [c.quantities for c in self.consts]
        self.mu = np.array([_num(v["mu_Phi"]) for v in q])
        self.rho = np.array([_num(v["rho_Phi"]) for v in q])
        self.chi_max = np.array([_num(v["chi_max"]) for v in q])
        self.eta_explicit = np.array([_num(v["eta_explicit"]) for v in q])
        self.cert = np.array([v["certificate_gd_holds"] is True for v in q])
        self.smooth = self.act.smooth
        self.h0 = np.array([_num(v["h0"]) for v in q])
        self.G = np.array([_num(v["G_34"]) for v in q])
        self.nu = np.array([_num(v["nu_Phi"]) for v in q])
        if ctx.eta0 is None:
            bad = [r for r in range(ctx.R) if not np.isfinite(self.eta_explicit[r]) or self.eta_explicit[r] <= 0]
            if bad:
                why = self.consts[bad[0]].not_applicable.get("eta_explicit", "eta_explicit is not finite")
                raise InputError(f"the default step eta_explicit is not applicable ({why}); pass --eta")
            eta0 = self.eta_explicit.copy()
        else:
            eta0 = np.full(ctx.R, float(ctx.eta0))
        self.eta0 = eta0
        self.rate = 1 - eta0 * 2.0 * self.mu ** 2 / 4
        self.step_ok = np.isfinite(self.eta_explicit) & (eta0 <= self.eta_explicit * (1 + 1e-12))
        reasons = []
        if not self.smooth:
            reasons.append(self.act.smooth_reason)
        if not self.cert.all():
            reasons.append("the GD certificate (9) with the derived threshold 1/4608 does not hold")
        if not np.isfinite(self.eta_explicit).all():
            r = next(r for r in range(ctx.R) if not np.isfinite(self.eta_explicit[r]))
            reasons.append("eta_explicit is not applicable (" +
                           self.consts[r].not_applicable.get("eta_explicit", "not finite") + ")")
        elif not self.step_ok.all():
            reasons.append("eta > eta_explicit (derived conditions (a), (b))")
        self.thm_reason = "; ".join(reasons) if reasons else None
        self._path = np.zeros(ctx.R)
        self._chi = np.zeros(ctx.R)
        self._jac_method = None
        self.checks = self._checks()
        return {"eta0": eta0, "L0": self.h0}

    def observe(self, t: int, obs: Observation):
        from convtool.numeric.shallow import jacobian_spectrum

        W, V = obs.state
        dW, dV = W - self.W0, V - self.V0
        dist = np.sqrt(np.einsum("rij,rij->r", dW, dW) + np.einsum("rij,rij->r", dV, dV))
        if V.shape[1] == 1:
            smV = np.sqrt(np.einsum("rij,rij->r", V, V))
        else:
            smV = np.array([np.linalg.norm(V[r], 2) for r in range(self.R)])
        self._chi = np.maximum(self._chi, smV)
        vals = {"dist0": dist, "path": self._path.copy(), "sigma_max_V": smV, "chi_obs": self._chi.copy(),
                "envelope": self.rate ** t * self.h0}
        if t == 0 or self.jacobian:
            js = [jacobian_spectrum(self.X, W[r], V[r], self.act) for r in range(self.R)]
            vals["jac_sigma_min"] = np.array([j[0] for j in js])
            vals["jac_sigma_max"] = np.array([j[1] for j in js])
            self._jac_method = js[0][2]
        self._gnorm = np.sqrt(np.maximum(obs.grad_sq, 0.0))
        return vals, {}

    def after_step(self, t: int, obs: Observation, eta) -> None:
        self._path = self._path + np.asarray(eta, dtype=float) * self._gnorm

    def finalize(self, rec: dict, nsteps: np.ndarray, env0: dict) -> None:
        L = rec["loss"]
        T = L.shape[1] - 1
        R = L.shape[0]
        steps = np.arange(T)
        valid = steps[None, :] < nsteps[:, None]
        nxt = slice(1, T + 1)
        band = 2.0 * np.sqrt(np.maximum(L[:, nxt], 0)) * 64 * EPS * (1 + np.sqrt(np.maximum(L[:, nxt], 0)))
        chi_ok = rec["chi_obs"][:, nxt] <= self.chi_max[:, None] * (1 + RTOL_HELD)
        thm = valid & (self.thm_reason is None) & np.cumprod(chi_ok, axis=1).astype(bool)
        rec["thm2_rate_applies"] = thm
        rec["thm2_rate_held"] = valid & (L[:, nxt] <= rec["envelope"][:, nxt] * (1 + RTOL_HELD) + band)
        rec["ball_applies"] = thm.copy()
        rec["ball_held"] = valid & (rec["dist0"][:, nxt] <= self.rho[:, None] * (1 + RTOL_HELD))
        from convtool.analysis.evaluate import evaluate

        pb = np.array([_num(evaluate({"nu_Phi": self.nu[r], "h0": self.h0[r], "mu_Phi": self.mu[r], "alpha_f": 2.0,
                                      "eta": self.eta0[r], "G_34": self.G[r]}, ["path_bound_gd"],
                                     paper="song-et-al").get("path_bound_gd")) if self.mu[r] > 0 else np.nan
                       for r in range(R)])
        self.path_bound = pb
        rec["path_applies"] = thm.copy()
        rec["path_held"] = valid & (rec["path"][:, nxt] <= pb[:, None] * (1 + RTOL_HELD))
        jm = rec["jac_sigma_min"][:, nxt]
        inball = rec["dist0"][:, nxt] <= self.rho[:, None]
        rec["lemma1_applies"] = valid & self.smooth & inball & np.isfinite(jm) & chi_ok & (self.mu[:, None] > 0)
        rec["lemma1_held"] = valid & (jm >= self.mu[:, None] / 2 * (1 - RTOL_HELD))
        rec["chi_applies"] = valid & np.isfinite(self.chi_max)[:, None]
        rec["chi_held"] = valid & chi_ok

    def constants(self) -> list:
        return [c.to_dict() for c in self.consts]

    def extra(self) -> dict:
        return {"jacobian_method": self._jac_method}

    def summary(self, result) -> dict:
        from convtool.analysis.evaluate import evaluate

        a = result.arrays
        j0 = a["jac_sigma_min"][:, 0]
        ntk = [_num(evaluate({"eta": self.eta0[r], "jac_sigma_min": j0[r]}, ["rate_ntk"], paper="song-et-al")
                    .get("rate_ntk")) for r in range(self.R)]
        T = [int(s) for s in result.steps]
        out = {
            "eta": self.eta0.tolist(),
            "eta_explicit": [None if not np.isfinite(e) else float(e) for e in self.eta_explicit],
            "rate_guaranteed": self.rate.tolist(), "rate_ntk": ntk,
            "mu_Phi": self.mu.tolist(), "rho_Phi": self.rho.tolist(), "chi_max": self.chi_max.tolist(),
            "certificate_gd_holds": self.cert.tolist(),
            "theorem_not_applicable": self.thm_reason,
            "max_dist0": [float(np.nanmax(a["dist0"][r, : T[r] + 1])) for r in range(self.R)],
            "path_length": [float(a["path"][r, T[r]]) for r in range(self.R)],
            "path_bound_gd": [None if not np.isfinite(p) else float(p) for p in self.path_bound],
            "chi_obs": [float(a["chi_obs"][r, T[r]]) for r in range(self.R)],
            "jac_sigma_min_0": j0.tolist(), "jacobian_every_step": self.jacobian,
            "jacobian_method": self._jac_method,
        }
        return out
