"""Rich renderables of Du, Hu & Lee's balancedness records (the "Balancedness" table) and the mlp run summary."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

__all__ = ["du_hu_lee_tables", "balancedness_table", "render_mlp_run", "render_mlp_constants", "factorization_table",
           "rank1_table", "factorization_constants_table"]


def _num(x) -> str:
    return "-" if x is None else repr(float(x))


def _held(row: dict) -> str:
    if row.get("not_applicable"):
        why = row["not_applicable"]
        return why if why.startswith("not recorded") else "not applicable: " + why
    parts = []
    for what, label in (("step", "identity"), ("cum", "sum bound"), ("descent", "descent bound")):
        c = row[what]
        if c.get("not_applicable"):
            parts.append(f"{label}: not applicable ({c['not_applicable']})")
        elif c["applicable"] == 0:
            parts.append(f"{label}: no step applicable")
        else:
            ok = c["applicable"] - c["violations"]
            parts.append(f"{label} {'yes' if c['violations'] == 0 else 'NO'} {ok}/{c['applicable']}")
    if row.get("step_err_max") is not None:
        parts.append(f"identity error {_num(row['step_err_max'])} ({_num(row.get('step_err_over_tol_max'))} of "
                     f"its rounding band)")
    return "; ".join(parts)


def balancedness_table(bal: dict) -> Table:
    """One row per invariant: invariant, initial value, max drift, bound, held (or the not-applicable reason)."""
    table = Table(title="Balancedness (Du, Hu & Lee, NeurIPS 2018)", title_justify="left")
    table.add_column("invariant", overflow="fold", no_wrap=False)
    table.add_column("initial", overflow="fold", no_wrap=False, justify="right")
    table.add_column("max drift", overflow="fold", no_wrap=False, justify="right")
    table.add_column("bound", overflow="fold", no_wrap=False)
    table.add_column("held", overflow="fold", no_wrap=False)
    for row in bal.get("rows", []):
        name = f"{row['name']} ({row['reference']})"
        if row.get("not_applicable"):
            table.add_row(Text(name), Text("-"), Text("-"), Text("-"), Text(_held(row)))
            continue
        g = "|g_s|^2 (update)" if bal.get("stochastic") else "|grad|^2"
        bound = f"sum eta^2 {g} = {_num(row.get('cum_bound'))}"
        if not row["descent"].get("not_applicable"):
            bound += f"; 2 max eta (L0 - L_t) = {_num(row.get('descent_bound'))}"
        init = row.get("initial")
        table.add_row(Text(name), Text("-" if init is None else _num(init)), Text(_num(row.get("max_drift"))),
                      Text(bound), Text(_held(row)))
    ratios = bal.get("norm_ratios") or {}
    for pair, r in ratios.items():
        table.add_row(Text(f"||W_{pair}||_F^2 / ||W_{int(pair) + 1}||_F^2 [Section 4]"), Text(_num(r["initial"])),
                      Text("-"), Text(f"final {_num(r['final'])}"), Text("ratio (not an invariant)"))
    if bal.get("subgradient"):
        table.caption = f"activation {bal.get('activation')}: subgradient {bal['subgradient']} at the kink"
    return table


def render_mlp_run(result, source: str = "") -> Group:
    """``run --model mlp``: status, steps, loss, and the Balancedness table."""
    from convtool.cli.render import _steps_text, status_text

    s = result.summary()
    table = Table(title="mlp run (W_N phi(... phi(W_1 x)), loss 1/2 ||F - Y||_F^2)", title_justify="left")
    table.add_column("quantity", overflow="fold")
    table.add_column("value", overflow="fold", justify="right")
    cfg = result.config
    rows = [("source", source), ("activation", str(cfg.get("activation", {}).get("name"))),
            ("widths", str(cfg.get("widths"))), ("schedule", s["schedule"]),
            ("status", status_text(s["status"], result.R)), ("steps", _steps_text(s["steps"])),
            ("L(0)", _num(float(result.arrays["loss"][0, 0]))), ("final loss (max over seeds)", _num(s["final_loss_max"])),
            ("mean eta", _num(s.get("mean_eta")))]
    for k, v in rows:
        table.add_row(Text(k), Text(v))
    return Group(table, balancedness_table(s["balancedness"]))


def render_mlp_constants(info: dict, source: str = "") -> Group:
    """``constants --model mlp``: the initial invariants and squared norms (their expectation under the init)."""
    table = Table(title="mlp at initialization (Du, Hu & Lee: conserved by gradient flow)", title_justify="left")
    table.add_column("quantity", overflow="fold")
    table.add_column("value", overflow="fold", justify="right")
    table.add_column("what", overflow="fold")
    table.add_row(Text("source"), Text(source), Text(""))
    for j, (v, e) in enumerate(zip(info["sq_norms"], info["expected_sq_norms"] or [None] * len(info["sq_norms"])), 1):
        table.add_row(Text(f"||W_{j}||_F^2"), Text(_num(v)),
                      Text("E = n_j n_(j-1) s_j^2 = " + _num(e) if e is not None else "layers from the file"))
    for j, v in enumerate(info["B"], 1):
        table.add_row(Text(f"B_{j}(0)"), Text(_num(v)), Text("||W_j||_F^2 - ||W_(j+1)||_F^2, Corollary 2.1"))
    for j, v in enumerate(info["b_maxabs"], 1):
        table.add_row(Text(f"max |b_{j}(0)|"), Text(_num(v)), Text("per-neuron imbalance, Theorem 2.1"))
    for j, v in enumerate(info["D_fro"], 1):
        table.add_row(Text(f"||D_{j}(0)||_F"), Text(_num(v) if v is not None else "not applicable"),
                      Text(info["D_reason"] or "Theorem 2.2 (linear activation)"))
    return Group(table)


def factorization_table(fx: dict) -> Table:
    """Theorem 3.1 (matrix factorization): preconditions, Lemma 3.1's claims, eq. 13, tau_T, final distance."""
    table = Table(title="Matrix factorization (Du, Hu & Lee, Theorem 3.1, Lemma 3.1)", title_justify="left")
    table.add_column("item", overflow="fold")
    table.add_column("value", overflow="fold", justify="right")
    table.add_column("held / note", overflow="fold")
    if fx.get("not_applicable"):
        table.add_row(Text("Theorem 3.1"), Text("-"), Text("not applicable: " + fx["not_applicable"]))
    for c in fx.get("preconditions", []):
        table.add_row(Text(c["name"]), Text(c["value"]), Text(("yes" if c["ok"] else "NO") + f" [{c['reference']}]"))
    for c in fx.get("claims", []):
        table.add_row(Text(c["name"]), Text(_num(c.get("max"))), Text(c["held"]))
    for k, label in (("eq13_data_bound", "eq. 13 data-dependent bound on ||D_T||_F"),
                     ("eq13_worst_bound", "eq. 13 worst case ||D_0||_F + 40 sqrt(r) ||M*||_F^3 sum eta^2"),
                     ("tau_T", "tau_T = sum eta_t"), ("procrustes_distance", "distance to the balanced optimum "
                                                                             "(Procrustes, App. B.3)"),
                     ("saddle_hessian_form", "Lemma 3.2: Hessian form at Delta"),
                     ("saddle_bound", "Lemma 3.2: -||M - M*||^2 + eps^2/2")):
        if k in fx:
            table.add_row(Text(label), Text(_num(fx[k])), Text(fx.get(k + "_note", "")))
    if fx.get("saddle_note"):
        table.add_row(Text("Lemma 3.2 certificate"), Text("-"), Text(fx["saddle_note"]))
    return table


def rank1_table(r1: dict) -> Table:
    """Theorem 3.2 (rank 1): init conditions, recurrences (23)-(24) vs iterates, stage 1, ratio windows, rate."""
    table = Table(title="Rank-1 factorization (Du, Hu & Lee, Theorem 3.2, Appendix C)", title_justify="left")
    table.add_column("item", overflow="fold")
    table.add_column("value", overflow="fold", justify="right")
    table.add_column("held / note", overflow="fold")
    for c in r1.get("init_conditions", []):
        table.add_row(Text(c["name"]), Text(c["value"]), Text("yes" if c["ok"] else "NO"))
    for k, label, note in (("recurrence_max_err", "(23)-(24) vs iterates: max relative error", "round-off"),
                           ("T1", "stage-1 exit T_1", ""), ("T1_bound", "Lemma C.1 bound on T_1", ""),
                           ("ratio_min", "min alpha_t/beta_t", ""), ("ratio_max", "max alpha_t/beta_t", ""),
                           ("c1_empirical", "empirical c_1", "min(alpha, beta)^2/(4 sigma_1) at T_1"),
                           ("observed_rate", "observed local rate of ||u v^T - M*||_F", ""),
                           ("guaranteed_rate_paper", "1 - c_1 c_step, paper c_1 = 1/80008", "Lemma C.2"),
                           ("guaranteed_rate_empirical", "1 - c_1 c_step, empirical c_1", "")):
        if k in r1:
            table.add_row(Text(label), Text(_num(r1[k])), Text(r1.get(k + "_note", note)))
    for c in r1.get("windows", []):
        table.add_row(Text(c["name"]), Text(c["value"]), Text(c["held"]))
    return table


def factorization_constants_table(c: dict) -> Table:
    """``constants --loss factorization``: Theorem 3.1's preconditions on the init and the schedule constants."""
    table = Table(title="Matrix factorization 1/2 ||U V^T - M*||_F^2 (Du, Hu & Lee, Theorem 3.1)",
                  title_justify="left")
    table.add_column("quantity", overflow="fold")
    table.add_column("value", overflow="fold", justify="right")
    table.add_column("what", overflow="fold")
    rows = [("||M*||_F", c["M_fro"], "eq. (8)"), ("rank(M*)", c["rank_M"], "Theorem 3.1 needs r = rank(M*)"),
            ("r (width h)", c["r"], "columns of U = W1, V = W2"), ("sigma_1(M*)", c["sigma_1"], ""),
            ("sigma_r(M*)", c["sigma_r"], ""), ("||U_0||_F^2", c["U0_sq"], "Appendix B.1: <= eps"),
            ("||V_0||_F^2", c["V0_sq"], "Appendix B.1: <= eps"),
            ("||U_0^T U_0 - V_0^T V_0||_F", c["D0_fro"], "Appendix B.1: <= eps/2"),
            ("beta = (66 sqrt(r) + 2) ||M*||_F", c["beta_B2"], "Claim B.2: eta_t < 1/beta")]
    if "c_eta_thm31" in c:
        rows += [("eta_0 = sqrt(eps/r)/(100 ||M*||_F^(3/2))", c["c_eta_thm31"], "Theorem 3.1, schedule duhulee"),
                 ("eta_0 beta", c["eta0_times_beta"], "< 1 needed (Claim B.2)"),
                 ("||D_0||_F + 40 sqrt(r)||M*||^3 eta_0^2 pi^2/6", c["eq13_slack_derived"],
                  "eq. (13) over the whole run (derived sum); <= eps needed")]
    if c.get("delta") is not None:
        rows.append(("c_eta(delta) (derived)", c.get("c_eta_delta") if c.get("c_eta_delta") is not None else
                     c.get("c_eta_delta_reason"), "footnote 11: eta_t = c_eta (t+1)^-(1/2+delta)"))
    if "eta_rank1" in c:
        rows.append(("eta = c_step/sigma_1", c["eta_rank1"], "Theorem 3.2, schedule rank1"))
    elif c.get("eta_rank1_reason"):
        rows.append(("eta = c_step/sigma_1", "not applicable", c["eta_rank1_reason"]))
    for name, v, what in rows:
        table.add_row(Text(name), Text(v if isinstance(v, str) else repr(v) if isinstance(v, int) else _num(v)),
                      Text(what))
    if c.get("not_applicable"):
        table.add_row(Text("Theorem 3.1"), Text("not applicable"), Text(c["not_applicable"]))
    for p in c.get("preconditions", []):
        table.add_row(Text(p["name"]), Text(p["value"]), Text(("holds" if p["ok"] else "FAILS") + f" [{p['reference']}]"))
    return table


def du_hu_lee_tables(summary: dict) -> list:
    """The tables ``convtool run`` (and ``show``) prints after a run's own summary for Du, Hu & Lee: the
    Balancedness table, and for matrix factorization Theorem 3.1's and, where it ran, the rank-1 case's (none
    for a summary without balancedness records, e.g. a file saved before they existed)."""
    if "balancedness" not in summary:
        return []
    parts = [balancedness_table(summary["balancedness"])]
    if "factorization" in summary:
        parts.append(factorization_table(summary["factorization"]))
        if "rank1" in summary["factorization"]:
            parts.append(rank1_table(summary["factorization"]["rank1"]))
    return parts
