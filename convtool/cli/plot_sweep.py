"""The summary figure of ``convtool sweep --plot``: y against x, one colour per hue, the predicted value dashed."""

from __future__ import annotations

__all__ = ["plot_sweep"]


def _num(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def plot_sweep(rows: list, spec: dict, path: str, title: str = "") -> None:
    """Draw ``spec['y']`` (median over the runs with the same x and hue; distinct markers and line styles, so that
    coinciding curves stay visible) against ``spec['x']``; ``predicted`` as
    a dashed line of the same colour; log axes per ``logx`` / ``logy``. Failed runs are left out (said in
    the legend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from convtool.files import atomic_write
    from convtool.sweeps.figure import median

    x, y, hue, pred = spec["x"], spec["y"], spec.get("hue"), spec.get("predicted")
    ok = [r for r in rows if r.get("run_status") == "ok"]
    groups: dict = {}
    for r in ok:
        groups.setdefault(r.get(hue) if hue else None, []).append(r)
    fig = Figure(figsize=(6.4, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    styles = ["-", "-.", ":", (0, (5, 1))]
    markers = ["o", "s", "^", "D", "v", "x"]
    for gi, (g, rs) in enumerate(groups.items()):
        def series(key):
            pts: dict = {}
            for r in rs:
                xv, yv = _num(r.get(x)), _num(r.get(key))
                if xv is not None and yv is not None:
                    pts.setdefault(xv, []).append(yv)
            xs = sorted(pts)
            return xs, [median(pts[k]) for k in xs]

        xs, ys = series(y)
        label = f"{hue} = {g}" if hue else y
        (line,) = ax.plot(xs, ys, marker=markers[gi % len(markers)], markersize=8 - 1.5 * (gi % 3),
                          linestyle=styles[gi % len(styles)], label=label)
        if pred:
            px, py = series(pred)
            if px:
                ax.plot(px, py, linestyle="--", color=line.get_color(), label=f"{pred} ({label})")
    failed = len(rows) - len(ok)
    if failed:
        ax.plot([], [], " ", label=f"{failed} failed run(s) not drawn")
    if spec.get("logx"):
        ax.set_xscale("log")
    if spec.get("logy"):
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(spec.get("title") or title)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fmt = path.rsplit(".", 1)[-1].lower() if "." in path else "png"
    fmt = fmt if fmt in ("png", "pdf", "svg") else "png"
    atomic_write(path, lambda fh: fig.savefig(fh, format=fmt))
