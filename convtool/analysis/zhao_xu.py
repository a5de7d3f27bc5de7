"""Quantities of Zhao & Xu on deep linear networks (paper key ``"zhao-xu"``).

Hongru Zhao and Jinchao Xu, "Convergence Analysis and Trajectory Comparison of
Gradient Descent for Overparameterized Deep Linear Networks", TMLR 07/2024
(OpenReview ``jG7ndW7UHp``). Paper text: ``shared/papers/deep-linear-trajectory-zhao-xu.txt``;
reading notes: ``shared/notes/deep-linear-trajectory.md``. Equation numbers are the paper's.

Every constant of Section 2 (the convex problem, eqs. 3, 4), Section 3 (eq. 10, 11,
Theorems 1, 2, Corollary 3), Appendix B (eq. 22, Theorems 4-6), Lemma 3 with its
proof constants (Claims 1-3, eqs. 33-45), Lemmas 4-6 is registered here once, in
the ``zhao-xu`` namespace. Quantities marked ``derived`` are not printed in the
paper: they are worked out from its proofs (each description says how).

Conventions
-----------
* Data are row samples (convtool's files): ``X`` is M x n_0, so the paper's
  ``lambda(X X^T)`` (column samples) are the eigenvalues of ``X^T X`` here;
  ``lambda_min_pos`` is the smallest *nonzero* one (Lemma 1's convention).
* ``loss_scale`` s gives ``alpha = s lambda_min_pos``, ``beta = s lambda_max``:
  s = 1 for Appendix G's ``1/2 ||W X - Y||_F^2``, s = 2/M for Example 1's ``(1/M) ||W X - Y||_F^2``.
* ``N`` is the depth (number of weight matrices), ``n_N`` the output width,
  ``n_min``, ``n_max`` the extreme *hidden* widths, ``N_distinct`` the number of
  distinct hidden widths (the paper's calligraphic N, which the OCR prints as N).
* Readings (notes section 6, checked against the paper text): ``ln N`` in C1 and C5
  is the depth (union bound over the N^2 layer pairs of the Gaussian proof), ``ln``
  of N_distinct in C2 and C6 (union over distinct widths in the proof of Theorem 5);
  Theorem 5's eq. (24) prints C5, read as C6 (C6 is defined and otherwise unused);
  the proofs of Theorems 4-6 apply Lemma 3 with ``c1 = c/6``, ``c2 = c/3``, so
  ``6 c1 + 3 c2 = 2 c`` and Lemma 3's step is ``(1 - eps) eta0_c``.
* Two rates: Lemma 3 *states* ``1 - eta gamma`` with ``gamma = 2 e^{6 c1} eps alpha N / n_N``
  (Theorems 4-6: factor ``e^{-c}``), but its proof ends with
  ``1 - e^{-6(c1 + c2)} 4 eps (1 - eps) / kappa`` (factor ``e^{-3c}``), which is
  ``1 - eta gamma`` only for ``gamma_proof = 2 e^{-3 c2} eps alpha N / n_N``. Both are
  registered (``*_printed`` and the proof's); the drift radius R uses ``gamma_proof``,
  the rate the induction actually carries.
* Theorem 2's tau is a rescaling: the proof of Lemma 6 ends "replace all 14 tau and
  7 tau by tau". With ``tau`` the residual ratio of eq. (16) (what a run measures,
  max of tau_hat so far) the proof gives ``D_R``, ``bound_12*_R``; the printed
  ``D_printed``, ``bound_12*`` at the same ``tau`` are the formulas as printed and
  are implied by the proof only when evaluated at 14 tau.

Where the notes are wrong or loose (checked against the paper text and by
tests/test_zhao_xu_formulas.py)
-------------------------------------------------------------------------------
* Notes section 5, item 11 (``dln_PL``) uses (43)'s printed ``e^{-2 c2}`` although
  section 6, item 3 of the same notes shows that the bounds B(t) of the proof only
  give ``e^{-4 c2}`` (and ``e^{4 c1}`` above); item 10 writes these as ``e^{-+4c}``.
  Here: ``p_lo_bound_43``/``p_hi_bound_43`` (printed) and ``p_lo_bound_B``/``p_hi_bound_B``
  (derived from B(t)); ``pl_dln`` is written with the measured ``p_lo``.
* Notes section 4.3: "q + 7 tau_R = 0.795" with tau_R = 0.030 and q = 0.583; the
  formula gives 0.793 (0.795 needs tau_R = 0.0303: rounding). D_R(t = 1) = 14 tau_R = 0.42 agrees.
* Notes section 3.6 (and the paper's Claim 3) bound ``eta e K M N^{theta+1} / sqrt(n_min)`` by
  ``2 sqrt(2) M e^{1 + 2 c1} sqrt(B0) N^theta sqrt(n_N / n_min)``: valid, but it drops the
  factor ``e^{-(6 c1 + 3 c2)} (1 - eps)`` of the step, so ``C_claim3`` is conservative.
  The other derived identities of the notes (eq. 10 as a max, eta/eta0 = e^{2c}/2 at
  Theorem 1's step, Lemma 3's numbers at c = 0.3 and 0.1, the tau formula, D_R) check out.

Examples
--------
>>> from convtool.analysis import get
>>> get("zhao-xu:alpha").display_expr
lambda_min_pos*loss_scale
>>> get("eta_star").paper, get("eta_star").inputs
('zhao-xu', ('N', 'eta', 'n_N'))
>>> from convtool.analysis.evaluate import evaluate
>>> v = evaluate({"loss_scale": 1.0, "lambda_max": 4.0, "lambda_min_pos": 1.0, "n_N": 2.0, "N": 3.0},
...              ["kappa", "eta_thm1", "rate_cvx_3"], paper="zhao-xu")
>>> v["kappa"], round(v["eta_thm1"], 6), v["rate_cvx_3"]
(4.0, 0.166667, 0.75)
"""

from __future__ import annotations

import functools

import sympy as sp

from convtool.analysis.registry import register as _register

P = "zhao-xu"
register = functools.partial(_register, paper=P)

#: Defaults of the user parameters (the numeric layer's; here for reference).
DEFAULTS = {"delta": 0.1, "c": 0.1, "C": 1.0, "theta": 0.5}

_exp, _log, _sqrt = sp.exp, sp.log, sp.sqrt


def _Max(*args):
    # unevaluated: sympy's Max/Min would compare the arguments under their assumptions at import (slow)
    return sp.Max(*args, evaluate=False)


def _Min(*args):
    return sp.Min(*args, evaluate=False)

# ---------------------------------------------------------------- primitives: network and data
N = register("N", kind="primitive", latex="N", reference="Section 2.2", positive=True,
             description="Depth: number of weight matrices W_1..W_N (N - 1 hidden layers).")
n_N = register("n_N", kind="primitive", latex="n_N", reference="Section 2.2", positive=True,
               description="Output width n_N = n_y (rows of W_N).")
n_0 = register("n_0", kind="primitive", latex="n_0", reference="Section 2.2", positive=True,
               description="Input dimension n_0 = n_x (columns of W_1).")
n_min = register("n_min", kind="primitive", latex=r"n_{\min}", reference="Section 2.2", positive=True,
                 description="Smallest hidden width min(n_1..n_{N-1}) (hidden layers only).")
n_max = register("n_max", kind="primitive", latex=r"n_{\max}", reference="Section 2.2", positive=True,
                 description="Largest hidden width max(n_1..n_{N-1}) (hidden layers only).")
N_distinct = register("N_distinct", kind="primitive", latex=r"\mathcal{N}", reference="after eq. (11)",
                      positive=True,
                      description="Number of distinct hidden widths in {n_1..n_{N-1}} (the paper's calligraphic "
                                  "N; the OCR shows N).")
Delta_1 = register("Delta_1", kind="primitive", latex=r"\Delta_1", reference="Appendix E", positive=True,
                   description="Sum of 1/n_j over the hidden layers j = 1..N-1 (Gaussian concentration parameter).")
rank_X = register("rank_X", kind="primitive", latex=r"\operatorname{rank}(X)", reference="Section 2.2",
                  positive=True, description="Rank r of the data matrix X.")
lambda_max = register("lambda_max", kind="primitive", latex=r"\lambda_{\max}(XX^T)", reference="Section 2.1",
                      positive=True,
                      description="Largest eigenvalue of X^T X for row-sample X (the paper's XX^T, column samples).")
lambda_min_pos = register(
    "lambda_min_pos", kind="primitive", latex=r"\lambda_{\min}^{+}(XX^T)", reference="Lemma 1", positive=True,
    description="Smallest NONZERO eigenvalue of X^T X for row-sample X (Lemma 1's lambda_min); needs X != 0.")
loss_scale = register(
    "loss_scale", kind="primitive", latex="s", reference="Example 1, Appendix G", positive=True,
    description="Curvature scale s of the squared loss: 1 for Appendix G's 1/2 ||WX - Y||_F^2, 2/M for "
                "Example 1's (1/M) ||WX - Y||_F^2 (M samples).")
lstar = register("lstar", kind="primitive", latex=r"L(W^*)", reference="Section 2.1", nonnegative=True,
                 description="Optimal value L(W*) of the convex problem (1); the gaps below are L - L(W*).")
E0 = register("E0", kind="primitive", latex=r"\mathcal{E}_{DLN}(0)", reference="Section 3", nonnegative=True,
              description="Initial gap E_DLN(0) = L(a_N W_{N:1}(0)) - L(W*) (= E(0) of the convex run from the "
                          "same start).")
dist0_X_sq = register(
    "dist0_X_sq", kind="primitive", latex=r"\|a_N W_{N:1}(0) - W^*\|_X^2", reference="Theorem 2",
    nonnegative=True,
    description="Squared semi-norm distance ||a_N W_{N:1}(0) - W*||_X^2 of the initial end-to-end matrix to W*.")
Wstar_X_sq = register("Wstar_X_sq", kind="primitive", latex=r"\|W^*\|_X^2", reference="Lemma 2", nonnegative=True,
                      description="||W* P_X||_F^2 of a minimizer (unique on the row space of the data, Lemma 7).")
c1_hat = register(
    "c1_hat", kind="primitive", latex=r"\hat c_1", reference="eq. (14)",
    description="Smallest c1 with lines 1-4 of (14) at the initialization: 2 max ln of the normalized singular "
                "values of W_{N:i+1}(0) and W_{i-1:1}(0)|R(X) (may be <= 0: then every c1 > 0 is admissible).")
c2_hat = register(
    "c2_hat", kind="primitive", latex=r"\hat c_2", reference="eq. (14)",
    description="Smallest c2 with lines 1-4 of (14): -2 min ln of the normalized singular values (inf when a "
                "product is singular on the data: the initialization is in no region).")
M_hat = register(
    "M_hat", kind="primitive", latex=r"\hat M", reference="eq. (14)", positive=True,
    description="Smallest M with line 5 of (14) at exponent theta. Not applicable for N <= 2 (no pair "
                "1 < i <= j < N: line 5 is vacuous and M = 1 satisfies it).")
p_lo = register(
    "p_lo", kind="primitive", latex=r"p_{\mathrm{lo}}", reference="eqs. (41), (43)", positive=True,
    description="(n_N/N) lambda_min of the operator P(t) of eq. (41) on {A = A P_X} at the current iterate.")
p_hi = register(
    "p_hi", kind="primitive", latex=r"p_{\mathrm{hi}}", reference="eqs. (41), (43)", positive=True,
    description="(n_N/N) lambda_max of the operator P(t) of eq. (41) on {A = A P_X} at the current iterate.")

# ---------------------------------------------------------------- primitives: user parameters
delta = register("delta", kind="primitive", latex=r"\delta", reference="Lemma 2, Theorems 1, 2, 4-6",
                 positive=True,
                 description="Failure probability (default 0.1): 0 < delta < 1/2 (Theorems 1, 4-6), < 1 (Theorem 2).")
c = register("c", kind="primitive", latex="c", reference="eq. (22), Theorems 4-6", positive=True,
             description="Exponent c > 0 of eta0 = 2 n_N/(e^{2c} N beta) (default 0.1); the proofs use c1 = c/6, "
                         "c2 = c/3.")
C = register("C", kind="primitive", latex="C", reference="Theorems 1, 2, 4-6", positive=True,
             description="The theorems' unspecified constant C(c), C(eps) or C(tau, eta/eta1) (default 1): the "
                         "paper proves it exists but never gives it, so width_thm* are the requirements up to C.")
eta = register("eta", kind="primitive", latex=r"\eta", reference="eq. (7)", positive=True,
               description="Step size of GD (7) on the deep linear network (the one the step-dependent constants "
                           "use).")
theta = register("theta", kind="primitive", latex=r"\theta", reference="eq. (14)", nonnegative=True,
                 description="Exponent theta of line 5 of (14) (default 1/2, the Gaussian proof; 0 for orthogonal "
                             "and balanced initializations).")
eps = register("eps", kind="primitive", latex=r"\varepsilon", reference="Lemma 3, Theorem 1", positive=True,
               description="Slack 0 < eps < 1: Lemma 3's step (1 - eps) 2 n_N/(e^{6c1+3c2} beta N), Theorem 1's "
                           "rate 1 - (1 - eps)/kappa (there 0 < eps < 1/2).")
tau = register("tau", kind="primitive", latex=r"\tau", reference="eq. (16), Lemma 5", nonnegative=True,
               description="Residual ratio bound of (16): ||R(t)||_X <= tau ||a_N W_{N:1}(t) - W*||_X (per step: "
                           "the max of the measured tau_hat so far); Lemma 5 needs 0 <= tau < 1.")
t = register("t", kind="primitive", latex="t", reference="Theorem 2", nonnegative=True,
             description="Iteration counter.")

# ---------------------------------------------------------------- convex problem (Section 2.1)
alpha = register("alpha", kind="expression", expr=loss_scale * lambda_min_pos, latex=r"\alpha",
                 reference="Lemma 1, Example 1",
                 description="Strong convexity constant of L w.r.t. ||.||_X: s lambda_min^+(XX^T) (best constant "
                             "for the squared loss).")
beta = register("beta", kind="expression", expr=loss_scale * lambda_max, latex=r"\beta",
                reference="Section 2.1, Example 1",
                description="Lipschitz constant of grad L w.r.t. ||.||_X: s lambda_max(XX^T).")
kappa = register("kappa", kind="expression", expr=beta / alpha, latex=r"\kappa", reference="Section 2.1",
                 description="Effective condition number beta/alpha of L.")
rate_cvx_3 = register("rate_cvx_3", kind="expression", expr=1 - 1 / kappa, latex=r"\rho_{(3)}",
                      reference="eq. (3)",
                      description="Convex GD (2) with eta_* = 1/beta: E(t) <= rate^t E(0).")
rate_cvx_4 = register("rate_cvx_4", kind="expression", expr=1 - 4 * kappa / (1 + kappa) ** 2, latex=r"\rho_{(4)}",
                      reference="eq. (4)",
                      description="Convex GD (2) with eta_* = 2/(alpha + beta): E(t) <= beta/2 rate^t "
                                  "||W(0) - W*||_X^2; rate = ((kappa - 1)/(kappa + 1))^2.")
bound_cvx_3 = register("bound_cvx_3", kind="expression", expr=rate_cvx_3 ** t * E0, latex=r"\mathcal{E}^{(3)}(t)",
                       reference="eq. (3), Remark 3",
                       description="Bound (3) on the convex gap E(t) from the DLN's start W(0) = a_N W_{N:1}(0).")
bound_cvx_4 = register("bound_cvx_4", kind="expression", expr=beta / 2 * rate_cvx_4 ** t * dist0_X_sq,
                       latex=r"\mathcal{E}^{(4)}(t)", reference="eq. (4)",
                       description="Bound (4) on the convex gap E(t) from the DLN's start, at eta_* = 2/(alpha + beta).")

# ---------------------------------------------------------------- widths (Section 3, eqs. 11, 22)
C0 = register("C0", kind="expression", expr=n_max / n_min, latex="C_0", reference="Section 3",
              description="Width ratio n_max/n_min (the smallest admissible C_0 of the standing assumption).")
width_standing = register(
    "width_standing", kind="expression", expr=_Max(n_0, n_N), latex=r"\max\{n_0, n_N\}", reference="Section 3",
    description="Standing assumption of Section 3: n_min >= max(n_0, n_N) (thinnest layer is input or output).")
B_delta = register("B_delta", kind="expression", expr=2 * rank_X / delta + Wstar_X_sq, latex=r"B_\delta",
                   reference="Lemma 2",
                   description="With probability >= 1 - delta/2, E_DLN(0) <= beta B_delta (any init with eq. 8).")
eta0_c = register("eta0_c", kind="expression", expr=2 * n_N / (_exp(2 * c) * N * beta), latex=r"\eta_0",
                  reference="eq. (22), Theorems 4-6",
                  description="eta0 = 2 n_N/(e^{2c} N beta); Theorems 4-6 (and C4-C6) need eta < eta0.")
_eps_c = (eta0_c - eta) ** 2 / eta0_c ** 2
width_C1 = register("width_C1", kind="expression", expr=n_N * kappa ** 2 * B_delta * C0 + _log(N), latex="C_1",
                    reference="eq. (11)",
                    description="C1 = n_N kappa^2 B_delta C0 + ln N, N the depth (reading of the OCR's ln N).")
width_C2 = register("width_C2", kind="expression", expr=n_N * kappa ** 2 * B_delta * C0 + C0 * _log(N_distinct),
                    latex="C_2", reference="eq. (11)",
                    description="C2 = n_N kappa^2 B_delta C0 + C0 ln(N_distinct), N_distinct the number of distinct "
                                "hidden widths.")
width_C3 = register("width_C3", kind="expression", expr=n_N * kappa ** 2 * B_delta, latex="C_3",
                    reference="eq. (11)", description="C3 = n_N kappa^2 B_delta.")
width_C4 = register("width_C4", kind="expression", expr=n_N * kappa ** 2 * B_delta / _eps_c, latex="C_4",
                    reference="eq. (22)",
                    description="C4 = n_N kappa^2 B_delta / ((eta0 - eta)^2/eta0^2); needs eta < eta0_c (with eta = "
                                "eta_thm1 that fails for c >= ln(2)/2).")
width_C5 = register("width_C5", kind="expression", expr=n_N * kappa ** 2 * B_delta * C0 / _eps_c + _log(N),
                    latex="C_5", reference="eq. (22)",
                    description="C5 = n_N kappa^2 B_delta C0 / ((eta0 - eta)^2/eta0^2) + ln N (N the depth); needs "
                                "eta < eta0_c.")
width_C6 = register("width_C6", kind="expression",
                    expr=n_N * kappa ** 2 * B_delta * C0 / _eps_c + C0 * _log(N_distinct), latex="C_6",
                    reference="eq. (22)",
                    description="C6 = n_N kappa^2 B_delta C0 / ((eta0 - eta)^2/eta0^2) + C0 ln(N_distinct); needs "
                                "eta < eta0_c.")
width_thm1_gaussian = register(
    "width_thm1_gaussian", kind="expression", expr=C * width_C1 * N, latex=r"n^{\mathrm{G}}_{1}",
    reference="Theorems 1, 2 (condition 1)",
    description="Width requirement n_min >= C C1 N for the Gaussian initialization (C unspecified).")
width_thm1_orthogonal = register(
    "width_thm1_orthogonal", kind="expression", expr=C * width_C2, latex=r"n^{\mathrm{O}}_{1}",
    reference="Theorems 1, 2 (condition 2)",
    description="Width requirement n_min >= C C2 for the one-peak orthogonal initialization (C unspecified).")
width_thm2_balanced = register(
    "width_thm2_balanced", kind="expression", expr=C * width_C3, latex=r"n^{\mathrm{B}}_{2}",
    reference="Theorem 2 (condition 3)",
    description="Width requirement n_min >= C C3 for the special balanced initialization (C unspecified).")
width_thm4 = register(
    "width_thm4", kind="expression", expr=C * width_C5 * N, latex=r"n^{\mathrm{G}}_{4}", reference="Theorem 4, eq. (23)",
    description="Width requirement n_min >= C C5 N (Gaussian, any eta < eta0_c; not applicable otherwise).")
width_thm5 = register(
    "width_thm5", kind="expression", expr=C * width_C6, latex=r"n^{\mathrm{O}}_{5}",
    reference="Theorem 5, eq. (24)",
    description="Width requirement n_min >= C C6 (one-peak orthogonal, eta < eta0_c); eq. (24) prints C5, but C6 "
                "is the orthogonal form (C5 has the Gaussian ln N).")
width_thm5_equal = register(
    "width_thm5_equal", kind="expression", expr=C * width_C4, latex=r"n^{\mathrm{O=}}_{5}",
    reference="Theorem 5, eq. (25)",
    description="Equal hidden widths n >= max(n_0, n_N) (printed min): eq. (24) relaxes to n >= C C4 (eta < eta0_c).")
width_thm6 = register(
    "width_thm6", kind="expression", expr=C * width_C4, latex=r"n^{\mathrm{B}}_{6}", reference="Theorem 6, eq. (26)",
    description="Width requirement n >= C C4 for the special balanced initialization (equal widths, eta < eta0_c).")
Delta1_max_thm4 = register(
    "Delta1_max_thm4", kind="expression", expr=_Min(1 / _log(N), 1 / _log(1 / delta)) / C,
    latex=r"\Delta_1^{\max}", reference="proof of Theorem 4",
    description="The Gaussian proof needs Delta_1 <= min(1/ln N, 1/ln(1/delta))/C(c) (C unspecified).")

# ---------------------------------------------------------------- step sizes (Theorems 1, 2, Corollary 3)
eta_thm1 = register("eta_thm1", kind="expression", expr=n_N / (beta * N), latex=r"\eta_{\mathrm{T1}}",
                    reference="Theorem 1, Appendix G (e)",
                    description="Theorem 1's step n_N/(beta N), i.e. eta_* = 1/beta; Appendix G's n_N/(N ||X||^2).")
eta_cor3 = register("eta_cor3", kind="expression", expr=2 * n_N / ((alpha + beta) * N), latex=r"\eta_{\mathrm{C3}}",
                    reference="Corollary 3",
                    description="Corollary 3's step 2 n_N/((alpha + beta) N), i.e. eta_* = 2/(alpha + beta).")
eta1 = register("eta1", kind="expression", expr=2 * n_N / (beta * N), latex=r"\eta_1", reference="Section 3.2",
                description="Upper limit 2 n_N/(beta N) of Theorem 2's steps (eta < eta1 iff eta_* < 2/beta).")
eta_star = register("eta_star", kind="expression", expr=N * eta / n_N, latex=r"\eta_*", reference="Theorem 2",
                    description="Step N eta/n_N of the corresponding convex GD (2) started at W(0) = a_N W_{N:1}(0).")
eta_over_eta1 = register("eta_over_eta1", kind="expression", expr=eta / eta1, latex=r"\theta_0",
                         reference="proof of Lemma 6",
                         description="theta_0 = eta/eta1; Theorem 2's constant is C(tau, eta/eta1); needs < 1.")
eta_ratio = register("eta_ratio", kind="expression", expr=eta / eta0_c, latex=r"\eta/\eta_0",
                     reference="Theorems 4-6",
                     description="eta/eta0_c; Theorems 4-6 need it < 1 (at eta_thm1 it is e^{2c}/2).")
eps_thm4 = register("eps_thm4", kind="expression", expr=1 - eta / eta0_c, latex=r"\varepsilon_{\eta}",
                    reference="proofs of Theorems 4-6",
                    description="The eps with which Theorems 4-6 apply Lemma 3: eta = (1 - eps) eta0_c; needs "
                                "eta < eta0_c.")

# ---------------------------------------------------------------- eq. (10), Lemma 5
q = register(
    "q", kind="expression",
    expr=sp.Piecewise((1 - alpha * eta_star * (2 - eta_star * alpha), sp.Le(eta_star, 2 / (alpha + beta),
                                                                            evaluate=False)),
                      (1 - beta * eta_star * (2 - eta_star * beta), sp.Lt(eta_star, 2 / beta, evaluate=False)),
                      (sp.nan, True), evaluate=False),
    latex="q", reference="eq. (10)",
    description="Contraction of ||W(t) - W*||_X^2 per convex step at eta_*; defined for 0 < eta_* < 2/beta "
                "(eta < eta1), nan (not applicable) beyond; equals max((1 - alpha eta_*)^2, (1 - beta eta_*)^2).")
lemma5_rate = register("lemma5_rate", kind="expression", expr=q + 7 * tau, latex=r"q + 7\tau", reference="Lemma 5",
                       description="||V(t) - W*||_X^2 <= (q + 7 tau)^t ||V(0) - W*||_X^2 for the DLN end-to-end "
                                   "iterates; informative when < 1.")
rate_cor3 = register("rate_cor3", kind="expression", expr=rate_cvx_4 + tau, latex=r"\rho_{(13)}",
                     reference="Corollary 3, eq. (13)",
                     description="Rate of (13): E_DLN(t) <= 3 beta (1 - 4 kappa/(1 + kappa)^2 + tau)^t "
                                 "||a_N W_{N:1}(0) - W*||_X^2 at eta = eta_cor3 (tau as in Theorem 2).")

# ---------------------------------------------------------------- Theorem 2 / Lemma 6
D_printed = register(
    "D_printed", kind="expression", expr=_Min(tau / (1 - q), 2 * (q + tau) ** t), latex=r"D(\tau, q, t)",
    reference="Theorem 2, eq. (12)",
    description="D(tau, q, t) = min(tau/(1 - q), 2 (q + tau)^t) as printed; the proof implies it only at 14x the "
                "residual ratio tau (Lemma 6 rescales); needs 0 < q < 1.")
D_R = register(
    "D_R", kind="expression", expr=_Min(14 * tau / (1 - q), 2 * ((q + 7 * tau) ** t - q ** t)), latex=r"D_R",
    reference="Lemma 6 proof (derived)", derived=True,
    description="The proof's D with tau the residual ratio of (16): min(14 tau/(1 - q), 2((q + 7 tau)^t - q^t)); "
                "needs 0 < q < 1; the second entry grows unless q + 7 tau < 1.")
bound_12a = register("bound_12a", kind="expression", expr=D_printed * dist0_X_sq,
                     latex=r"\|a_N W_{N:1}(t) - W(t)\|_X^2{}^{\mathrm{bd}}", reference="Theorem 2, eq. (12a)",
                     description="Printed (12a): distance of the DLN and convex trajectories, D(tau, q, t) "
                                 "||a_N W_{N:1}(0) - W*||_X^2.")
bound_12a_R = register("bound_12a_R", kind="expression", expr=D_R * dist0_X_sq,
                       latex=r"\|a_N W_{N:1}(t) - W(t)\|_X^2{}^{\mathrm{bd}}_R",
                       reference="Lemma 6 proof, (18a) (derived)", derived=True,
                       description="(12a) with the proof's D_R (tau = residual ratio).")
bound_12b = register("bound_12b", kind="expression",
                     expr=beta * (q ** (t / 2) * _sqrt(D_printed) + D_printed / 2) * dist0_X_sq,
                     latex=r"|\mathcal{E}_{DLN}(t) - \mathcal{E}(t)|^{\mathrm{bd}}", reference="Theorem 2, eq. (12b)",
                     description="Printed (12b): beta (q^{t/2} sqrt(D) + D/2) ||a_N W_{N:1}(0) - W*||_X^2 on the gap "
                                 "difference.")
bound_12b_R = register("bound_12b_R", kind="expression",
                       expr=beta * (q ** (t / 2) * _sqrt(D_R) + D_R / 2) * dist0_X_sq,
                       latex=r"|\mathcal{E}_{DLN}(t) - \mathcal{E}(t)|^{\mathrm{bd}}_R",
                       reference="Lemma 6 proof, (18b) (derived)", derived=True,
                       description="(12b) with the proof's D_R (tau = residual ratio).")
bound_12c = register("bound_12c", kind="expression", expr=3 * beta * (q + tau) ** t * dist0_X_sq,
                     latex=r"\mathcal{E}_{DLN}(t)^{\mathrm{bd}}", reference="Theorem 2, eq. (12c)",
                     description="Printed (12c): E_DLN(t) <= 3 beta (q + tau)^t ||a_N W_{N:1}(0) - W*||_X^2.")
bound_12c_R = register("bound_12c_R", kind="expression", expr=3 * beta * (q + 7 * tau) ** t * dist0_X_sq,
                       latex=r"\mathcal{E}_{DLN}(t)^{\mathrm{bd}}_R", reference="Lemma 6 proof, (18c) (derived)",
                       derived=True, description="(12c) as the proof derives it: 3 beta (q + 7 tau)^t ||.||_X^2.")
bound_12c_tight = register(
    "bound_12c_tight", kind="expression", expr=beta / 2 * (q + 7 * tau) ** t * dist0_X_sq,
    latex=r"\mathcal{E}_{DLN}(t)^{\mathrm{bd}}_{\beta/2}", reference="Lemma 5, eq. (27) (derived)",
    derived=True,
    description="Derived, 6x tighter than (12c): E_DLN(t) <= beta/2 ||V(t) - W*||_X^2 <= beta/2 (q + 7 tau)^t "
                "||V(0) - W*||_X^2.")

# ---------------------------------------------------------------- Theorems 1, 4-6: rates
rate_thm1 = register("rate_thm1", kind="expression", expr=1 - (1 - eps) / kappa, latex=r"\rho_{\mathrm{T1}}",
                     reference="Theorem 1",
                     description="E_DLN(t) <= rate^t E_DLN(0) at eta = eta_thm1 (w.p. >= 1 - delta, wide enough).")
rate_thm4_printed = register(
    "rate_thm4_printed", kind="expression", expr=1 - 4 * _exp(-c) * eta_ratio * (1 - eta_ratio) / kappa,
    latex=r"\rho_{\mathrm{T4}}", reference="Theorems 4, 5, 6",
    description="Printed rate 1 - 4 e^{-c} (eta/eta0)(1 - eta/eta0)/kappa of E_DLN(t); needs eta < eta0_c (with "
                "eta = eta_thm1: c < ln(2)/2).")
rate_thm4_proof = register(
    "rate_thm4_proof", kind="expression", expr=1 - 4 * _exp(-3 * c) * eta_ratio * (1 - eta_ratio) / kappa,
    latex=r"\rho_{\mathrm{T4}}^{\mathrm{proof}}", reference="Lemma 3 proof, Thms 4-6 (derived)",
    derived=True,
    description="The rate the proof of Lemma 3 establishes with c1 = c/6, c2 = c/3: e^{-3c} in place of the printed "
                "e^{-c}; "
                "needs eta < eta0_c.")
eps_thm1_printed = register(
    "eps_thm1_printed", kind="expression", expr=1 - (2 * _exp(c) - _exp(3 * c)), latex=r"\varepsilon_{\mathrm{T1}}",
    reference="Theorems 1, 4, 5 (derived)", derived=True,
    description="Theorem 1's eps implied by the printed Theorem 4/5 rate at eta = eta_thm1: 1 - (2e^c - e^{3c}) "
                "(~ c); needs c < ln(2)/2.")
eps_thm1_proof = register(
    "eps_thm1_proof", kind="expression", expr=1 - (2 * _exp(-c) - _exp(c)), latex=r"\varepsilon_{\mathrm{T1}}^{\mathrm{proof}}",
    reference="Theorem 1, Lemma 3 proof (derived)", derived=True,
    description="Theorem 1's eps implied by the proof's rate at eta = eta_thm1: 1 - (2e^{-c} - e^c) (~ 3c); needs "
                "c < ln(2)/2.")

# ---------------------------------------------------------------- Lemma 3 and its proof
c1 = register("c1", kind="expression", expr=c / 6, latex="c_1", reference="proofs of Theorems 4-6",
              description="c1 = c/6, the choice of every theorem proof (then 6 c1 + 3 c2 = 2c).")
c2 = register("c2", kind="expression", expr=c / 3, latex="c_2", reference="proofs of Theorems 4-6",
              description="c2 = c/3, the choice of every theorem proof.")
c_min_region = register(
    "c_min_region", kind="expression", expr=_Max(6 * c1_hat, 3 * c2_hat), latex=r"c_{\min}",
    reference="eq. (14), Thms 4-6 proofs (derived)", derived=True,
    description="Smallest c for which the initialization satisfies lines 1-4 of (14) with c1 = c/6, c2 = c/3 "
                "(inf when c2_hat is).")
M_L3 = register("M_L3", kind="expression", expr=_Max(M_hat, 1), latex="M", reference="Lemma 3 proof, Claim 2",
                description="M of Lemma 3: M_hat, or 1 if smaller (the proof assumes M >= 1); for N <= 2 take "
                            "M = 1 (M_hat is not applicable).")
B0 = register("B0", kind="expression", expr=E0 / beta, latex="B_0",
              reference="eq. (14), line 6 (derived)", derived=True,
              description="Smallest B0 with E_DLN(0) <= beta B0 for the actual initialization (derived); the theorem "
                          "proofs use B0 = B_delta instead.")
eta_L3 = register("eta_L3", kind="expression", expr=(1 - eps) * 2 * n_N / (_exp(6 * c1 + 3 * c2) * beta * N),
                  latex=r"\eta_\varepsilon", reference="Lemma 3",
                  description="Lemma 3's step (1 - eps) 2 n_N/(e^{6 c1 + 3 c2} beta N) (= (1 - eps) eta0_c).")
gamma_printed = register("gamma_printed", kind="expression", expr=2 * _exp(6 * c1) * eps * alpha * N / n_N,
                         latex=r"\gamma", reference="Lemma 3",
                         description="gamma as printed in Lemma 3 (its rate 1 - eta gamma is not what the proof shows).")
gamma_proof = register(
    "gamma_proof", kind="expression", expr=2 * _exp(-3 * c2) * eps * alpha * N / n_N,
    latex=r"\gamma_{\mathrm{proof}}", reference="Lemma 3 proof, (44) (derived)", derived=True,
    description="The gamma with 1 - eta_L3 gamma = the proof's rate rho_L3: 2 e^{-3 c2} eps alpha N/n_N.")
rho_L3 = register(
    "rho_L3", kind="expression", expr=1 - 4 * eps * (1 - eps) * _exp(-6 * (c1 + c2)) / kappa, latex=r"\rho_{L3}",
    reference="Lemma 3 proof, Claim 3",
    description="Rate the proof of Lemma 3 establishes: L_t - L* <= rho^t (L_0 - L*) in the region (14) under (15).")
rho_L3_printed = register("rho_L3_printed", kind="expression", expr=1 - eta_L3 * gamma_printed,
                          latex=r"1 - \eta\gamma", reference="Lemma 3",
                          description="Lemma 3's stated rate 1 - eta gamma (= 1 - 4 eps (1 - eps) e^{-3 c2}/kappa); "
                                      "faster than the proof's rho_L3.")
drift_radius_R = register(
    "drift_radius_R", kind="expression",
    expr=2 * _exp(2 * c1) * _sqrt(2 * beta * (beta * B0)) / (_sqrt(n_N) * gamma_proof), latex="R",
    reference="Lemma 3 proof, Claim 1 (derived)", derived=True,
    description="Radius R = 2 e^{2c1} sqrt(2 beta B)/(sqrt(n_N) gamma) of ||W_i(t) - W_i(0)||_F, B = beta B0, with "
                "the proof's gamma (derived; the printed gamma gives a smaller R).")
eps1 = register(
    "eps1", kind="expression",
    expr=_exp(-c1 / 2) * _Min(_exp(c1) - _exp(c1 / 2), _exp(-c2 / 2) - _exp(-c2), sp.Rational(1, 2)),
    latex=r"\varepsilon_1", reference="Lemma 3 proof, Claim 2",
    description="Perturbation budget of Claim 2: (1 + R M N^theta/sqrt(n_min))^N - 1 <= eps1 keeps (14) as B(t).")
xi = register(
    "xi", kind="expression",
    expr=_Min((_exp(-2 * c2) - _exp(-3 * c2)) / _exp(4 * c1 + 1),
              (_exp(6 * c1) - _exp(4 * c1)) / (4 * _exp(6 * c1 + 1)),
              _sqrt(_exp(6 * c1) - _exp(4 * c1)) / (2 * _exp(4 * c1 + 1)), 1),
    latex=r"\xi", reference="Lemma 3 proof, Claim 3, (45)",
    description="Relative size allowed to the high-order term E(t) of (42) in Claim 3 (bound 45).")
C_claim2 = register(
    "C_claim2", kind="expression", expr=2 * _exp(4 * c1 + 6 * c2) / _log(1 + eps1) ** 2, latex=r"C_{\mathrm{II}}",
    reference="Lemma 3 proof, Claim 2 (derived)", derived=True,
    description="Explicit C(c1, c2) of Claim 2: n_min >= C M^2 kappa^2 B0 N^{2 theta} n_N/eps^2 gives "
                "N R M N^theta/sqrt(n_min) <= ln(1 + eps1).")
C_claim3 = register(
    "C_claim3", kind="expression", expr=32 * _exp(2 + 4 * c1) / xi ** 2, latex=r"C_{\mathrm{III}}",
    reference="Lemma 3 proof, Claim 3 (derived)", derived=True,
    description="Explicit C(c1, c2) of Claim 3: n_min >= C M^2 B0 N^{2 theta} n_N gives the paper's bound "
                "2 sqrt(2) M e^{1+2c1} sqrt(B0) N^theta sqrt(n_N/n_min) <= xi/2.")
_width_factor = M_L3 ** 2 * B0 * N ** (2 * theta) * n_N
width_claim2 = register(
    "width_claim2", kind="expression", expr=C_claim2 * kappa ** 2 * _width_factor / eps ** 2,
    latex=r"n^{\mathrm{II}}_{\min}", reference="Lemma 3 proof, Claim 2 (derived)", derived=True,
    description="Width for Claim 2 (C(t) => B(t)); equals (N^{theta+1} M R/ln(1 + eps1))^2.")
width_claim3 = register(
    "width_claim3", kind="expression", expr=C_claim3 * _width_factor, latex=r"n^{\mathrm{III}}_{\min}",
    reference="Lemma 3 proof, Claim 3 (derived)", derived=True,
    description="Width for Claim 3 (A(t), B(t) => A(t+1)) from the paper's bound on eta e K M N^{theta+1}/sqrt(n_min).")
width_lemma3_derived = register(
    "width_lemma3_derived", kind="expression", expr=_Max(width_claim2, width_claim3), latex=r"n^{L3}_{\min}",
    reference="Lemma 3, eq. (15) (derived)", derived=True,
    description="An explicit sufficient n_min for Lemma 3 with c1 = c/6, c2 = c/3, M = max(M_hat, 1), B0 = E0/beta "
                "(derived; the paper leaves C(c1, c2) unspecified); needs c1_hat <= c1, c2_hat <= c2.")
C_lemma3_derived = register(
    "C_lemma3_derived", kind="expression", expr=_Max(C_claim2, C_claim3 * eps ** 2 / kappa ** 2),
    latex=r"C(c_1, c_2)", reference="eq. (15) (derived)", derived=True,
    description="The constant of (15) that width_lemma3_derived amounts to: max(C_claim2, C_claim3 eps^2/kappa^2).")

# ---------------------------------------------------------------- (43), Lemma 4, first-order rate
p_lo_bound_43 = register("p_lo_bound_43", kind="expression", expr=_exp(-2 * c2), latex=r"e^{-2c_2}",
                         reference="eq. (43)",
                         description="(43) as printed: lambda_min(P(t)) >= (N/n_N) e^{-2 c2}, i.e. p_lo >= this.")
p_hi_bound_43 = register("p_hi_bound_43", kind="expression", expr=_exp(2 * c1), latex=r"e^{2c_1}",
                         reference="eq. (43)",
                         description="(43) as printed: lambda_max(P(t)) <= (N/n_N) e^{2 c1}, i.e. p_hi <= this.")
p_lo_bound_B = register("p_lo_bound_B", kind="expression", expr=_exp(-4 * c2), latex=r"e^{-4c_2}",
                        reference="Lemma 3 proof, B(t) (derived)", derived=True,
                        description="What the bounds B(t) (e^{-c2} per factor) give for p_lo; (43)'s e^{-2c2} would "
                                    "need the e^{-c2/2} of (14).")
p_hi_bound_B = register("p_hi_bound_B", kind="expression", expr=_exp(4 * c1), latex=r"e^{4c_1}",
                        reference="Lemma 3 proof, B(t) (derived)", derived=True,
                        description="What the bounds B(t) (e^{c1} per factor) give for p_hi.")
tau_formula = register(
    "tau_formula", kind="expression",
    expr=2 * _exp(-6 * c1 - 3 * c2) * (_exp(4 * c1 + 1) * xi + _Max(_exp(2 * c1) - 1, 1 - _exp(-2 * c2))),
    latex=r"\tau(c_1, c_2, \xi)", reference="Lemma 4 proof (derived)", derived=True,
    description="Residual ratio (16) the proof of Lemma 4 guarantees in the region: 2 e^{-6c1-3c2}(e^{4c1+1} xi + "
                "max(e^{2c1} - 1, 1 - e^{-2c2})).")
pl_dln = register(
    "pl_dln", kind="expression", expr=2 * alpha * N * p_lo / n_N, latex=r"\mu_{DLN}",
    reference="eqs. (31), (41) (derived)", derived=True,
    description="Derived PL constant of the network: sum_j ||dL/dW_j||_F^2 = <grad L, P(t)[grad L]> >= this "
                "(L - L*).")
rho_first_order = register(
    "rho_first_order", kind="expression", expr=1 - 2 * alpha * eta_star * (p_lo - beta / 2 * eta_star * p_hi ** 2),
    latex=r"\hat\rho", reference="eq. (44), first order (derived)", derived=True,
    description="Per-step gap ratio predicted to first order in eta: 1 - 2 alpha eta_*(p_lo - beta eta_* p_hi^2/2); "
                "meaningful only when p_lo > beta eta_* p_hi^2/2 (not a bound: E(t) of (42) is dropped).")
