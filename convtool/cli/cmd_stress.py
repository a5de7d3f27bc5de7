"""``convtool stress``: random instances against one registered check, violations replayed at high precision."""

from __future__ import annotations

import click

from convtool.cli.errors import handle_user_errors

__all__ = ["stress", "render_stress"]


@click.command("stress", short_help="Search random instances for violations of one check (replayed in mpmath).")
@click.option("--model", type=click.Choice(("two-layer", "deep-linear")), default="two-layer", show_default=True)
@click.option("--check", "check", required=True,
              help="A registered check: two-layer thm31, thm32 (local-PL); deep-linear cvx_q, lemma5, thm2, thm1.")
@click.option("--trials", type=click.IntRange(min=0), default=100, show_default=True, help="Instances drawn.")
@click.option("--shapes", type=click.Choice(("any", "n!=m", "n=m")), default="any", show_default=True,
              help="Shape filter on n, m (W is n x m).")
@click.option("--families", default=None, metavar="NAME,...",
              help="Instance families (default all; convtool.numeric.stress.FAMILIES).")
@click.option("--seed", type=int, default=0, show_default=True, help="Trial i draws from default_rng([seed, i]).")
@click.option("--steps", type=click.IntRange(min=1), default=100, show_default=True, help="GD steps per run.")
@click.option("--schedules", default=None, metavar="NAME,...", help="Schedules to run (default: those the check covers).")
@click.option("--max-dim", "max_dim", type=click.IntRange(min=1), default=3, show_default=True,
              help="n, m drawn from 1..max-dim.")
@click.option("--as-stated", "as_stated", is_flag=True,
              help="Count steps where the paper's stated hypotheses hold (Theorem 3.2: mu > 0, alpha1 > 0, "
                   "eta0 <= eta_max, eq. 89), even where convtool's extra guards (Lemma E.3 at T0) fail.")
@click.option("--digits", type=click.IntRange(min=20), default=50, show_default=True,
              help="mpmath digits of the replay.")
@click.option("--c", "c", type=float, default=0.5, show_default=True, help="Theorem E.1's c (two-layer).")
@click.option("--d", "d", type=float, default=2.0, show_default=True, help="Theorem E.1's d (two-layer).")
@click.option("--no-shrink", "no_shrink", is_flag=True, help="Do not shrink the smallest counterexample.")
@click.option("--out", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Save each counterexample (and the shrunk one) as .npz data files in this folder.")
@click.option("--json", "as_json", is_flag=True, help="Write one strict JSON object to stdout instead of the tables.")
@handle_user_errors
def stress(model, check, trials, shapes, families, seed, steps, schedules, max_dim, as_stated, digits, c, d,
           no_shrink, out, as_json):
    """Draw random instances, run the schedules CHECK covers, and report its violations.

    Every flagged step is replayed at --digits digits (mpmath); only violations that
    hold there are counterexamples. The smallest is shrunk (fewer dimensions, rounder
    numbers). --out DIR saves each as a data file that `convtool run FILE --schedule S
    --eta0 E` reproduces (the command is in the output and in the file's metadata).

    \b
    Examples:
      $ convtool stress --check thm32 --trials 500 --shapes 'n!=m' --as-stated
      $ convtool stress --model deep-linear --check lemma5 --trials 20 --json
    """
    import os

    from convtool.cli.console import stderr_console, stdout_console
    from convtool.numeric.stress import stress as run_stress

    err = stderr_console()
    if out is not None:
        from convtool.files import probe_writable

        os.makedirs(out, exist_ok=True)
        probe_writable(out)
    fams = [f.strip() for f in families.split(",") if f.strip()] if families else None
    scheds = [s.strip() for s in schedules.split(",") if s.strip()] if schedules else None
    from convtool.cli.cmd_run import progress_bar

    with progress_bar(err, not as_json) as update:
        res = run_stress(model=model, check=check, trials=trials, families=fams, shapes=shapes, seed=seed,
                         as_stated=as_stated, steps=steps, schedules=scheds, max_dim=max_dim, digits=digits,
                         c=c, d=d, shrink_smallest=not no_shrink,
                         progress=lambda i, n: update(f"stress {check}", i, n))
    if out is not None:
        from rich.text import Text

        from convtool.numeric.stress import save_counterexample

        for k, ce in enumerate(res.counterexamples):
            dm = ce.dims
            save_counterexample(ce, os.path.join(out, f"{check}_{k:03d}_{ce.family}_n{dm['n']}m{dm['m']}h{dm['h']}.npz"),
                                check)
        if res.smallest is not None and res.smallest.file is None:
            save_counterexample(res.smallest, os.path.join(out, f"{check}_smallest.npz"), check)
        n_files = len(res.counterexamples) + (res.smallest is not None and res.smallest.shrunk_from is not None)
        err.print(Text(f"saved {n_files} counterexample file(s) to {out}"), soft_wrap=True)
    if as_json:
        import json

        from convtool.cli.options import with_provenance

        click.echo(json.dumps(with_provenance(res.to_dict()), allow_nan=False, indent=2))
        return
    stdout_console().print(render_stress(res))


def _g(x, digits=8) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def render_stress(res):
    """The tables of ``convtool stress``: the counts, the counterexamples, the smallest instance."""
    import numpy as np
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    head = Text(f"{res.model} | check {res.check}: {res.reference} | {res.description} | "
                f"{'as stated' if res.as_stated else 'with convtool guards'} | families {', '.join(res.families)} | "
                f"shapes {res.shapes} | schedules {', '.join(res.schedules)} | {res.steps} steps | seed {res.seed}")
    t = Table(title="Stress summary", show_header=False)
    t.add_column("what", overflow="fold")
    t.add_column("count", justify="right", no_wrap=True)
    t.add_row("trials (instances)", str(res.trials))
    t.add_row("runs (trial x schedule)", str(res.runs))
    for reason, k in res.skipped.items():
        t.add_row(f"skipped: {reason}", str(k))
    t.add_row("steps taken", str(res.steps_taken))
    t.add_row("non-vacuous steps checked (check applied)", str(res.steps_checked))
    if res.steps_excluded is not None:
        t.add_row("of which convtool's guards exclude", str(res.steps_excluded))
    t.add_row("flagged in float64", str(res.float_violations))
    t.add_row(f"violations confirmed ({res.replay or 'no replay'})", str(res.violations))
    t.add_row("float artifacts (refuted at high precision)", str(res.artifacts))
    if res.unreplayed:
        t.add_row("unreplayed (no high-precision replay)", str(res.unreplayed))
    parts = [head, t]
    if res.counterexamples:
        ct = Table(title=f"Counterexamples ({len(res.counterexamples)} runs; first 10, smallest first)")
        for col in ("family", "n m h N", "schedule", "eta0", "step", "L(t+1)/L(t)", "bound failed", "excess"):
            ct.add_column(col, overflow="fold")
        for ce in sorted(res.counterexamples, key=lambda c: c.size())[:10]:
            dm, f = ce.dims, ce.first
            ct.add_row(ce.family, f"{dm['n']} {dm['m']} {dm['h']} {dm['N']}", ce.schedule, _g(ce.eta0, 6),
                       str(ce.steps[0]), _g(f.get("ratio")), str(f.get("which")), _g(f.get("excess"), 4))
        parts.append(ct)
    sm = res.smallest
    if sm is not None:
        f = sm.first
        st = Table(title="Smallest counterexample" + (" (shrunk from n={n} m={m} h={h} N={N})".format(**sm.shrunk_from)
                                                       if sm.shrunk_from else ""), show_header=False)
        st.add_column("what", overflow="fold")
        st.add_column("value", overflow="fold")
        for k, a in sm.arrays.items():
            st.add_row(k, np.array2string(np.asarray(a), separator=", ", precision=6).replace("\n", ""))
        st.add_row("schedule, eta0", f"{sm.schedule}, {sm.eta0!r}" + (f" (= {sm.eta0_fraction:g} eta_max)"
                                                                       if sm.eta0_fraction else ""))
        st.add_row("first violating step t", str(sm.steps[0]))
        st.add_row(f"at {f['digits']} digits", f"L(t) = {_g(f['L_t'], 10)}, L(t+1) = {_g(f['L_next'], 10)}, "
                                               f"ratio {_g(f.get('ratio'), 10)}; {f['which']} = {_g(f['bound'], 10)}; "
                                               f"excess {_g(f['excess'], 4)}")
        st.add_row("reproduce", sm.reproduce(sm.file or "FILE.npz"))
        parts.append(st)
    for note in res.notes:
        parts.append(Text("Note: " + note))
    verdict = (f"{res.violations} violation(s) of {res.check} confirmed at high precision in {res.steps_checked} "
               f"non-vacuous steps" if res.replay else
               f"{res.float_violations} float violation(s) of {res.check} in {res.steps_checked} non-vacuous steps "
               f"(not replayed)")
    parts.append(Text(verdict))
    return Group(*parts)
