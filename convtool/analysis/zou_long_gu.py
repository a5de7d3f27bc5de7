"""Quantities of Zou, Long & Gu on deep linear ResNets (paper key ``"zou-long-gu"``).

Difan Zou, Philip M. Long and Quanquan Gu, "On the Global Convergence of Training Deep Linear ResNets",
International Conference on Learning Representations (ICLR) 2020, arXiv:2003.01094. Equation, lemma and
theorem numbers are the paper's. The model is ``f(x) = B (I + W_L) ... (I + W_1) A x`` with fixed A (m x d),
B (k x m), trained W_l (m x m), zero initialization, and the plain-sum loss
``L(W) = 1/2 ||B (I+W_L)...(I+W_1) A X - Y||_F^2`` (no 1/n; the paper stores samples as columns).

Every constant of Theorems 3.1, 3.6, 3.8 (with the explicit constants of their proofs, Appendix A), Lemmas
A.1, A.2, Proposition 3.3, Corollary 3.4 and Section 4 is registered here once. Quantities marked
``derived`` are not printed in the paper (each description says how they follow).

Symbols
-------
``L`` is the depth (bare ``L`` in the paper); the loss at a point is ``LW`` (the paper's L(W)), at the
initialization ``L0``, the optimum ``lstar``. ``b`` is the minibatch size (the paper's italic B),
``alpha_A``, ``beta_B`` the Gaussian standard deviations of Proposition 3.3, ``alpha_mod`` the modified
identity's scale (Section 4, a different alpha), ``r`` the rank of X, ``epsilon`` the target accuracy.
``lambda_A = ||A||_2``, ``mu_A = sigma_min(A) = sqrt(lambda_min(A^T A))`` (0 when m < d), likewise B with
``B B^T`` (0 when m < k).

Typo and OCR readings (the reading notes' section 7, each checked here)
-----------------------------------------------------------------------
Each reading is labelled in the description of the quantity it affects, so ``convtool explain`` shows it;
the numerical checks are in ``tests/test_resnet_readings.py``.

1. ``L(W)`` is the loss, bare ``L`` the depth (notation; no formula affected).
2. ``grad_{w_l}`` is the gradient in the bold ``W_l`` (notation; :data:`pl_lower`).
3. Section 1.1's "O(log(1/eps))^2" carries footnote marker 2 (the bound is O(log 1/eps); ``T_eps``).
4. O / Omega swaps in Remark 3.5, Section 5.2 and the proofs of Corollaries 3.7, 3.9 (orders only;
   ``m_cor34`` is an Omega-type sufficient width).
5. Gaussian scaling: the Section 3.1 prose uses N(0, 1/m), N(0, 1/k) while the corollaries use
   alpha = beta = 1; step sizes here are computed from the realized lambda, mu, never from an O-form
   (``m_prop33``, ``m_cor34`` use alpha = beta = 1 as the corollaries state).
6. Lemma A.1 states ``||W_l||_2 <= 0.5/L``; its proof only uses ``sigma_min(I + W_l) >= 1 - 0.5/L`` and
   ``||I + W_l||_2 <= 1 + 0.5/L``, so the spectral hypothesis suffices (checked at random points with
   ``||W_l||_2 <= 0.5/L < ||W_l||_F``); the theorems keep the Frobenius region of Lemma A.2 (``region``).
7. The printed Theorem 3.1 step has ``sqrt(e L0)`` where Lemma A.2 has ``sqrt(2 e L(W))``. Both steps are
   sufficient: Lemma A.2's proof bounds ``sum_{l > s} a_l a_s`` by ``(sum a)^2``, but it is at most
   ``(sum a)^2 / 2`` (the sum over l != s is (sum a)^2 - sum a^2, halved), which gives Lemma A.2 with
   ``sqrt(e L(W) / 2)``; then ``eta_thm31_printed <= 1/(2 K)`` for the tighter K and the descent step
   ``-eta + eta^2 K <= -eta/2`` holds. ``eta_thm31`` (Lemma-A.2-consistent) and ``eta_thm31_printed`` are
   both registered; ``beta_smooth`` is the printed Lemma A.2, ``beta_smooth_tight`` the tighter one.
8. Proposition 3.3's proof sets ``t = 2 sqrt(log(12/delta))``, but its width uses ``sqrt(2 log(12/delta))``
   and ``2 exp(-t^2/2) = delta/6`` per matrix needs ``t = sqrt(2 log(12/delta))`` (``m_prop33``).
9. Proposition 3.3's loss part: ``log(8/delta)`` reads ``log(12/delta)``, ``1 - delta' - delta`` reads
   ``1 - delta' - delta/3``, and ``log(2n/delta)`` reads ``log(3n/delta)`` (delta' = delta/(3n) per sample
   in the union bound); ``1 + 2 sqrt(t) + 2 t <= 5 t`` for t >= 1 (``L0_bound_prop33``).
10. Corollary 3.4's proof prints ``||X||_2 / sigma_r(X)``; read ``sigma_r^2(X)`` as in Theorem 3.1: only
    then is the condition invariant under (X, Y) -> (cX, cY) (``m_cor34``).
11. Theorem 3.6's proof: ``sqrt(8 e^3 n)`` reads ``sqrt(8 e^3) n`` (Lemma A.1's minibatch bound is linear
    in n: a sample with all the loss and the largest norm, batch size 1, violates the sqrt(n) form; likewise
    ``sqrt(2 e n)`` reads ``sqrt(2e) n``); ``||X||_2^2 sigma_inf`` reads ``||X||_{2,inf}^2``; ``gamma_1`` carries no
    eta^2 (then gamma_0 eps'/(4 gamma_1) is exactly the printed first term of the step, checked symbolically,
    as is the second term from Azuma's condition with log(T/delta)); Part (i)'s ``sqrt(2 e s eta)`` reads
    ``sqrt(2e) s eta n`` (sum of s steps of ||G|| <= sqrt(2e) n lambda ||X|| sqrt(L)/B with L <= 2 L0); (A.4),
    (A.5) ``m`` reads ``n`` and (A.5) lacks the factor t; the last line of (A.12) ``/(B L^2)`` reads ``/B``;
    (A.13)'s right side ``L(W(t))`` reads ``L(W(t-1))``; ``sqrt(2 log(delta/T))`` reads ``sqrt(2 log(T/delta))``
    (a log of a number below 1 would be negative); "within eps' of optimal" reads eps = 3 eps' (Markov at
    3 eps'), and the Markov line's ``1(E_t)`` reads ``1(E_T)``; (A.9)'s ``G_i`` reads ``G_l``. These are
    derivation checks of the proof; the step and condition registered here (``eta_thm36``, ``thm36_rhs``)
    follow the corrected chain.
12. Theorem 3.8's proof: the first display's ``54 e^3`` against the derivation's ``96 e^3``. The derivation
    bounds ``max_t (-a t + b sqrt(t))`` by ``b^2 / a``; the maximum is ``b^2/(4a)``, which gives ``24 e^3``,
    so both 54 e^3 and 96 e^3 are sufficient (``eta_thm38`` uses 96 e^3, the derivation as printed;
    ``eta_thm38_printed`` 54 e^3, ``eta_thm38_tight`` 24 e^3; checked symbolically). ``sqrt(2 e^3 n)`` reads
    ``sqrt(2 e^3) n``; hypothesis (ii)'s ``(1 - s eta L .../e)^s`` reads ``(1 - eta L .../e)^t``; the spurious
    ``log(L0/eps)`` in its lambda-chain (copied from Theorem 3.6) is dropped; ``mu_B^2(B)`` is ``mu_B^2``; Part (i)
    ends with ``sqrt(2 L0)`` (the factor 2 of hypothesis (ii)). The proof establishes the envelope
    ``2 L0 exp(-t rho)`` (A.19), weaker than the statement's ``2 L0 (1 - rho)^t`` (``envelope_thm38``), and the
    run checks the proved one.
13. Corollaries 3.7, 3.9: ``sigma_min^2 sigma_min^2(B)`` reads ``sigma_min^2(A) sigma_min^2(B)``; (A.17) for
    (A.20); Corollary 3.9's T uses log(2 L0/eps) by (A.19) (not implemented as widths: O-level statements).
14. B.1's per-sample gradient ``A xbar_i`` reads ``A x_i``, ``x_i A^T`` reads ``x_i^T A^T`` (``pl_upper``; the
    finite-difference tests check the gradient formula).
15. B.2: ``L(Wbar)`` in (B.7) reads ``L(W)``; (B.9)'s ``B(V1 + V2)X`` reads ``B(V1 + V2)AX``; the duplicated
    ``(1 + 0.5/L)^L = (1 + 0.5/L)^L`` is one factor ``<= sqrt(e)``; in (B.5) the first sum and the bracket
    together are V_2 (both underbraces say V_2) (``beta_smooth``; Lemma A.2 is checked at random region points).
16. Section 4.1's "fails if ||X||_F >= sqrt(2)/C" is scale dependent; the exact worst case (X orthogonal to Y)
    fails when ``C ||X||_2 ||X||_F / (sqrt(2) sigma_r^2) > 1``, always true for C = 4 sqrt(2 e^3)
    (``identity_fail_ratio``).
17. Modified identity indices (Section 4.2): A has a 1 at (i_j, j), B an alpha at (i, j_i) (``alpha_star``).
18. Proposition 3.3's proof uses kappa as a generic scalar in ``sigma_min(kappa U)`` (notation).
19. Footnote 3's boosting needs the training loss of each copy to pick the best (``thm36`` probability).
20. ``m >= max(d, k)`` is a standing assumption (Section 1, Lemma A.1's proof), not in Theorem 3.1's
    statement: ``mu_A = sqrt(lambda_min(A^T A))`` is 0 when m < d, and every bound that needs it is then not
    applicable.

Examples
--------
>>> from convtool.analysis.evaluate import evaluate
>>> v = evaluate({"L": 10.0, "lambda_A": 1.0, "lambda_B": 1.0, "mu_A": 1.0, "mu_B": 1.0, "X_norm": 1.0,
...               "sigma_r": 1.0, "L0": 1e-3, "lstar": 0.0}, ["thm31_margin", "rho_thm31"], paper="zou-long-gu")
>>> round(v["thm31_margin"], 4), round(v["C_thm31"], 4)
(1.2473, 25.3523)
"""

from __future__ import annotations

import functools

import sympy as sp

from convtool.analysis.registry import register as _register

P = "zou-long-gu"
register = functools.partial(_register, paper=P)

E = sp.E
_sqrt, _log, _exp = sp.sqrt, sp.log, sp.exp


def _Max(*args):
    return sp.Max(*args, evaluate=False)


def _Min(*args):
    return sp.Min(*args, evaluate=False)


# ---------------------------------------------------------------- primitives: network, data, parameters
L = register("L", kind="primitive", latex="L", reference="Section 2", positive=True,
             description="Depth: number of trained residual blocks W_1..W_L (reading 1: a bare L is the depth, "
                         "L(W) the training loss).")
m = register("m", kind="primitive", latex="m", reference="Section 2", positive=True,
             description="Hidden width m (W_l is m x m; A is m x d, B is k x m); m >= max(d, k) is assumed "
                         "(reading 20).")
d = register("d", kind="primitive", latex="d", reference="Section 2", positive=True, description="Input dimension.")
k = register("k", kind="primitive", latex="k", reference="Section 2", positive=True, description="Output dimension.")
n = register("n", kind="primitive", latex="n", reference="Section 2", positive=True, description="Number of samples.")
r = register("r", kind="primitive", latex="r", reference="Section 2", positive=True,
             description="Rank r of the data matrix X (r < d allowed).")
X_norm = register("X_norm", kind="primitive", latex=r"\|X\|_2", reference="Theorem 3.1", positive=True,
                  description="Spectral norm of X.")
sigma_r = register("sigma_r", kind="primitive", latex=r"\sigma_r(X)", reference="Theorem 3.1", positive=True,
                   description="r-th (smallest nonzero) singular value of X.")
X_fro = register("X_fro", kind="primitive", latex=r"\|X\|_F", reference="Proposition 3.3", positive=True,
                 description="Frobenius norm of X.")
X_2inf = register("X_2inf", kind="primitive", latex=r"\|X\|_{2,\infty}", reference="Theorem 3.6", positive=True,
                  description="Largest sample norm max_i ||x_i||_2 (the paper's columns; convtool's rows).")
Y_fro = register("Y_fro", kind="primitive", latex=r"\|Y\|_F", reference="Corollary 3.4", nonnegative=True,
                 description="Frobenius norm of Y.")
lstar = register("lstar", kind="primitive", latex=r"L(W^*)", reference="Section 3", nonnegative=True,
                 description="Optimal value min_Theta 1/2 ||Theta X - Y||_F^2 of the linear least-squares problem.")
L0 = register("L0", kind="primitive", latex=r"L(W^{(0)})", reference="Theorem 3.1", nonnegative=True,
              description="Initial loss 1/2 ||B (I+W_L(0))...(I+W_1(0)) A X - Y||_F^2 (1/2 ||BAX - Y||_F^2 at zero "
                          "init).")
LW = register("LW", kind="primitive", latex=r"L(W)", reference="Lemma A.2", nonnegative=True,
              description="Training loss at the point W where Lemma A.2 is applied.")
lambda_A = register("lambda_A", kind="primitive", latex=r"\lambda_A", reference="proof of Theorem 3.1",
                    positive=True, description="||A||_2.")
mu_A = register("mu_A", kind="primitive", latex=r"\mu_A", reference="proof of Theorem 3.1", nonnegative=True,
                description="sigma_min(A) = sqrt(lambda_min(A^T A)); 0 when m < d (reading 20).")
lambda_B = register("lambda_B", kind="primitive", latex=r"\lambda_B", reference="proof of Theorem 3.1",
                    positive=True, description="||B||_2.")
mu_B = register("mu_B", kind="primitive", latex=r"\mu_B", reference="proof of Theorem 3.1", nonnegative=True,
                description="sigma_min(B) = sqrt(lambda_min(B B^T)); 0 when m < k (reading 20).")
eta = register("eta", kind="primitive", latex=r"\eta", reference="Algorithm 1", positive=True,
               description="Step size of GD / SGD (Algorithm 1).")
t = register("t", kind="primitive", latex="t", reference="Theorem 3.1", nonnegative=True,
             description="Iteration counter.")
T = register("T", kind="primitive", latex="T", reference="Theorems 3.6, 3.8", positive=True,
             description="Number of iterations (Theorem 3.6: tied to eta; Theorem 3.8: the run's horizon, --steps).")
b = register("b", kind="primitive", latex="B", reference="Algorithm 1", positive=True,
             description="Minibatch size (the paper's italic B, not the output matrix).")
epsilon = register("epsilon", kind="primitive", latex=r"\epsilon", reference="Theorems 3.1, 3.6", positive=True,
                   description="Target accuracy: loss at most L(W*) + epsilon.")
delta = register("delta", kind="primitive", latex=r"\delta", reference="Proposition 3.3, Theorems 3.6, 3.8",
                 positive=True,
                 description="Failure probability (one delta serves Proposition 3.3 and Theorems 3.6, 3.8); "
                             "Theorem 3.6 needs delta <= 1/6.")
alpha_A = register("alpha_A", kind="primitive", latex=r"\alpha", reference="Proposition 3.3", positive=True,
                   description="Standard deviation of the Gaussian entries of A (reading 5: the corollaries use 1).")
beta_B = register("beta_B", kind="primitive", latex=r"\beta", reference="Proposition 3.3", positive=True,
                  description="Standard deviation of the Gaussian entries of B (reading 5: the corollaries use 1).")

# ---------------------------------------------------------------- data and transform quantities
kappa = register("kappa", kind="expression", expr=X_norm ** 2 / sigma_r ** 2, latex=r"\kappa",
                 reference="Corollary 3.4", description="Condition number ||X||_2^2 / sigma_r^2(X).")
Delta0 = register("Delta0", kind="expression", expr=L0 - lstar, latex=r"\Delta_0", reference="Theorem 3.1",
                  description="Initial gap L(W(0)) - L(W*).")
Gamma = register("Gamma", kind="expression", expr=mu_A ** 2 * mu_B ** 2 / (lambda_A * lambda_B), latex=r"\Gamma",
                 reference="Theorem 3.1, (4.1)",
                 description="Left side of every condition: sigma_min^2(A) sigma_min^2(B) / (||A||_2 ||B||_2) "
                             "(0 when m < d or m < k).")

# ---------------------------------------------------------------- Theorem 3.1 (GD)
C_thm31 = register("C_thm31", kind="expression", expr=4 * _sqrt(2 * E ** 3), latex=r"C_{3.1}",
                   reference="proof of Theorem 3.1 (A.1)",
                   description="The absolute constant C of Theorem 3.1's condition from its proof: 4 sqrt(2 e^3) = "
                               "2 sqrt(8 e^3).")
thm31_rhs = register("thm31_rhs", kind="expression", expr=C_thm31 * X_norm * _sqrt(Delta0) / sigma_r ** 2,
                     latex=r"\mathrm{rhs}_{3.1}", reference="Theorem 3.1, (4.1)",
                     description="Right side of Theorem 3.1's condition, C ||X||_2 (L(W0) - L(W*))^(1/2) / "
                                 "sigma_r^2(X).")
thm31_margin = register("thm31_margin", kind="expression", expr=Gamma / thm31_rhs, latex=r"m_{3.1}",
                        reference="Theorem 3.1; derived ratio",
                        description="Gamma over Theorem 3.1's right side (derived ratio): >= 1 means the condition "
                                    "holds (then R_GD <= 0.5/L).")
eta_thm31 = register(
    "eta_thm31", kind="expression",
    expr=1 / (2 * L * lambda_A * lambda_B * X_norm * (_sqrt(2 * E * L0) + E / 2 * lambda_A * lambda_B * X_norm)),
    latex=r"\eta_{3.1}", reference="Theorem 3.1 with Lemma A.2 (derived)", derived=True,
    description="Lemma-A.2-consistent GD step 1/beta_smooth(W(0)) = 1/(2 L lambda_A lambda_B ||X|| (sqrt(2 e L0) + "
                "e/2 lambda_A lambda_B ||X||)) (derived; reading 7); the schedule thm31.")
eta_thm31_printed = register(
    "eta_thm31_printed", kind="expression",
    expr=1 / (2 * L * lambda_A * lambda_B * X_norm * (_sqrt(E * L0) + E / 2 * lambda_A * lambda_B * X_norm)),
    latex=r"\eta_{3.1}^{\mathrm{printed}}", reference="proof of Theorem 3.1 (A.1)",
    description="The step as printed in the proof, with sqrt(e L0): also sufficient, through Lemma A.2 with "
                "(sum a)^2/2 (reading 7, verified).")
rho = register("rho", kind="expression", expr=eta * L * mu_A ** 2 * mu_B ** 2 * sigma_r ** 2 / E, latex=r"\rho",
               reference="Theorem 3.1, (A.1)",
               description="Contraction eta L sigma_min^2(A) sigma_min^2(B) sigma_r^2(X) / e per step at step eta.")
rho_thm31 = register("rho_thm31", kind="expression",
                     expr=eta_thm31 * L * mu_A ** 2 * mu_B ** 2 * sigma_r ** 2 / E, latex=r"\rho_{3.1}",
                     reference="Theorem 3.1 at eta_thm31 (derived)", derived=True,
                     description="rho at the schedule's step eta_thm31 (derived): depth-free (L cancels), <= 1/e^2.")
gap_bound_thm31 = register("gap_bound_thm31", kind="expression", expr=(1 - rho) ** t * Delta0,
                           latex=r"\mathcal{B}_{3.1}(t)", reference="Theorem 3.1, (A.1)",
                           description="Theorem 3.1's curve (1 - rho)^t (L(W0) - L(W*)) bounding the gap at step t.")
T_eps = register(
    "T_eps", kind="expression",
    expr=_Max(0, sp.ceiling(_log(Delta0 / epsilon) / (-_log(1 - rho_thm31)))), latex=r"T_\epsilon",
    reference="Theorem 3.1 (derived)", derived=True,
    description="Smallest t with (1 - rho_thm31)^t Delta0 <= epsilon (derived; 0 when Delta0 <= epsilon; reading "
                "3: O(log 1/eps), the '2' is a footnote).")
R_GD = register(
    "R_GD", kind="expression",
    expr=_sqrt(8 * E ** 3) * lambda_A * lambda_B * X_norm * _sqrt(Delta0) / (L * mu_A ** 2 * mu_B ** 2 * sigma_r ** 2),
    latex=r"R_{GD}", reference="proof of Theorem 3.1, Part (i)",
    description="Trajectory bound max_l ||W_l(t)||_F <= sqrt(8 e^3) lambda_A lambda_B ||X|| Delta0^(1/2) / (L mu_A^2 "
                "mu_B^2 sigma_r^2); <= 0.5/L exactly when thm31_margin >= 1.")
R_GD_t = register(
    "R_GD_t", kind="expression",
    expr=_sqrt(2 * E) * eta * lambda_A * lambda_B * X_norm * _sqrt(Delta0) * (1 - (1 - rho / 2) ** t) / (rho / 2),
    latex=r"R_{GD}(t)", reference="proof of Theorem 3.1, Part (i)",
    description="Finite-t trajectory bound sqrt(2e) eta lambda_A lambda_B ||X|| Delta0^(1/2) sum_{s<t} (1 - rho/2)^s.")
region = register("region", kind="expression", expr=sp.Rational(1, 2) / L, latex=r"0.5/L",
                  reference="Lemmas A.1, A.2",
                  description="Radius of the region max_l ||W_l||_F <= 0.5/L where Lemmas A.1, A.2 hold (reading 6: "
                              "Lemma A.1 needs only the spectral norm).")
pl_lower = register(
    "pl_lower", kind="expression", expr=2 / E * mu_A ** 2 * mu_B ** 2 * sigma_r ** 2, latex=r"c_{PL}",
    reference="Lemma A.1",
    description="Per-layer PL constant: ||grad_{W_l} L||_F^2 >= (2/e) mu_A^2 mu_B^2 sigma_r^2 (L(W) - L*) in the "
                "region (reading 2: grad in W_l).")
pl_upper = register(
    "pl_upper", kind="expression", expr=2 * E * lambda_A ** 2 * lambda_B ** 2 * X_norm ** 2, latex=r"C_{PL}",
    reference="Lemma A.1",
    description="Per-layer gradient bound ||grad_{W_l} L||_F^2 <= 2e lambda_A^2 lambda_B^2 ||X||^2 (L(W) - L*) in the "
                "region (per sample with ||x_i||^2 and l_i; reading 14: A x_i).")
beta_smooth = register(
    "beta_smooth", kind="expression",
    expr=2 * L * lambda_A * lambda_B * X_norm * (_sqrt(2 * E * LW) + E / 2 * lambda_A * lambda_B * X_norm),
    latex=r"\beta(W)", reference="Lemma A.2 (derived name)", derived=True,
    description="Lemma A.2 as a local smoothness: L(W~) - L(W) <= <grad, W~ - W> + beta(W)/2 sum ||W~_l - W_l||_F^2 "
                "(derived form: the printed quadratic coefficient is beta/2; reading 15).")
beta_smooth_tight = register(
    "beta_smooth_tight", kind="expression",
    expr=2 * L * lambda_A * lambda_B * X_norm * (_sqrt(E * LW / 2) + E / 2 * lambda_A * lambda_B * X_norm),
    latex=r"\beta_{\mathrm{tight}}(W)", reference="Lemma A.2's proof with (sum a)^2/2 (derived)", derived=True,
    description="Lemma A.2 with sqrt(e L(W)/2) in place of sqrt(2 e L(W)), from sum_{l>s} a_l a_s <= (sum a)^2/2 "
                "(derived; reading 7).")
beta_smooth0 = register(
    "beta_smooth0", kind="expression",
    expr=2 * L * lambda_A * lambda_B * X_norm * (_sqrt(2 * E * L0) + E / 2 * lambda_A * lambda_B * X_norm),
    latex=r"\beta(W^{(0)})", reference="Lemma A.2 at W(0) (derived)", derived=True,
    description="beta_smooth at the initialization (derived): 1/eta_thm31.")
remark32 = register("remark32", kind="expression", expr=1 / C_thm31 ** 2, latex=r"C^{-2}",
                    reference="Remark 3.2 (derived)", derived=True,
                    description="With A = B = I, X X^T = I, L* = 0 the condition reads Delta0 <= C^-2 = 1/(32 e^3) "
                                "(derived with the proof's C).")

# ---------------------------------------------------------------- Proposition 3.3, Corollary 3.4
m_prop33 = register(
    "m_prop33", kind="expression", expr=100 * (_sqrt(_Max(d, k)) + _sqrt(2 * _log(12 / delta))) ** 2,
    latex=r"m_{3.3}", reference="proof of Proposition 3.3 (A.2)",
    description="Width for the bands 0.9 alpha sqrt(m) <= sigma(A) <= 1.1 alpha sqrt(m) (and B) with probability "
                ">= 1 - delta/3 (readings 8, 18: t = sqrt(2 log(12/delta))).")
L0_bound_prop33 = register(
    "L0_bound_prop33", kind="expression",
    expr=sp.Float(6.05) * alpha_A ** 2 * beta_B ** 2 * k * m * _log(3 * n / delta) * X_fro ** 2 + Y_fro ** 2,
    latex=r"\bar L_0", reference="proof of Proposition 3.3 (A.2)",
    description="With probability >= 1 - 2 delta/3 (given log(3n/delta) >= 1): L(W0) <= 6.05 alpha^2 beta^2 k m "
                "log(3n/delta) ||X||_F^2 + ||Y||_F^2 (reading 9: log(3n/delta), not log(2n/delta)).")
EL0_gauss = register(
    "EL0_gauss", kind="expression", expr=(alpha_A ** 2 * beta_B ** 2 * k * m * X_fro ** 2 + Y_fro ** 2) / 2,
    latex=r"\mathbb{E} L_0", reference="Proposition 3.3 context (derived)", derived=True,
    description="Exact mean of L(W0) over Gaussian A, B (derived: E||BAX||^2 = alpha^2 beta^2 k m ||X||_F^2, cross "
                "term 0).")
a_cor34 = register("a_cor34", kind="expression", expr=sp.Rational(81, 100) ** 2 / sp.Rational(121, 100),
                   latex=r"a", reference="Corollary 3.4 (derived)", derived=True,
                   description="Gamma >= a m under the bands with alpha = beta = 1: a = 0.81^2/1.21 (derived).")
cor34_const = register("cor34_const", kind="expression", expr=C_thm31 ** 2 * sp.Float(6.05) / a_cor34 ** 2,
                       latex=r"c_{3.4}", reference="Corollary 3.4 (derived)", derived=True,
                       description="Leading constant of m_cor34: m ~ c k log(3n/delta) ||X||_2^2 ||X||_F^2/sigma_r^4 "
                                   "<= c k r kappa^2 log(3n/delta) with c = 32 e^3 6.05/a^2 = 13225.7 (derived; the "
                                   "notes' 13,227 is a rounding slip).")
_c34 = C_thm31 * X_norm / sigma_r ** 2
_p34 = sp.Float(6.05) * k * _log(3 * n / delta) * X_fro ** 2
_q34 = Y_fro ** 2
m_cor34 = register(
    "m_cor34", kind="expression",
    expr=_Max((_c34 ** 2 * _p34 + _sqrt(_c34 ** 4 * _p34 ** 2 + 4 * a_cor34 ** 2 * _c34 ** 2 * _q34))
              / (2 * a_cor34 ** 2), m_prop33),
    latex=r"m_{3.4}", reference="Corollary 3.4 (derived explicit form)", derived=True,
    description="Explicit sufficient width for Corollary 3.4 with alpha = beta = 1 (derived): a m >= C ||X||_2/"
                "sigma_r^2 sqrt(p m + q), p = 6.05 k log(3n/delta) ||X||_F^2, q = ||Y||_F^2, and m >= m_prop33 "
                "(readings 4, 10: sigma_r^2, Omega).")

# ---------------------------------------------------------------- Theorem 3.6 (SGD)
eps_prime = register("eps_prime", kind="expression", expr=epsilon / 3, latex=r"\epsilon'",
                     reference="proof of Theorem 3.6 (A.4)", description="epsilon' = epsilon/3 of the proof.")
thm36_rhs = register(
    "thm36_rhs", kind="expression",
    expr=_sqrt(8 * E ** 3) * n * X_norm * _log(L0 / eps_prime) * _sqrt(2 * L0) / (b * sigma_r ** 2),
    latex=r"\mathrm{rhs}_{3.6}", reference="proof of Theorem 3.6 (A.4)",
    description="Right side of Theorem 3.6's condition: sqrt(8 e^3) n ||X|| log(L0/eps') sqrt(2 L0)/(B sigma_r^2) "
                "(reading 11: sqrt(8 e^3) n, not sqrt(8 e^3 n)).")
thm36_margin = register("thm36_margin", kind="expression", expr=Gamma / thm36_rhs, latex=r"m_{3.6}",
                        reference="Theorem 3.6; derived ratio",
                        description="Gamma over Theorem 3.6's right side (derived ratio): >= 1 means it holds.")
eta_thm36 = register(
    "eta_thm36", kind="expression",
    expr=b * mu_A ** 2 * mu_B ** 2 * sigma_r ** 2 / (6 * E ** 3 * L * n * lambda_A ** 4 * lambda_B ** 4 * X_norm ** 2)
    * _Min(eps_prime / (X_2inf ** 2 * lstar),
           _log(2) ** 2 * b / (3 * n * X_norm ** 2 * _log(T / delta) * _log(L0 / eps_prime))),
    latex=r"\eta_{3.6}(T)", reference="proof of Theorem 3.6 (A.4)",
    description="Theorem 3.6's step at horizon T: C1 = 1/(6 e^3), eps' = eps/3 in the first term (infinite when "
                "L* = 0), (ln 2)^2/3 and log(L0/eps') in the second (reading 11: ||X||_{2,inf}^2, gamma_1 without "
                "eta^2; reading 13).")
T_of_eta36 = register(
    "T_of_eta36", kind="expression",
    expr=E / (eta * L * mu_A ** 2 * mu_B ** 2 * sigma_r ** 2) * _log(Delta0 / eps_prime), latex=r"T_{3.6}(\eta)",
    reference="proof of Theorem 3.6 (A.4)",
    description="Theorem 3.6's horizon at step eta: e/(eta L mu_A^2 mu_B^2 sigma_r^2) log(Delta0/eps') (C2 = e).")
T_thm36 = register(
    "T_thm36", kind="equation",
    expr=T - E / (eta_thm36 * L * mu_A ** 2 * mu_B ** 2 * sigma_r ** 2) * _log(Delta0 / eps_prime), unknown=T,
    latex=r"T_{3.6}", reference="Theorem 3.6 (derived fixed point)", derived=True,
    description="The eta/T coupling of Theorem 3.6 through log(T/delta): T = T_of_eta36(eta_thm36(T)) (derived); "
                "two roots, the one with T >= 1 is taken (bracketed).")

# ---------------------------------------------------------------- Theorem 3.8 (SGD, L* = 0)
thm38_rhs = register(
    "thm38_rhs", kind="expression",
    expr=4 * _sqrt(2 * E ** 3) * n * X_norm * _sqrt(2 * L0) / (b * sigma_r ** 2), latex=r"\mathrm{rhs}_{3.8}",
    reference="proof of Theorem 3.8 (A.6)",
    description="Right side of Theorem 3.8's condition: 4 sqrt(2 e^3) n ||X|| sqrt(2 L0)/(B sigma_r^2) (reading 12: "
                "sqrt(2 e^3) n).")
thm38_margin = register("thm38_margin", kind="expression", expr=Gamma / thm38_rhs, latex=r"m_{3.8}",
                        reference="Theorem 3.8; derived ratio",
                        description="Gamma over Theorem 3.8's right side (derived ratio); needs L(W*) = 0.")
_eta38 = b ** 2 * mu_A ** 2 * mu_B ** 2 * sigma_r ** 2 / (L * n ** 2 * lambda_A ** 4 * lambda_B ** 4 * X_norm ** 4
                                                          * _log(T / delta))
eta_thm38 = register("eta_thm38", kind="expression", expr=_log(2) * _eta38 / (96 * E ** 3), latex=r"\eta_{3.8}",
                     reference="proof of Theorem 3.8 (A.6), the derivation's 96 e^3",
                     description="Theorem 3.8's step ln 2 B^2 mu_A^2 mu_B^2 sigma_r^2/(96 e^3 L n^2 lambda_A^4 "
                                 "lambda_B^4 ||X||^4 log(T/delta)), T the run's horizon (reading 12).")
eta_thm38_printed = register("eta_thm38_printed", kind="expression", expr=_log(2) * _eta38 / (54 * E ** 3),
                             latex=r"\eta_{3.8}^{54}", reference="proof of Theorem 3.8 (A.6), first display",
                             description="The first display's 54 e^3: sufficient too, since the tight Azuma step "
                                         "gives 24 e^3 (reading 12).")
eta_thm38_tight = register("eta_thm38_tight", kind="expression", expr=_log(2) * _eta38 / (24 * E ** 3),
                           latex=r"\eta_{3.8}^{24}", reference="proof of Theorem 3.8 with max(-at + b sqrt t) = "
                                                              "b^2/(4a) (derived)", derived=True,
                           description="Theorem 3.8's step with the tight bound b^2/(4a) (derived; reading 12).")
envelope_thm38 = register("envelope_thm38", kind="expression", expr=2 * L0 * _exp(-t * rho), latex=r"\mathcal{E}(t)",
                          reference="proof of Theorem 3.8, (A.19)",
                          description="What the proof establishes: L(W(t)) <= 2 L0 exp(-t rho) for all t <= T with "
                                      "probability >= 1 - delta (weaker than the statement's 2 L0 (1 - rho)^t; "
                                      "reading 12).")
envelope_thm38_stated = register("envelope_thm38_stated", kind="expression", expr=2 * L0 * (1 - rho) ** t,
                                 latex=r"\mathcal{E}_{\mathrm{stated}}(t)", reference="Theorem 3.8",
                                 description="The statement's envelope 2 L0 (1 - rho)^t.")

# ---------------------------------------------------------------- Section 4
alpha_mod = register("alpha_mod", kind="primitive", latex=r"\alpha", reference="Section 4.2", positive=True,
                     description="Scale of the nonzero entries of the modified identity B (not Proposition 3.3's "
                                 "alpha; reading 17).")
alpha_star = register(
    "alpha_star", kind="expression", expr=C_thm31 * X_norm * _sqrt(Y_fro ** 2 / 2 - lstar) / sigma_r ** 2,
    latex=r"\alpha^*", reference="Section 4.2, (4.1) (derived explicit form)", derived=True,
    description="Smallest modified-identity scale meeting (4.1): C ||X||_2 (||Y||_F^2/2 - L*)^(1/2)/sigma_r^2 "
                "(derived; m = d + k suffices; reading 17).")
identity_fail_ratio = register(
    "identity_fail_ratio", kind="expression", expr=C_thm31 * X_norm * X_fro / (_sqrt(2) * sigma_r ** 2),
    latex=r"\varrho_{id}", reference="Section 4.1 (derived)", derived=True,
    description="Identity transforms with X orthogonal to Y fail (4.1) iff this exceeds 1, at every m (derived; "
                "reading 16: the paper's ||X||_F >= sqrt(2)/C is scale dependent).")
