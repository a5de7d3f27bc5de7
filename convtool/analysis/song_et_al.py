"""Quantities of Song et al. on shallow nonlinear networks (paper key ``"song-et-al"``).

Chaehwan Song, Ali Ramezani-Kebrya, Thomas Pethick, Armin Eftekhari and Volkan Cevher, "Subquadratic
Overparameterization for Shallow Neural Networks", NeurIPS 2021 (arXiv:2111.01875). Equation numbers are
the paper's. The network is ``x -> V phi(W x)`` (15), trained on ``h = ||V phi(W X) - Y||_F^2`` (16) (no
1/2), so ``f(Z) = ||Z - Y||_F^2`` has ``alpha_f = beta_f = 2`` (App. E) and ``||grad f(z0)|| = 2 sqrt(h0)``.

Registered once here: Lemma 3's (18) ``nu_Phi``, ``beta_Phi`` (``mu_Phi`` is measured: sigma_min(phi(W0 X))),
``rho_Phi`` (6), the certificate ratio of (9), the step of (13) without its unknown constant, (58)'s bounds
on E[M0], (78)'s xi and the widths (79), (80). Quantities marked derived are not printed in the paper; they
are tracked through its proofs (Appendices B, C) and each was re-derived for this module:

* Lemma 2 / (33) with constants: GF path ``6 sqrt(2) nu sqrt(h0)/(mu^2 sqrt(alpha_f))`` (sigma_max <= 3 nu/2
  in the ball, ||grad h||^2 >= (mu/2)^2 ||grad f||^2, sqrt(f) <= ||grad f||/sqrt(2 alpha_f)); GD sum up to the
  step before the exit ``12 sqrt(2) nu sqrt(h0)/(mu^2 sqrt(alpha_f))`` (descent ``f_i - f_{i+1} >= eta/2
  ||grad h_i||^2``) plus the last step ``eta (3 nu/2) G``.
* GD sufficient conditions: (a) ``eta <= 1/(beta_Phi G + 9/4 beta_f nu^2)`` (descent inequality with factor
  1/2), (b) ``eta < mu/(6 beta_Phi nu G)`` (last step <= rho/2), (c) ``h0 <= alpha_f mu^6/(4608 beta^2 nu^2)``
  (the sum <= rho/2), with ``G = ||grad f(z0)|| + 3 beta_f mu nu/(4 beta_Phi)`` (34); then
  ``h_i <= (1 - eta alpha_f mu^2/4)^i h0`` (C = 1/4 in (14)).
* The a priori ``chi_max``: in ball(Theta0, rho) every V has sigma_max(V) <= sigma_max(V0) + rho, and rho
  depends on chi through beta_Phi; the self-consistent value is the positive root of
  ``chi = sigma_max(V0) + mu/(2 beta_Phi(chi))``, a quadratic (``chi_apriori``; unique positive root since
  the product of the roots is negative). The reading notes' table gives ``norm(V0) + rho (fixed point)``
  without a derivation; this is that derivation.
* The odd-activation width (c0 = 0): (76)'s nu without the c0 term, ``nu ~ K sigma_max(X) sqrt(d1)``,
  ``K = omega2 phi_d1_max + omega1^r2 sqrt((1 + delta2)(c1^2 + c_inf^2))``, substituted with (75) into (9):
  ``d1 >= xi_odd sigma_max(X)^3/sigma_min(X^{*t})^3``.

Where the reading notes are wrong or loose (checked here)
---------------------------------------------------------
* Their one-line network step ``1/(2 beta sqrt(h0) + 6 nu^2)`` is only condition (a); it drops their own
  condition (b), which is the binding one on typical instances (``eta_b`` vs ``eta_a``; tests). Here
  ``eta_explicit = min(eta_a, eta_b)``.
* Their a priori chi_max is an entry, not a derivation (derived here, above).
* "sigma_min(X^{*t}) > 0 requires d0^t >= n" (notes E.1; the paper's "n ~ d0^t") is too weak: the columns of
  X^{*t} are symmetric tensors, so rank(X^{*t}) <= C(d0 + t - 1, t) < d0^t, and sigma_min(X^{*t}) = 0 whenever
  C(d0 + t - 1, t) < n (e.g. d0 = 4, t = 2, n = 12: d0^t = 16 >= 12 but rank <= 10). The notes' section 7
  instance (n = 50, d0 = 10, t = 2) sits just above that bound, C(11, 2) = 55, which is why its
  sigma_min(X^{*2}) = 0.036 is so small.
* Checked and confirmed: the GF constant 6 sqrt(2) (threshold 1/288), the GD constants 12 sqrt(2) and 1/4608,
  C = 1/4 in (14), condition (a) (with (34)'s typo fixed), (77) from (75)-(76), the odd-activation variant, and
  the activation table of notes section 7.1 (sup values, c_i, c_inf^2; r1 of GeLU 1.2945).

Examples
--------
>>> from convtool.analysis.evaluate import evaluate
>>> v = evaluate({"mu_Phi": 1.0, "nu_Phi": 2.0, "beta_Phi": 1.0, "h0": 0.25, "alpha_f": 2.0, "beta_f": 2.0},
...              ["eta_13", "certificate_ratio", "eta_explicit"], paper="song-et-al")
>>> round(v["eta_13"], 6), v["certificate_ratio"]
(0.090909, 0.5)
"""

from __future__ import annotations

import functools

import sympy as sp

from convtool.analysis.registry import register as _register

P = "song-et-al"
register = functools.partial(_register, paper=P)

#: the notes' defaults of the delta constants of (78) (delta1, delta2 in (0, 1), delta3, delta4 = max(k1, k2))
DELTA_DEFAULTS = {"delta1": 0.5, "delta2": 0.5, "delta3": 1.0, "delta4": 1.0}

_r2 = sp.sqrt(2)

# ---------------------------------------------------------------- primitives
n = register("n", kind="primitive", latex="n", reference="Section 5.1", positive=True,
             description="Number of training samples.")
d0 = register("d0", kind="primitive", latex="d_0", reference="Section 5.1", positive=True,
              description="Input dimension.")
d1 = register("d1", kind="primitive", latex="d_1", reference="Section 5.1", positive=True,
              description="Hidden width.")
sigma_max_X = register("sigma_max_X", kind="primitive", latex=r"\sigma_{\max}(X)", reference="(18), (20)",
                       nonnegative=True, description="Largest singular value of the data matrix X.")
sigma_min_Xt = register("sigma_min_Xt", kind="primitive", latex=r"\sigma_{\min}(X^{*t})", reference="(20), (79)",
                        nonnegative=True,
                        description="sigma_min of the t-th Khatri-Rao power, sqrt(lambda_min((X^T X)^{o t})).")
sigma_max_V0 = register("sigma_max_V0", kind="primitive", latex=r"\sigma_{\max}(V_0)", reference="(18)",
                        nonnegative=True, description="Spectral norm of the initial second layer.")
sigma_max_A0 = register("sigma_max_A0", kind="primitive", latex=r"\sigma_{\max}(\phi(W_0X))", reference="(18)",
                        nonnegative=True, description="Spectral norm of the initial hidden activations phi(W0 X).")
mu_Phi = register("mu_Phi", kind="primitive", latex=r"\mu_\Phi", reference="Lemma 3, (18)", nonnegative=True,
                  description="sigma_min(phi(W0 X)) (the n-th singular value; 0 when d1 < n).")
phi_d1_max = register("phi_d1_max", kind="primitive", latex=r"\dot\phi_{\max}", reference="Assumption 2",
                      nonnegative=True, description="sup_a |phi'(a)|.")
phi_d2_max = register("phi_d2_max", kind="primitive", latex=r"\ddot\phi_{\max}", reference="Assumption 2",
                      nonnegative=True, description="sup_a |phi''(a)|.")
chi_max = register("chi_max", kind="primitive", latex=r"\chi_{\max}", reference="(18), Assumption 2",
                   nonnegative=True, description="sup of sigma_max(V) over the GD iterates (assumed bounded).")
h0 = register("h0", kind="primitive", latex=r"h(\Theta_0)", reference="(16)", nonnegative=True,
              description="Initial loss ||V0 phi(W0 X) - Y||_F^2.")
alpha_f = register("alpha_f", kind="primitive", latex=r"\alpha_f", reference="Def. 3, App. E", positive=True,
                   description="PL constant of f(Z) = ||Z - Y||^2: 2.")
beta_f = register("beta_f", kind="primitive", latex=r"\beta_f", reference="Section 4, App. E", positive=True,
                  description="Smoothness constant of f(Z) = ||Z - Y||^2: 2.")
eta = register("eta", kind="primitive", latex=r"\eta", reference="(12)", positive=True,
               description="Constant GD step size.")
jac_sigma_min = register("jac_sigma_min", kind="primitive", latex=r"\sigma_{\min}(\nabla\Phi^*)",
                         reference="Lemma 1", nonnegative=True,
                         description="Smallest singular value of the Jacobian adjoint (sqrt(lambda_min(J J^T))).")
c0 = register("c0", kind="primitive", latex="c_0", reference="Def. 4",
              description="Hermite coefficient E[phi(g)], g ~ N(0, 1).")
c1 = register("c1", kind="primitive", latex="c_1", reference="Def. 4",
              description="Hermite coefficient E[phi(g) g].")
c_t = register("c_t", kind="primitive", latex="c_t", reference="(58), (78)",
               description="Hermite coefficient E[phi(g) He_t(g)] at the order t of Theorem 3.")
c_inf_sq = register("c_inf_sq", kind="primitive", latex=r"c_\infty^2", reference="(57)", nonnegative=True,
                    description="sum_{i>=2} c_i^2/i! = E[phi(g)^2] - c0^2 - c1^2.")
t = register("t", kind="primitive", latex="t", reference="Theorem 3", positive=True,
             description="Order with sigma_min(X^{*t}) > 0 and c_t != 0.")
omega1 = register("omega1", kind="primitive", latex=r"\omega_1", reference="(17)", positive=True,
                  description="Entry standard deviation of W0.")
omega2 = register("omega2", kind="primitive", latex=r"\omega_2", reference="(17)", positive=True,
                  description="Entry standard deviation of V0.")
r1 = register("r1", kind="primitive", latex="r_1", reference="Theorem 3",
              description="Smallest r1 with tau^r1 |phi(a)| <= |phi(tau a)| for all a, 0 < tau < 1.")
r2 = register("r2", kind="primitive", latex="r_2", reference="Theorem 3",
              description="Largest r2 with |phi(tau a)| <= tau^r2 |phi(a)| for all a, 0 < tau < 1.")
delta1 = register("delta1", kind="primitive", latex=r"\delta_1", reference="E.2, (78)", positive=True,
                  description="Relative deviation of sigma_min(M0) below sigma_min(E M0) (0 < delta1 < 1).")
delta2 = register("delta2", kind="primitive", latex=r"\delta_2", reference="E.2, (78)", positive=True,
                  description="Relative deviation of sigma_max(M0) above sigma_max(E M0).")
delta3 = register("delta3", kind="primitive", latex=r"\delta_3", reference="E.5, (78)", positive=True,
                  description="Hoeffding constant of the bound (73) on h(Theta0).")
delta4 = register("delta4", kind="primitive", latex=r"\delta_4", reference="E.7, (78)", positive=True,
                  description="max(k1, k2) of the event E1 (60).")

# ---------------------------------------------------------------- Lemma 3, Lemma 1, Theorem 1 / 2
nu_Phi = register("nu_Phi", kind="expression", expr=phi_d1_max * sigma_max_X * sigma_max_V0 + sigma_max_A0,
                  latex=r"\nu_\Phi", reference="Lemma 3, (18)",
                  description="Upper near-isometry constant of the Jacobian adjoint at Theta0.")
beta_Phi = register("beta_Phi", kind="expression", expr=_r2 * sigma_max_X * (phi_d1_max + phi_d2_max * chi_max),
                    latex=r"\beta_\Phi", reference="Lemma 3, (18)",
                    description="Smoothness (Lipschitz Jacobian) constant of Phi(W, V) = V phi(W X).")
rho_Phi = register("rho_Phi", kind="expression", expr=mu_Phi / (2 * beta_Phi), latex=r"\rho_\Phi",
                   reference="Lemma 1, (6)", description="Radius of the ball around Theta0 where Lemma 1 holds.")
jac_lower = register("jac_lower", kind="expression", expr=mu_Phi / 2, latex=r"\mu_\Phi/2", reference="Lemma 1, (5)",
                     description="Lemma 1's lower bound on sigma_min of the Jacobian adjoint in the ball.")
jac_upper = register("jac_upper", kind="expression", expr=3 * nu_Phi / 2, latex=r"3\nu_\Phi/2",
                     reference="Lemma 1, (5)", description="Lemma 1's upper bound on sigma_max in the ball.")
grad_f0_norm = register("grad_f0_norm", kind="expression", expr=2 * sp.sqrt(h0), latex=r"\|\nabla f(z_0)\|",
                        reference="(13), f of (16)", description="||grad f(Phi(Theta0))|| = 2 ||Z0 - Y||_F.")
certificate_ratio = register(
    "certificate_ratio", kind="expression", expr=h0 * beta_Phi ** 2 * nu_Phi ** 2 / (alpha_f * mu_Phi ** 6),
    latex=r"R_{(9)}", reference="Theorems 1, 2, (9)",
    description="h0 beta^2 nu^2/(alpha_f mu^6): (9) asks it to be O(1) small.")
certificate_gd_threshold = register(
    "certificate_gd_threshold", kind="expression", expr=sp.Rational(1, 4608), latex=r"1/4608",
    reference="(9), App. C (derived)", derived=True,
    description="Explicit GD threshold of the certificate ratio tracked through App. C (derived: condition (c)).")
certificate_gf_threshold = register(
    "certificate_gf_threshold", kind="expression", expr=sp.Rational(1, 288), latex=r"1/288",
    reference="(9), App. B (derived)", derived=True,
    description="Explicit gradient-flow threshold of the certificate ratio (derived from Lemma 2's proof).")
eta_13 = register("eta_13", kind="expression",
                  expr=1 / (beta_Phi * grad_f0_norm + beta_f * mu_Phi ** 2 + beta_f * nu_Phi ** 2),
                  latex=r"\eta_{(13)}", reference="Theorem 2, (13)",
                  description="The step of (13) without its unknown O(.) constant.")
G_34 = register("G_34", kind="expression", expr=grad_f0_norm + 3 * beta_f * mu_Phi * nu_Phi / (4 * beta_Phi),
                latex="G", reference="(34)",
                description="Bound on ||grad f(z_i)|| in the ball (the 5th line's typo mu for nu fixed).")
eta_a = register("eta_a", kind="expression", expr=1 / (beta_Phi * G_34 + sp.Rational(9, 4) * beta_f * nu_Phi ** 2),
                 latex=r"\eta_{(a)}", reference="(31), (35) (derived)", derived=True,
                 description="Condition (a), derived: the descent inequality keeps half of eta ||grad h||^2.")
eta_a_simple = register("eta_a_simple", kind="expression",
                        expr=1 / (beta_Phi * grad_f0_norm + 3 * beta_f * nu_Phi ** 2),
                        latex=r"\eta_{(a')}", reference="(35) (derived)", derived=True,
                        description="A simpler sufficient form of (a), derived (mu nu <= nu^2); for the network "
                                    "1/(2 beta sqrt(h0) + 6 nu^2), the notes' one-line step.")
eta_b = register("eta_b", kind="expression", expr=mu_Phi / (6 * beta_Phi * nu_Phi * G_34), latex=r"\eta_{(b)}",
                 reference="(33) (derived)", derived=True,
                 description="Condition (b), derived: the last step of (33), eta (3 nu/2) G, stays below rho/2.")
eta_explicit = register("eta_explicit", kind="expression", expr=sp.Min(eta_a, eta_b), latex=r"\eta_{\rm expl}",
                        reference="Theorem 2 (derived)", derived=True,
                        description="Explicit sufficient step min(eta_a, eta_b) (derived; with condition (c)).")
rate_guaranteed = register("rate_guaranteed", kind="expression", expr=1 - eta * alpha_f * mu_Phi ** 2 / 4,
                           latex=r"1 - \eta\alpha_f\mu_\Phi^2/4", reference="(14), C = 1/4 (derived)", derived=True,
                           description="Per-step factor of (14) with the derived C = 1/4, valid under (a)-(c).")
rate_ntk = register("rate_ntk", kind="expression", expr=(1 - 2 * eta * jac_sigma_min ** 2) ** 2,
                    latex=r"(1 - 2\eta\sigma_{\min}^2(J))^2", reference="linearized GD (derived)", derived=True,
                    description="Local NTK rate of h (derived): linearized GD r <- (I - 2 eta J J^T) r.")
path_bound_gf = register("path_bound_gf", kind="expression",
                         expr=6 * _r2 * nu_Phi * sp.sqrt(h0) / (mu_Phi ** 2 * sp.sqrt(alpha_f)),
                         latex=r"\ell_{GF}", reference="Lemma 2 (derived constant)", derived=True,
                         description="Gradient-flow path length bound of Lemma 2 with its constant (derived).")
path_bound_gd = register("path_bound_gd", kind="expression",
                         expr=12 * _r2 * nu_Phi * sp.sqrt(h0) / (mu_Phi ** 2 * sp.sqrt(alpha_f))
                         + sp.Rational(3, 2) * eta * nu_Phi * G_34,
                         latex=r"\ell_{GD}", reference="(30), (33) (derived constants)", derived=True,
                         description="GD path length bound of (33) with constants (derived), last step included.")
_s, _a, _b = sigma_max_V0, phi_d1_max, phi_d2_max
_c = mu_Phi / (2 * _r2 * sigma_max_X)
chi_apriori = register(
    "chi_apriori", kind="expression",
    expr=2 * (_a * _s + _c) / ((_a - _b * _s) + sp.sqrt((_a - _b * _s) ** 2 + 4 * _b * (_a * _s + _c))),
    latex=r"\chi_{\max}^{\rm a\,priori}", reference="(18), Lemma 1 (derived)", derived=True,
    description="A priori chi_max (derived): the positive root of chi = sigma_max(V0) + mu/(2 beta_Phi(chi)), "
                "the largest sigma_max(V) in the ball of radius rho_Phi it defines.")

# ---------------------------------------------------------------- App. E: (58), (78)-(80)
_tf = sp.gamma(t + 1)
EM0_lower_58 = register("EM0_lower_58", kind="expression",
                        expr=omega1 ** (2 * r1) * d1 * c_t ** 2 / _tf * sigma_min_Xt ** 2,
                        latex=r"\underline{\sigma}_{(58)}", reference="(58)",
                        description="(58)'s lower bound on sigma_min(E M0) (up to constants).")
EM0_upper_58 = register("EM0_upper_58", kind="expression",
                        expr=omega1 ** (2 * r2) * d1 * (n * c0 ** 2 + (c1 ** 2 + c_inf_sq) * sigma_max_X ** 2),
                        latex=r"\overline{\sigma}_{(58)}", reference="(58)",
                        description="(58)'s upper bound on sigma_max(E M0) (up to constants).")
xi_78 = register(
    "xi_78", kind="expression",
    expr=sp.sqrt(delta3 ** 2 * c0 ** 2 * (1 + delta2) * delta4 ** 4 * (phi_d1_max + phi_d2_max * chi_max) ** 2
                 * _tf ** 3 / (omega1 ** (6 * r1 - 2 * r2) * (1 - delta1) ** 3 * c_t ** 6)),
    latex=r"\xi", reference="(78)", description="The factor xi(C_delta, t, phi, {c_i}) of the width (20).")
width_79 = register("width_79", kind="expression", expr=xi_78 * sp.sqrt(n) * sigma_max_X ** 2 / sigma_min_Xt ** 3,
                    latex=r"d_1^{(79)}", reference="(77), (79)",
                    description="Width threshold xi sqrt(n) sigma_max(X)^2/sigma_min(X^{*t})^3 (up to logs).")
width_80 = register("width_80", kind="expression", expr=xi_78 * n ** sp.Rational(3, 2) / d0, latex=r"d_1^{(80)}",
                    reference="(80)", description="Width threshold xi n^{3/2}/d0 (sigma_max(X) ~ sqrt(n/d0)).")
K_odd = register("K_odd", kind="expression",
                 expr=omega2 * phi_d1_max + omega1 ** r2 * sp.sqrt((1 + delta2) * (c1 ** 2 + c_inf_sq)),
                 latex="K", reference="(76) without c0 (derived)", derived=True,
                 description="nu_Phi/(sigma_max(X) sqrt(d1)) of (76) when c0 = 0 (derived, odd phi).")
xi_odd = register(
    "xi_odd", kind="expression",
    expr=sp.sqrt(delta3 ** 2 * delta4 ** 4 * (phi_d1_max + phi_d2_max * chi_max) ** 2 * K_odd ** 2 * _tf ** 3
                 / (omega1 ** (6 * r1) * (1 - delta1) ** 3 * c_t ** 6)),
    latex=r"\xi_{\rm odd}", reference="(75)-(77) for c0 = 0 (derived)", derived=True,
    description="The factor of the odd-activation width (derived: (77)'s substitution with nu ~ K sigma_max sqrt(d1)).")
width_odd = register("width_odd", kind="expression", expr=xi_odd * sigma_max_X ** 3 / sigma_min_Xt ** 3,
                     latex=r"d_1^{\rm odd}", reference="(77) for c0 = 0 (derived)", derived=True,
                     description="Odd-activation width xi_odd sigma_max(X)^3/sigma_min(X^{*t})^3 (derived; "
                                 "~ (n/d0)^{3/2}).")
