"""Quantities of the local-PL paper on two-layer linear models.

Every formula of Table 2, Theorem 3.1 (eqs. 10-12), Theorem 3.2 / E.1
(eqs. 87-91, 114), Lemma A.2 (eq. 29), Lemma E.2 (eq. 102), Lemma C.1
(eqs. 48, 50) and the rate remarks after Theorem 3.2 is registered here once.
Paper: ``shared/papers/local-pl-two-layer-linear.txt``; reading notes and typo
readings: ``shared/notes/local-pl-two-layer.md``.

Conventions
-----------
* ``L0`` and ``L_t`` are *excess* losses ``l(W) - l*``: the paper assumes
  ``l* = 0`` (Assumption 2.2); with ``l* > 0`` the proofs go through for the
  excess loss, which is what every formula here uses.
* Typo readings (notes, "Readings of typos"): ``Kbar_t`` follows eq. (114)
  with ``sqrt(2 K L0 Delta^t)``; the growth cap is ``(1 + eta0^d)^(t/2) eta0``
  (eqs. 103, 114, not the ``t/d`` printed in eq. 89); ``exp(eta0^c)``
  replaces the ``exp(sqrt(eta0))`` of eq. (114); ``1/K_t`` in eq. (19) is the
  positive root of ``eta K_t(eta) = 1``.
* Spectral primitives of the current iterate (``s1_min_sq`` ...) describe
  ``W1(t), W2(t)``; at ``t = 0`` they give ``T_0``.

Examples
--------
>>> from convtool.analysis import get
>>> get("mubar").expr
mu*(alpha1 + 2*alpha2*(1 - exp(eta0**c)))
"""

from __future__ import annotations

import sympy as sp

from convtool.analysis.registry import REGISTRY, register

P = "local-pl"

# ---------------------------------------------------------------- primitives
# Problem 1 (Section 2): the loss l, its constants and minimizer.
mu = register("mu", kind="primitive", latex=r"\mu", reference="Section 2.1",
              description="Strong convexity constant of l (squared loss: lambda_min(X^T X)).")
K = register("K", kind="primitive", latex="K", reference="Section 2.1",
             description="Smoothness constant of l (squared loss: lambda_max(X^T X)).")
lstar = register("lstar", kind="primitive", latex=r"\ell^*", reference="Section 2, Assumption 2.2",
                 description="Optimal value l* = min_W l(W); every loss below is the excess L - l*.")
L0 = register("L0", kind="primitive", latex="L(0)", reference="Table 2",
              description="Excess loss at initialization, l(W1(0) W2(0)^T) - l*.")
sigma_min_Wstar = register("sigma_min_Wstar", kind="primitive", latex=r"\sigma_{\min}(W^*)",
                           reference="Table 2",
                           description="The min(n, m)-th singular value of the minimizer W*.")
sigma_max_Wstar = register("sigma_max_Wstar", kind="primitive", latex=r"\sigma_{\max}(W^*)",
                           reference="Table 2", description="Largest singular value of W*.")
dist0 = register("dist0", kind="primitive", latex=r"\|W(0) - W^*\|_F", reference="Table 2",
                 description="Frobenius distance of the initial product W1(0) W2(0)^T to W*.")
lambda_max_D0 = register("lambda_max_D0", kind="primitive", latex=r"\lambda_{\max}(D(0))",
                         reference="Table 2",
                         description="Largest eigenvalue of the imbalance D(0) = W1^T W1 - W2^T W2.")
lambda_max_negD0 = register("lambda_max_negD0", kind="primitive", latex=r"\lambda_{\max}(-D(0))",
                            reference="Table 2", description="Largest eigenvalue of -D(0).")
lambda_n_D0 = register("lambda_n_D0", kind="primitive", latex=r"\lambda_n(D(0))", reference="Table 2",
                       description="The n-th largest eigenvalue of D(0) (h x h; 0 when h < n).")
lambda_m_negD0 = register("lambda_m_negD0", kind="primitive", latex=r"\lambda_m(-D(0))",
                          reference="Table 2",
                          description="The m-th largest eigenvalue of -D(0) (0 when h < m).")
s1_min_sq = register("s1_min_sq", kind="primitive", latex=r"\sigma_{\min}^2(W_1)", reference="Lemma A.2",
                     description="Squared n-th singular value of W1 (n x h) at the current iterate; 0 if h < n.")
s1_max_sq = register("s1_max_sq", kind="primitive", latex=r"\sigma_{\max}^2(W_1)", reference="Lemma A.2",
                     description="Squared largest singular value of W1 at the current iterate.")
s2_min_sq = register("s2_min_sq", kind="primitive", latex=r"\sigma_{\min}^2(W_2)", reference="Lemma A.2",
                     description="Squared m-th singular value of W2 (m x h) at the current iterate; 0 if h < m.")
s2_max_sq = register("s2_max_sq", kind="primitive", latex=r"\sigma_{\max}^2(W_2)", reference="Lemma A.2",
                     description="Squared largest singular value of W2 at the current iterate.")
sigma_max_W = register("sigma_max_W", kind="primitive", latex=r"\sigma_{\max}(W(t))", reference="eq. (12)",
                       description="Largest singular value of the product W(t) = W1(t) W2(t)^T.")
W_fro = register("W_fro", kind="primitive", latex=r"\|W(t)\|_F", reference="eq. (48)",
                 description="Frobenius norm of the product W(t).")
grad_l_norm = register("grad_l_norm", kind="primitive", latex=r"\|\nabla \ell(t)\|_F", reference="eq. (48)",
                       description="Frobenius norm of the gradient of l at the product W(t).")
L_t = register("L_t", kind="primitive", latex="L(t)", reference="Theorem 3.1",
               description="Excess loss at the current iterate.")
eta = register("eta", kind="primitive", latex=r"\eta_t", reference="eq. (7)",
               description="Step size of the current GD step.")
t = register("t", kind="primitive", latex="t", reference="Theorem 3.2",
             description="Iteration counter.")
eta0 = register("eta0", kind="primitive", latex=r"\eta_0", reference="Theorem 3.2",
                description="Initial step size (default eta_max).")
c = register("c", kind="primitive", latex="c", reference="Theorem E.1",
             description="Exponent 0 < c < 1 of Theorem E.1 (Theorem 3.2: c = 1/2).")
d = register("d", kind="primitive", latex="d", reference="Theorem E.1",
             description="Exponent d > 1 of the growth cap in Theorem E.1 (Theorem 3.2: d = 2).")

# ------------------------------------------------------------- Problem 1
kappa = register("kappa", kind="expression", expr=K / mu, latex=r"\kappa", reference="Section 2.1",
                 description="Condition number K/mu of l.")
rate_nonoverparam = register(
    "rate_nonoverparam", kind="expression", expr=1 - mu / K, latex=r"\rho_{\ell}", reference="eq. (6)",
    description="Optimal rate 1 - mu/K of GD on Problem 1 itself, at eta = 1/K.")

# ------------------------------------------------------------- Lemma A.2
sigma_min_T_sq = register(
    "sigma_min_T_sq", kind="expression", expr=s1_min_sq + s2_min_sq, latex=r"\sigma_{\min}^2(\mathcal{T})",
    reference="Lemma A.2, eq. (29)",
    description="Squared smallest singular value of the operator T(U) = (U W2, W1^T U) at the current iterate.")
sigma_max_T_sq = register(
    "sigma_max_T_sq", kind="expression", expr=s1_max_sq + s2_max_sq, latex=r"\sigma_{\max}^2(\mathcal{T})",
    reference="Lemma A.2, eq. (29)",
    description="Squared largest singular value of the operator T at the current iterate.")

# ------------------------------------------------------------- Table 2
lambda_plus = register("lambda_plus", kind="expression", expr=sp.Max(lambda_max_D0, 0), latex=r"\lambda_+",
                       reference="Table 2", description="Positive part of the largest eigenvalue of D(0).")
lambda_minus = register("lambda_minus", kind="expression", expr=sp.Max(lambda_max_negD0, 0),
                        latex=r"\lambda_-", reference="Table 2",
                        description="Positive part of the largest eigenvalue of -D(0).")
Delta_low = register("Delta_low", kind="expression", expr=sp.Max(lambda_n_D0, 0) + sp.Max(lambda_m_negD0, 0),
                     latex=r"\underline{\Delta}", reference="Table 2",
                     description="Imbalance lower level max(lambda_n(D0), 0) + max(lambda_m(-D0), 0).")
Delta_plus = register("Delta_plus", kind="expression", expr=lambda_plus - sp.Max(lambda_n_D0, 0),
                      latex=r"\Delta_+", reference="Table 2",
                      description="Spread of the top n eigenvalues of D(0): lambda_+ - max(lambda_n(D0), 0).")
Delta_minus = register("Delta_minus", kind="expression", expr=lambda_minus - sp.Max(lambda_m_negD0, 0),
                       latex=r"\Delta_-", reference="Table 2",
                       description="Spread of the top m eigenvalues of -D(0): lambda_- - max(lambda_m(-D0), 0).")
beta1 = register("beta1", kind="expression", expr=sp.Max(0, sigma_min_Wstar - sp.sqrt(K / mu) * dist0),
                 latex=r"\beta_1", reference="Table 2",
                 description="Margin: lower bound on sigma_min(W(t)) along GD.")
beta2 = register("beta2", kind="expression", expr=sigma_max_Wstar + sp.sqrt(K / mu) * dist0,
                 latex=r"\beta_2", reference="Table 2",
                 description="Upper bound on sigma_max(W(t)) along GD.")
# alpha1 is the mean of two halves sqrt((Delta_pm + Delta_low)^2 + 4 beta1^2) - Delta_pm; each half is
# compiled as (Delta_low (2 Delta_pm + Delta_low) + 4 beta1^2) / (sqrt(.) + Delta_pm), so alpha1 = 0
# (no imbalance, no margin) comes out exactly 0, not +-1e-16 (evaluate.stable_form).
alpha1_plus = register(
    "alpha1_plus", kind="expression",
    expr=sp.sqrt((Delta_plus + Delta_low) ** 2 + 4 * beta1 ** 2) - Delta_plus,
    latex=r"\alpha_1^{+}", reference="Table 2 (first half of alpha1)",
    description="sqrt((Delta_+ + Delta_low)^2 + 4 beta1^2) - Delta_+ (>= Delta_low >= 0).")
alpha1_minus = register(
    "alpha1_minus", kind="expression",
    expr=sp.sqrt((Delta_minus + Delta_low) ** 2 + 4 * beta1 ** 2) - Delta_minus,
    latex=r"\alpha_1^{-}", reference="Table 2 (second half of alpha1)",
    description="sqrt((Delta_- + Delta_low)^2 + 4 beta1^2) - Delta_- (>= Delta_low >= 0).")
alpha1 = register(
    "alpha1", kind="expression", expr=(alpha1_plus + alpha1_minus) / 2,
    latex=r"\alpha_1", reference="Table 2",
    description="Lower bound on sigma_min^2(T_0) (Lemma E.3); Theorem 3.2 needs alpha1 > 0.")
alpha2 = register(
    "alpha2", kind="expression",
    expr=(lambda_plus + sp.sqrt(lambda_plus ** 2 + 4 * beta2 ** 2)) / 2
    + (lambda_minus + sp.sqrt(lambda_minus ** 2 + 4 * beta2 ** 2)) / 2,
    latex=r"\alpha_2", reference="Table 2",
    description="Upper bound on sigma_max^2(T_0) (Lemma E.3).")
alpha_ratio = register("alpha_ratio", kind="expression", expr=alpha1 / alpha2, latex=r"\alpha_1/\alpha_2",
                       reference="Theorem 3.3, eq. (21)",
                       description="Lower bound on 1/kappa(T_0); near 1 means a well-conditioned T_0.")

# ------------------------------------------------------------- Theorem 3.1
mu_t = register("mu_t", kind="expression", expr=mu * sigma_min_T_sq, latex=r"\mu_t", reference="eq. (11)",
                description="Local PL constant at the current iterate.")
K_t = register(
    "K_t", kind="expression",
    expr=K * sigma_max_T_sq + sp.sqrt(2 * K * L_t) + 6 * K ** 2 * sigma_max_W * L_t * eta ** 2
    + 3 * K * sigma_max_T_sq * sp.sqrt(2 * K * L_t) * eta,
    latex="K_t", reference="eq. (12)",
    description="Local smoothness constant at the current iterate; depends on the step eta itself.")
rho = register("rho", kind="expression", expr=1 - 2 * mu_t * eta + mu_t * K_t * eta ** 2,
               latex=r"\rho(\eta_t, t)", reference="eq. (10)",
               description="Theorem 3.1's rate: L(t+1) <= rho L(t) when 0 < eta K_t < 2.")
eta_hat = register(
    "eta_hat", kind="equation", expr=eta * K_t - 1, unknown=eta, latex=r"\hat\eta_t",
    reference="eq. (19), typo reading 4",
    description="The '1/K_t' of eq. (19): the unique positive root of eta K_t(eta) = 1 (a cubic in eta).")
# Beyond the paper (the `local` schedule): the step minimizing rho(eta, t) with
# K_t's own dependence on eta taken into account. Since
# d rho / d eta = mu_t (d/d eta [eta^2 K_t(eta)] - 2), the minimizer is the
# unique positive root of a cubic with positive coefficients (but the constant).
eta_local = register(
    "eta_local", kind="equation", expr=sp.expand(sp.diff(eta ** 2 * REGISTRY["K_t"].expr, eta) - 2),
    unknown=eta, latex=r"\eta^{\mathrm{loc}}_t", reference="argmin of eq. (10) (beyond the paper)",
    description="Step minimizing rho(eta, t) with K_t(eta) substituted: root of d/deta[eta^2 K_t] = 2.")

# ------------------------------------------------------------- Lemma C.1 (Xu et al. 2023)
rho_xu = register(
    "rho_xu", kind="expression",
    expr=1 - 2 * eta * mu * sigma_min_T_sq + K * mu * eta ** 2 * sigma_max_T_sq ** 2
    + 2 * eta ** 2 * mu * sigma_max_W * grad_l_norm
    + 2 * eta ** 3 * mu * K * sigma_max_T_sq * sigma_max_W * grad_l_norm
    + eta ** 4 * mu * K * sigma_max_W ** 2 * grad_l_norm ** 2,
    latex=r"\rho_{\mathrm{Xu}}(\eta_t, t)", reference="Lemma C.1, eq. (50)",
    description="Degree-4 rate of Xu et al. (2023): L(t+1) <= rho_xu L(t) when eq. (48) holds.")
xu_constraint = register(
    "xu_constraint", kind="expression",
    expr=sigma_min_T_sq - eta * grad_l_norm * W_fro
    - K * eta / 2 * (sigma_max_T_sq + eta * grad_l_norm * W_fro) ** 2,
    latex=r"g_{48}(\eta_t)", reference="Lemma C.1, eq. (48)",
    description="Left side of eq. (48); Lemma C.1 needs it >= 0 (decreasing in eta, positive at 0).")
eta_xu_star = register(
    "eta_xu_star", kind="equation", expr=sp.expand(sp.diff(REGISTRY["rho_xu"].expr, eta) / (2 * mu)), unknown=eta,
    latex=r"\eta^{\mathrm{Xu}*}_t", reference="eq. (50), stationary point",
    description="Unconstrained minimizer of rho_xu: unique positive root of d rho_xu / d eta = 0.")
eta_48 = register(
    "eta_48", kind="equation", expr=xu_constraint, unknown=eta, latex=r"\eta^{(48)}_t",
    reference="eq. (48), boundary", description="Largest step satisfying eq. (48): root of its left side.")

# ------------------------------------------------------------- Theorem 3.2 / E.1
mubar = register("mubar", kind="expression", expr=mu * (alpha1 + 2 * alpha2 * (1 - sp.exp(eta0 ** c))),
                 latex=r"\bar\mu", reference="Theorem E.1 (Theorem 3.2)",
                 description="Uniform lower bound on mu_t along GD under the step-size constraints.")
# Kbar_t refers to rhobar0 and Delta, which refer to Kbar_0 = Kbar_t at t = 0; the
# symbols are registered first so that the expressions below stay acyclic.
rhobar0_sym = sp.Symbol("rhobar0", real=True)
Delta_sym = sp.Symbol("Delta", real=True)
_Kbar_t_expr = (sp.sqrt(2 * K * L0 * rhobar0_sym ** t) + 6 * K ** 2 * beta2 * L0 * eta0 ** 2 * Delta_sym ** t
                + K * sp.exp(eta0 ** c) * alpha2 * (1 + 3 * sp.sqrt(2 * K * L0 * Delta_sym ** t) * eta0))
Kbar0 = register("Kbar0", kind="expression", expr=_Kbar_t_expr.subs(t, 0), latex=r"\bar K_0",
                 reference="eq. (91)", description="Kbar_t at t = 0; eq. (87) is eta0 Kbar_0(eta0) = 1.")
rhobar0 = register("rhobar0", kind="expression", expr=1 - 2 * mubar * eta0 + mubar * Kbar0 * eta0 ** 2,
                   latex=r"\bar\rho(\eta_0, 0)", reference="Theorem E.1, eq. (90)",
                   description="Guaranteed per-step rate: L(t) <= L(0) rhobar0^t.")
Delta = register("Delta", kind="expression", expr=(1 + eta0 ** d) * rhobar0, latex=r"\Delta",
                 reference="Theorem E.1", description="Delta = (1 + eta0^d) rhobar0; the proof needs 0 < Delta < 1.")
Kbar_t = register("Kbar_t", kind="expression", expr=_Kbar_t_expr, latex=r"\bar K_t",
                  reference="eq. (114), typo readings 1 and 3",
                  description="Upper bound on K_t along GD; decreases to K exp(eta0^c) alpha2.")
rhobar = register("rhobar", kind="expression", expr=1 - 2 * mubar * eta + mubar * Kbar_t * eta ** 2,
                  latex=r"\bar\rho(\eta_t, t)", reference="Theorem E.1, eq. (90)",
                  description="Time-varying guaranteed rate: L(t+1) <= rhobar(eta_t, t) L(t).")
eta0_1 = register("eta0_1", kind="equation", expr=eta0 * Kbar0 - 1, unknown=eta0, latex=r"\eta_0^{(1)}",
                  reference="eq. (87)",
                  description="Unique positive root of eta0 Kbar_0(eta0) = 1 (left side increases from 0).")
eta0_2 = register(
    "eta0_2", kind="equation", expr=(1 - sp.exp(-eta0 ** c)) * (1 - Delta) - 4 * K * L0 * eta0 ** 2,
    unknown=eta0, latex=r"\eta_0^{(2)}", reference="eq. (88), footnote 4",
    description="Smallest positive root of 4 K L(0) eta0^2 = (1 - exp(-eta0^c))(1 - Delta); +inf if none.")
eta0_3 = register("eta0_3", kind="expression", expr=sp.log(1 + alpha1 / (2 * alpha2)) ** (1 / c),
                  latex=r"\eta_0^{(3)}", reference="Theorem E.1",
                  description="Third term of eta_max, log(1 + alpha1/(2 alpha2))^(1/c); below it mubar > 0.")
eta_max = register("eta_max", kind="expression", expr=sp.Min(eta0_1, eta0_2, eta0_3), latex=r"\eta_{\max}",
                   reference="Theorem E.1",
                   description="Largest admissible eta0 of Theorem E.1: min(eta0^(1), eta0^(2), third term).")
growth_cap = register("growth_cap", kind="expression", expr=(1 + eta0 ** d) ** (t / 2) * eta0,
                      latex=r"(1+\eta_0^d)^{t/2}\eta_0", reference="eq. (89), typo reading 2 (eqs. 103, 114)",
                      description="Growth cap on eta_t: eta0 <= eta_t <= min(cap, 1/K_t).")
local_rate = register(
    "local_rate", kind="expression",
    expr=1 - (mu / K) * (alpha1 + 2 * alpha2 * (1 - sp.exp(eta0 ** c))) / (sp.exp(eta0 ** c) * alpha2),
    latex=r"\rho_{\mathrm{loc}}", reference="remark after Theorem 3.2",
    description="Predicted asymptotic local rate 1 - (mu/K)(mubar/mu)/(exp(eta0^c) alpha2).")
local_rate_limit = register(
    "local_rate_limit", kind="expression", expr=1 - (mu / K) * alpha1 / alpha2,
    latex=r"\rho_{\mathrm{loc}}(0^+)", reference="remark after Theorem 3.2",
    description="Limit of the local rate as eta0 -> 0: 1 - (mu/K) alpha1/alpha2.")
drift_step_bound = register(
    "drift_step_bound", kind="expression", expr=2 * K * eta ** 2 * sigma_max_T_sq * L_t,
    latex=r"\|D(t+1)-D(t)\|_F^{\mathrm{bd}}", reference="Lemma E.2, eq. (102)",
    description="Bound on one step's imbalance change ||D(t+1) - D(t)||_F.")
drift_total_bound = register(
    "drift_total_bound", kind="expression",
    expr=2 * K * eta0 ** 2 * alpha2 * sp.exp(eta0 ** c) * L0 / (1 - Delta), stable_in="eta0",
    latex=r"\|D(t)-D(0)\|_F^{\mathrm{bd}}", reference="proof of Theorem E.1, A_3(t), eq. (103)",
    description="Uniform bound on the imbalance drift ||D(t) - D(0)||_F under the theorem's constraints.")
# 1 - Delta cancels catastrophically when eq. (88) binds (1 - Delta ~ 4 K L0 eta0^2 / eta0^c): registered on
# its own so that it is compiled (and evaluated in mpmath) in the expanded form whose 1's cancel symbolically.
one_minus_Delta = register(
    "one_minus_Delta", kind="expression", expr=1 - Delta, stable_in="eta0", latex=r"1 - \Delta",
    reference="Theorem E.1, eqs. (88), (103)",
    description="1 - Delta, expanded in eta0 so that its 1's cancel exactly; the proof needs it > 0.")
drift_total_bound_eq110 = register(
    "drift_total_bound_eq110", kind="expression", expr=alpha2 * (sp.exp(eta0 ** c) - 1) / 2,
    latex=r"\alpha_2 (e^{\eta_0^c} - 1)/2", reference="proof of Theorem E.1, eq. (110)",
    description="drift_total_bound at eta0 = eta0^(2), where eq. (88) makes it alpha2 (exp(eta0^c) - 1)/2; "
                "an upper bound on it wherever eq. (94) holds.")

# ---------------------------------------------------------------- Theorem 3.3's proof (Appendix F): width
# The sizes and the initialization of Theorem 3.3 (entries N(0, h^(-2p))), for `convtool widths`.
n = register("n", kind="primitive", latex="n", reference="Problem 1", description="Rows of W (columns of X).")
m = register("m", kind="primitive", latex="m", reference="Problem 1", description="Columns of W (columns of Y).")
h = register("h", kind="primitive", latex="h", reference="Problem 2", description="Hidden width of W1 (n x h), W2 (m x h).")
p = register("p", kind="primitive", latex="p", reference="Theorem 3.3",
             description="Initialization scale exponent: entries of W1(0), W2(0) i.i.d. N(0, h^(-2p)), 0 < p < 1/2.")
delta = register("delta", kind="primitive", latex=r"\delta", reference="Theorem 3.3, Lemma F.5",
                 description="Failure probability of Theorem 3.3's bounds on the random initialization.")
Wstar_fro = register("Wstar_fro", kind="primitive", latex=r"\|W^*\|_F", reference="eq. (128)",
                     description="Frobenius norm of the minimizer W*.")
B_F5 = register("B_F5", kind="expression", expr=sp.sqrt(m + n) + sp.log(2 / delta) / 2, latex="B",
                reference="Lemma F.5, eq. (125)",
                description="B = sqrt(m + n) + (1/2) log(2/delta) of Lemma F.5 (Min et al. 2022, Lemma 11).")
alpha_ratio_bound = register(
    "alpha_ratio_bound", kind="expression",
    expr=(2 * (sp.sqrt(h) - B_F5) ** 2)
    / (2 * (sp.sqrt(h) + B_F5) ** 2 + 2 * (sigma_max_Wstar + sp.sqrt(kappa) * Wstar_fro) * h ** (2 * p)
       + 4 * sp.sqrt(kappa * m) * B_F5 * sp.sqrt(h)),
    latex=r"\underline{\alpha_1/\alpha_2}", reference="proof of Theorem 3.3, eq. (131)",
    description="Lower bound on alpha1/alpha2 at width h (numerator and denominator of eq. (131) times h^(2p)); "
                "holds w.p. >= 1 - 2 delta (eqs. 125, 129) once sqrt(h) > B; tends to 1 as h grows for p < 1/2.")
