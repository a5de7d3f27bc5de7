"""Quantities of Du, Hu & Lee on balanced layers and matrix factorization (paper key ``"du-hu-lee"``).

Simon S. Du, Wei Hu and Jason D. Lee, "Algorithmic Regularization in Learning Deep Homogeneous Models: Layers
are Automatically Balanced", NeurIPS 2018 (arXiv:1806.00900). Equation numbers are the paper's. The gradient-flow
invariants (Theorems 2.1-2.3) have no constants; the quantities here are those of Section 3 (matrix
factorization ``1/2 ||U V^T - M*||_F^2``, Theorem 3.1 with Appendix B; rank 1, Theorem 3.2 with Appendix C).
Quantities marked ``derived`` are not printed in the paper (their descriptions say from which proof step).

Names avoid the other papers' plain names (``epsilon`` not ``eps``, ``delta_fn11`` not ``delta``, ``iter_t``
not ``t``), so that plain look-ups of those stay unambiguous.

Readings of the OCR-damaged text (checked against the proofs): Theorem 3.1's step is
``sqrt(eps/r) / (100 (t+1) ||M*||_F^(3/2))`` (the proof of Claim B.1 squares it); C(t) is
``||U_t||_F^2 <= 5 sqrt(r) ||M*||_F`` (not ``5 sqrt(r)/||M*||_F`` nor ``||M*||_F^2``).

Examples
--------
>>> from convtool.analysis.evaluate import evaluate
>>> v = evaluate({"epsilon": 1.0, "r_rank": 1.0, "M_fro": 4.0, "iter_t": 0.0}, ["eta_thm31"], paper="du-hu-lee")
>>> v["eta_thm31"]
0.00125
"""

from __future__ import annotations

import functools

import sympy as sp

from convtool.analysis.registry import register as _register

P = "du-hu-lee"
register = functools.partial(_register, paper=P)

_sqrt = sp.sqrt

# ---------------------------------------------------------------- primitives
M_fro = register("M_fro", kind="primitive", latex=r"\|M^*\|_F", reference="eq. (8)", positive=True,
                 description="Frobenius norm of the target M* of the factorization 1/2 ||U V^T - M*||_F^2.")
r_rank = register("r_rank", kind="primitive", latex="r", reference="eq. (8)", positive=True,
                  description="Rank of M* and width of the factors U (d1 x r), V (d2 x r).")
epsilon = register("epsilon", kind="primitive", latex=r"\epsilon", reference="Theorem 3.1", positive=True,
                   description="Accuracy 0 < epsilon < ||M*||_F of Theorem 3.1 (the limit satisfies "
                               "||U V^T - M*||_F <= epsilon).")
iter_t = register("iter_t", kind="primitive", latex="t", reference="eq. (9)", nonnegative=True,
                  description="Iteration counter t = 0, 1, ...")
D0_fro = register("D0_fro", kind="primitive", latex=r"\|U_0^\top U_0 - V_0^\top V_0\|_F",
                  reference="Appendix B.1", nonnegative=True,
                  description="Initial imbalance ||D_0||_F (Appendix B.1 needs <= epsilon/2).")
delta_fn11 = register("delta_fn11", kind="primitive", latex=r"\delta", reference="footnote 11", positive=True,
                      description="Exponent 0 < delta <= 1/2 of the step family eta_t = Theta(t^-(1/2 + delta)).")
zeta_1p2d = register("zeta_1p2d", kind="primitive", latex=r"\zeta(1 + 2\delta)", reference="footnote 11 (derived)",
                     positive=True, description="Riemann zeta(1 + 2 delta) = sum_t (t+1)^-(1 + 2 delta) (derived "
                                                "bound of sum eta_t^2 / c_eta^2).")
sum_eta_sq = register("sum_eta_sq", kind="primitive", latex=r"\sum_{i \le t} \eta_i^2", reference="Claim B.1",
                      nonnegative=True, description="Sum of the squared step sizes so far.")
sigma_1 = register("sigma_1", kind="primitive", latex=r"\sigma_1", reference="Section 3.2", positive=True,
                   description="The nonzero singular value of the rank-1 target M* = sigma_1 u* v*^T.")
c_step = register("c_step", kind="primitive", latex=r"c_{step}", reference="Theorem 3.2", positive=True,
                  description="Step constant of Theorem 3.2: eta = c_step / sigma_1 (sufficiently small).")
c_init = register("c_init", kind="primitive", latex=r"c_{init}", reference="Theorem 3.2", positive=True,
                  description="Init constant of Theorem 3.2: u_0, v_0 ~ N(0, delta^2 I), delta = c_init sqrt(sigma_1/d) "
                              "(std reading, notes item 18).")
d_max = register("d_max", kind="primitive", latex="d", reference="Theorem 3.2", positive=True,
                 description="d = max(d1, d2).")
c1_const = register("c1_const", kind="primitive", latex="c_1", reference="Lemma C.2", positive=True,
                    description="The universal constant c_1 of Lemma C.2 (the paper's is only 'sufficiently small'; "
                                "1/80008 makes every step explicit, or the empirical min(alpha, beta)^2/(4 sigma_1)).")
ab0_sum = register("ab0_sum", kind="primitive", latex=r"\alpha_0 + \beta_0", reference="Lemma C.1", positive=True,
                   description="alpha_0 + beta_0 = u_0^T u* + v_0^T v* (positive after the sign flip of footnote 12).")
c_smooth = register("c_smooth", kind="primitive", latex="c", reference="Lemma B.1", positive=True,
                    description="Radius c of the set ||U||_F^2, ||V||_F^2 <= c ||M*||_F of Lemma B.1.")

# ---------------------------------------------------------------- Theorem 3.1 and Appendix B
eta_thm31 = register(
    "eta_thm31", kind="expression", expr=_sqrt(epsilon / r_rank) / (100 * (iter_t + 1) * M_fro ** sp.Rational(3, 2)),
    latex=r"\eta_t", reference="Theorem 3.1",
    description="Theorem 3.1's step size sqrt(epsilon/r) / (100 (t+1) ||M*||_F^(3/2)) (schedule duhulee).")
c_eta_thm31 = register(
    "c_eta_thm31", kind="expression", expr=_sqrt(epsilon / r_rank) / (100 * M_fro ** sp.Rational(3, 2)),
    latex=r"c_\eta", reference="Theorem 3.1",
    description="Theorem 3.1's step at t = 0 (the factor c_eta of eta_t = c_eta/(t+1)).")
beta_smooth = register("beta_smooth", kind="expression", expr=(6 * c_smooth + 2) * M_fro, latex=r"\beta(c)",
                       reference="Lemma B.1",
                       description="Smoothness (6c + 2) ||M*||_F of f on {||U||_F^2, ||V||_F^2 <= c ||M*||_F}.")
beta_B2 = register("beta_B2", kind="expression", expr=(66 * _sqrt(r_rank) + 2) * M_fro, latex=r"\beta",
                   reference="Claim B.2",
                   description="Lemma B.1 at c = 11 sqrt(r): (66 sqrt(r) + 2) ||M*||_F; Claim B.2 needs eta_t < 1/beta.")
bound_norm_L31 = register("bound_norm_L31", kind="expression", expr=5 * _sqrt(r_rank) * M_fro,
                          latex=r"5\sqrt{r}\|M^*\|_F", reference="Lemma 3.1 (iii)",
                          description="Bound on ||U_t||_F^2 and ||V_t||_F^2 along the run.")
bound_f0_L31 = register("bound_f0_L31", kind="expression", expr=2 * M_fro ** 2, latex=r"2\|M^*\|_F^2",
                        reference="Lemma 3.1 (ii)", description="Bound on f(U_0, V_0) (and so on every f(U_t, V_t)).")
bound_D_eq13 = register(
    "bound_D_eq13", kind="expression", expr=D0_fro + 40 * _sqrt(r_rank) * M_fro ** 3 * sum_eta_sq,
    latex=r"\|D_0\|_F + 40\sqrt{r}\|M^*\|_F^3 \sum \eta_i^2", reference="Claim B.1, eq. (13)",
    description="Worst-case bound on ||D_{t+1}||_F from eq. (13) with B(t) and C(t).")
c_eta_delta = register(
    "c_eta_delta", kind="expression",
    expr=sp.Min(_sqrt((epsilon - D0_fro) / (40 * _sqrt(r_rank) * M_fro ** 3 * zeta_1p2d)),
                1 / ((66 * _sqrt(r_rank) + 2) * M_fro), evaluate=False),
    latex=r"c_\eta(\delta)", reference="footnote 11 with Claims B.1, B.2 (derived)", derived=True,
    description="Derived (notes Sec. 3.3): the largest c_eta for which eta_t = c_eta (t+1)^-(1/2+delta) keeps "
                "Claim B.1 (||D_0||_F + 40 sqrt(r) ||M*||^3 c_eta^2 zeta(1+2 delta) <= epsilon) and Claim B.2 "
                "(c_eta <= 1/beta); needs ||D_0||_F < epsilon.")
# ---------------------------------------------------------------- Theorem 3.2 and Appendix C
eta_rank1 = register("eta_rank1", kind="expression", expr=c_step / sigma_1, latex=r"\eta",
                     reference="Theorem 3.2", description="The constant step c_step / sigma_1 (schedule rank1).")
init_std_rank1 = register("init_std_rank1", kind="expression", expr=c_init * _sqrt(sigma_1 / d_max),
                          latex=r"\delta", reference="Theorem 3.2",
                          description="Init standard deviation c_init sqrt(sigma_1/d) (std reading, notes item 18).")
T1_bound = register(
    "T1_bound", kind="expression", expr=1 + sp.log(_sqrt(sigma_1) / ab0_sum) / sp.log(1 + c_step / 3),
    latex=r"\bar T_1", reference="Lemma C.1 (derived)", derived=True,
    description="Derived explicit stage-1 bound 1 + ln(sqrt(sigma_1)/(alpha_0 + beta_0)) / ln(1 + c_step/3) "
                "from Lemma C.1 (iii) and alpha + beta < sqrt(sigma_1) before T_1.")
rate_C2 = register("rate_C2", kind="expression", expr=1 - c1_const * c_step, latex=r"1 - c_1 c_{step}",
                   reference="Lemma C.2", description="The guaranteed contraction of xi_t (and of |h_t|) per step.")
