"""A paper's experiment as a sweep: the spec, the observed and predicted columns, and the claim checked.

Each ``examples/sweep_*.py`` script defines a :class:`Figure` and calls :func:`reproduce`, which runs the
sweep (``--quick`` applies the spec's ``[quick]`` table), draws the spec's ``[plot]`` to ``NAME.png`` and
writes ``NAME.md``: a markdown table with one line per (x, hue) group, the observed value next to the
predicted one (medians over the group's runs), and the claim's verdict in words.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Figure", "reproduce", "group_medians", "FigureResult", "median", "main"]


@dataclass
class Figure:
    """``claim(groups, rows) -> (held, text)`` gets :func:`group_medians`' output and the sweep's rows."""

    name: str
    title: str
    spec: str
    x: str
    observed: str
    predicted: str | None = None
    hue: str | None = None
    claim: Callable | None = None
    reference: str = ""
    extra: tuple = ()
    #: ``derive(row) -> {column: value}``: columns computed from a run's row (e.g. a condition number)
    derive: Callable | None = None


@dataclass
class FigureResult:
    name: str
    held: bool | None
    verdict: str
    groups: list
    png: str | None
    markdown: str
    failed: int
    rows: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"name": self.name, "held": self.held, "verdict": self.verdict, "groups": self.groups,
                "png": self.png, "markdown": self.markdown, "failed": self.failed}


def median(vals):
    vals = sorted(v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool))
    if not vals:
        return None
    m = len(vals) // 2
    return vals[m] if len(vals) % 2 else 0.5 * (vals[m - 1] + vals[m])


def group_medians(rows: list, x: str, hue: str | None, columns) -> list:
    """``[{x, hue, runs, failed, COLUMN: median, ...}]`` per (x, hue) group, in first-seen order."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((r.get(x), r.get(hue) if hue else None), []).append(r)
    out = []
    for (xv, hv), rs in groups.items():
        ok = [r for r in rs if r.get("run_status") == "ok"]
        g = {x: xv, **({hue: hv} if hue else {}), "runs": len(rs), "failed": len(rs) - len(ok)}
        for c in columns:
            g[c] = median([r.get(c) for r in ok])
        out.append(g)
    return out


def format_value(v, missing: str = "n/a") -> str:
    """A table cell of a sweep summary: floats to 6 significant digits (the CSV keeps every digit)."""
    if v is None:
        return missing
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def reproduce(fig: Figure, out_dir: str, *, quick: bool = False, jobs: int = 1, force: bool = False) -> FigureResult:
    """Run ``fig``'s sweep into ``out_dir/NAME-sweep`` and write ``out_dir/NAME.png`` and ``NAME.md``."""
    from convtool.files import atomic_write
    from convtool.sweeps import run_sweep
    from convtool.sweeps.spec import parse_spec

    spec = parse_spec(fig.spec, source=fig.name, quick=quick)
    os.makedirs(out_dir, exist_ok=True)
    res = run_sweep(spec, os.path.join(out_dir, f"{fig.name}-sweep"), jobs=jobs, force=force)
    if fig.derive is not None:
        for r in res.rows:
            if r.get("run_status") == "ok":
                r.update(fig.derive(r))
    cols = [fig.observed] + ([fig.predicted] if fig.predicted else []) + list(fig.extra)
    groups = group_medians(res.rows, fig.x, fig.hue, cols)
    held, verdict = fig.claim(groups, res.rows) if fig.claim else (None, "no claim checked")
    png = None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        verdict += " (no figure: matplotlib is not installed)"
    else:
        from convtool.cli.plot_sweep import plot_sweep

        png = os.path.join(out_dir, f"{fig.name}.png")
        plot = dict(spec.plot) or {"x": fig.x, "y": fig.observed, "hue": fig.hue, "predicted": fig.predicted}
        plot_sweep(res.rows, plot, png, title=fig.title)
    head = [fig.x] + ([fig.hue] if fig.hue else []) + ["runs"] + cols
    lines = [f"# {fig.title}", "", f"{fig.reference}", "",
             f"Sweep: {len(res.rows)} runs ({'quick' if quick else 'full'} size), {res.failed} failed.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in groups:
        lines.append("| " + " | ".join(format_value(g.get(h)) for h in head) + " |")
    lines += ["", f"**Claim:** {verdict}", ""]
    md = "\n".join(lines)
    md_path = os.path.join(out_dir, f"{fig.name}.md")
    atomic_write(md_path, lambda fh: fh.write(md.encode("utf-8")))
    return FigureResult(name=fig.name, held=held, verdict=verdict, groups=groups, png=png, markdown=md_path,
                        failed=res.failed, rows=res.rows)


def main(fig: Figure, argv=None) -> FigureResult:
    """The command line of an ``examples/sweep_*.py`` script: ``[--quick] [--out DIR] [--jobs N] [--force]``."""
    import argparse

    ap = argparse.ArgumentParser(description=fig.title)
    ap.add_argument("--quick", action="store_true", help="the small version (under a minute)")
    ap.add_argument("--out", default=os.path.join("examples", "out"), help="output folder [examples/out]")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--force", action="store_true", help="ignore the sweep cache")
    a = ap.parse_args(argv)
    res = reproduce(fig, a.out, quick=a.quick, jobs=a.jobs, force=a.force)
    print(open(res.markdown, encoding="utf-8").read())
    if res.png:
        print(f"figure: {res.png}")
    return res
