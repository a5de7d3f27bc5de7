"""Figures of ``convtool run --plot`` and ``convtool compare --plot`` (optional extra ``plot``).

matplotlib is imported inside the functions, never at import time, and only
through its object-oriented API with the Agg canvas (``Figure`` +
``FigureCanvasAgg``): no pyplot, no global backend switch, no window. Without
matplotlib :func:`require_matplotlib` raises the CLI's one-line error.

* :func:`plot_run` -- Fig. 1's two panels: L(t) on a log axis (per seed, median) against the bound that
  covers each step, drawn only there (Theorem 3.1's rho-product where eta_t K_t < 2, Theorem 3.2's in its
  range; an omitted bound is named in the legend with the reason); and eta_t with eta_hat_t = 1/K_t.
* :func:`plot_compare` -- Fig. 2: median and per-seed L(t) per schedule (distinct colours, line styles and
  markers) and a step-size panel.

The file format follows the extension (:data:`PLOT_FORMATS`: .png, .pdf, .svg); ``dpi`` for .png.
"""

from __future__ import annotations

import warnings

__all__ = ["require_matplotlib", "plot_run", "plot_compare", "plot_format", "thm31_chain", "PLOT_FORMATS"]

INSTALL_HINT = "pip install convtool[plot]"


def require_matplotlib() -> None:
    """Raise :class:`~convtool.cli.errors.ConvtoolInputError` (one line) when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError as exc:
        from convtool.cli.errors import ConvtoolInputError

        raise ConvtoolInputError(f"--plot needs matplotlib, which is not installed ({exc}); "
                                 f"install it with `{INSTALL_HINT}`") from None


def _figure(nrows: int, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, 1, sharex=True, squeeze=False)[:, 0]
    return fig, axes


def _log10_stats(arr):
    """Mean and std over seeds (axis 0) of log10 of the positive entries; NaN where none."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lg = np.log10(np.where(np.asarray(arr) > 0, arr, np.nan))
        return np.nanmean(lg, axis=0), np.nanstd(lg, axis=0)


def _nanmean(arr):
    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(arr, dtype=float), axis=0)


#: file formats of a plot, by extension (the format follows the file name)
PLOT_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}


def plot_format(path) -> str:
    """The format of a plot file from its extension; one-line error for any other extension."""
    import os

    ext = os.path.splitext(str(path))[1].lower()
    if ext not in PLOT_FORMATS:
        from convtool.cli.errors import ConvtoolInputError

        raise ConvtoolInputError(f"--plot {path}: unknown plot format {ext or '(no extension)'!r}; end the file "
                                 f"name with {', '.join(PLOT_FORMATS)}")
    return PLOT_FORMATS[ext]


def _save(fig, path, dpi: int | None = None) -> None:
    from convtool.files import atomic_write

    fmt = plot_format(path)
    atomic_write(path, lambda fh: fig.savefig(fh, dpi=dpi or 120, format=fmt))


def _quiet(func):
    """Run a plotting function with numpy's floating-point warnings off: a diverged run's inf and NaN
    are drawn as gaps, which is the figure's meaning, not something to warn about on stderr."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import numpy as np

        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return func(*args, **kwargs)

    return wrapper


def _positive(x):
    import numpy as np

    x = np.asarray(x, dtype=float)
    return np.where(np.isfinite(x) & (x > 0), x, np.nan)


def _median(arr):
    """Median over seeds (axis 0) of the finite positive entries; NaN where no seed has one.

    Unlike the mean over the seeds still running, the median does not jump when a fast seed stops:
    a stopped seed's last value is carried on (it is where that seed stays)."""
    import numpy as np

    a = _positive(arr)
    if a.ndim == 1:
        return a
    held = a.copy()
    for r in range(a.shape[0]):  # carry each seed's last value on after it stopped
        ok = np.flatnonzero(np.isfinite(a[r]))
        if ok.size:
            held[r, ok[-1] + 1:] = a[r, ok[-1]]
    return np.nanmedian(held, axis=0) if np.isfinite(held).any() else held[0]


def _as2d(x):
    import numpy as np

    x = np.asarray(x, dtype=float)
    return x[None, :] if x.ndim == 1 else x


def thm31_chain(loss, rho, applies):
    """Theorem 3.1's rho-product, chained only through steps where it applies (eta_t K_t < 2):
    on each maximal run of applicable steps a..b-1 the bound is ``L(a) prod_{s=a}^{t-1} rho(eta_s, s)`` for
    t = a+1..b (and L(a) at a); NaN elsewhere. (R, T+1) from loss (R, T+1), rho and applies (R, T).

    >>> import numpy as np
    >>> thm31_chain(np.array([[8., 4, 2, 1]]), np.array([[.5, .9, .5]]), np.array([[True, False, True]]))
    array([[8., 4., 2., 1.]])
    """
    import numpy as np

    L, rho, app = _as2d(loss), _as2d(rho), np.atleast_2d(np.asarray(applies, dtype=bool))
    out = np.full(L.shape, np.nan)
    for r in range(L.shape[0]):
        T = app.shape[1]
        t = 0
        while t < T:
            if not app[r, t] or not np.isfinite(rho[r, t]):
                t += 1
                continue
            out[r, t] = L[r, t]
            while t < T and app[r, t] and np.isfinite(rho[r, t]):
                out[r, t + 1] = out[r, t] * rho[r, t]
                t += 1
    return out


def _omitted(ax, text: str) -> None:
    """A legend entry (no line) saying a bound is not drawn, and why."""
    import textwrap

    ax.plot([], [], " ", label=textwrap.fill(text, 70))


def _log_limits(ax, curves) -> None:
    """y range of a log axis from ``curves`` only (the Problem-1 reference, which drops to round-off within a
    step or two, then does not squash the schedules' curves)."""
    import numpy as np

    vals = np.concatenate([np.ravel(_positive(c)) for c in curves]) if curves else np.array([])
    vals = vals[np.isfinite(vals)]
    if vals.size:
        lo, hi = float(vals.min()), float(vals.max())
        ax.set_ylim(lo / 3.0, hi * 3.0)


@_quiet
def plot_run(result, path, title: str = "", dpi: int | None = None) -> "Figure":
    """Write ``convtool run``'s figure for a :class:`~convtool.numeric.engine.RunResult` (format from the extension).

    Panel 1, log scale: L(t) (per seed, and the median over seeds for several), and for each theorem the bound
    only where it covers the step: Theorem 3.1's rho-product chained through the steps with eta_t K_t < 2;
    Theorem 3.2's ``L0 prod_s rhobar`` and ``L0 rhobar0^t`` only on the steps in its range. A bound that
    covers no step gets a legend entry saying it is omitted and why. Panel 2: eta_t and 1/K_t (log scale).
    """
    import numpy as np

    a = result.arrays
    fig, (ax_l, ax_e) = _figure(2, 6.5)
    L = _as2d(a["loss"])
    R = L.shape[0]
    t = np.arange(L.shape[1])
    drawn = [L]
    if R > 1:
        for r in range(R):
            ax_l.plot(t, _positive(L[r]), color="C0", lw=0.6, alpha=0.35,
                      label=f"$L(t)$ per seed ({R} seeds)" if r == 0 else None)
        ax_l.plot(t, _median(L), color="C0", lw=1.8, label=r"$L(t)$, median over seeds")
    else:
        ax_l.plot(t, _positive(L[0]), color="C0", lw=1.8, label=r"$L(t) = \ell(W(t)) - \ell^*$")
    if "thm31_applicable" in a:
        app31 = np.atleast_2d(np.asarray(a["thm31_applicable"], dtype=bool))
        if app31.any():
            chain = thm31_chain(L, a["rho"], app31)
            ax_l.plot(t, _median(chain), color="C1", ls="--", lw=1.3,
                      label=r"Thm 3.1: $L(a)\prod_{s\geq a}\rho(\eta_s, s)$ where $\eta_s K_s < 2$"
                            + f" ({int(app31.sum())} steps)")
            drawn.append(chain)
        else:
            _omitted(ax_l, "Thm 3.1 bound omitted: eta_t K_t < 2 at no step")
        app32 = np.atleast_2d(np.asarray(a["thm32_in_range"], dtype=bool))
        if app32.any():
            # a state record t+1 is covered when step t was in range (and t = 0 when step 0 was)
            cov = np.zeros(L.shape, dtype=bool)
            cov[:, 1:] = app32
            cov[:, 0] = app32[:, 0]
            for key, style, text in (("bound_prod", dict(color="C3", ls="-."),
                                      r"Thm 3.2: $L_0\prod_s\bar\rho(\eta_s, s)$"),
                                     ("bound_rhobar0", dict(color="C2", ls=":"), r"Thm 3.2: $L_0\bar\rho_0^{\,t}$")):
                b = np.where(cov, _as2d(a[key]), np.nan)
                if np.isfinite(_positive(b)).any():
                    ax_l.plot(t, _median(b), lw=1.3, label=text + f" (in range on {int(app32.sum())} steps)",
                              **style)
                    drawn.append(b)
            if not app32.all() and int(app32.sum()) < int(np.sum(result.steps)):
                _omitted(ax_l, f"Thm 3.2 drawn only on its {int(app32.sum())} of {int(np.sum(result.steps))} "
                               f"steps in range")
        else:
            _omitted(ax_l, "Thm 3.2 bound omitted: the schedule is outside its range at every step "
                           "(Lemma E.3 at T0, eq. (89), Lemma E.4)")
    if "reference_loss" in a:
        ref = _as2d(a["reference_loss"])
        ax_l.plot(np.arange(ref.shape[1]), _median(ref), color="0.45", lw=1.0, ls=(0, (1, 1)),
                  label=r"GD on Problem 1, $\eta = 1/K$ (Fig. 4; may leave the axis)")
    ax_l.set_yscale("log")
    _log_limits(ax_l, drawn)
    ax_l.set_ylabel(r"excess loss $L(t)$")
    ax_l.legend(loc="best", fontsize=7)
    ax_l.grid(alpha=0.3, which="both")
    ax_l.set_title(title or f"convtool run: {result.schedule.get('name')}", fontsize=10)

    eta, hat = _as2d(a["eta"]), _as2d(a["eta_hat"]) if "eta_hat" in a else None
    ts = np.arange(eta.shape[1])
    ax_e.plot(ts, _median(eta), color="C0", lw=1.6, label=r"$\eta_t$" + (" (median over seeds)" if R > 1 else ""))
    if hat is not None and np.isfinite(_positive(hat)).any():
        ax_e.plot(ts, _median(hat), color="C1", ls="--", lw=1.3, label=r"$\hat\eta_t = 1/K_t$")
    if np.isfinite(_positive(eta)).any():
        ax_e.set_yscale("log")
    ax_e.set_xlabel(r"step $t$")
    ax_e.set_ylabel(r"step size")
    ax_e.legend(loc="best", fontsize=8)
    ax_e.grid(alpha=0.3, which="both")
    _save(fig, path, dpi)
    return fig


#: line styles of the compared schedules (with the colours, so no curve hides another: adaptive = constant)
LINE_STYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 2)), (0, (8, 2, 2, 2)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


@_quiet
def plot_compare(cmp, path, title: str = "", dpi: int | None = None) -> "Figure":
    """Write ``convtool compare``'s figure for a :class:`~convtool.numeric.experiments.CompareResult`.

    Panel 1 (log scale): per schedule the median L(t) over seeds (thick) and each seed (thin), in its own
    colour, line style and marker; the Problem-1 reference in grey, not counted in the y range (it drops to
    round-off at once). Panel 2 (log scale): the step size eta_t per schedule (median over seeds), as in
    the paper's Fig. 2.
    """
    import numpy as np

    fig, (ax, ax_e) = _figure(2, 7.0)
    drawn = []
    for i, row in enumerate(cmp.rows):
        ref = row.name.startswith("problem-1")
        res = cmp.runs.get(row.name)
        if ref:
            first = next(iter(cmp.runs.values()), None)
            if first is not None and "reference_loss" in first.arrays:
                L = _as2d(first.arrays["reference_loss"])
            else:
                L = 10.0 ** _as2d(row.loss_mean)
            ax.plot(np.arange(L.shape[1]), _median(L), color="0.45", lw=1.0, ls=(0, (1, 1)),
                    label=r"problem-1 ($\eta = 1/K$; not in the y range)")
            continue
        if res is None:
            continue
        L = _as2d(res.arrays["loss"])
        color, ls = f"C{i % 10}", LINE_STYLES[i % len(LINE_STYLES)]
        mk = MARKERS[i % len(MARKERS)]
        t = np.arange(L.shape[1])
        every = max(1, L.shape[1] // 8)
        if L.shape[0] > 1:
            for r in range(L.shape[0]):
                ax.plot(t, _positive(L[r]), color=color, ls=ls, lw=0.5, alpha=0.3)
        ax.plot(t, _median(L), color=color, ls=ls, lw=1.7, marker=mk, markevery=(i % every, every), ms=4,
                label=row.name + (" (median; thin: seeds)" if L.shape[0] > 1 else ""))
        drawn.append(L)
        eta = _as2d(res.arrays["eta"])
        ax_e.plot(np.arange(eta.shape[1]), _median(eta), color=color, ls=ls, lw=1.4, marker=mk,
                  markevery=(i % every, every), ms=4, label=row.name)
    ax.set_yscale("log")
    _log_limits(ax, drawn)
    ax.set_ylabel(r"excess loss $L(t)$")
    ax.set_title(title or "convtool compare", fontsize=10)
    ax.legend(loc="best", fontsize=7)
    ax.grid(alpha=0.3, which="both")
    if ax_e.lines:
        ax_e.set_yscale("log")
        ax_e.legend(loc="best", fontsize=7)
    ax_e.set_xlabel(r"step $t$")
    ax_e.set_ylabel(r"step size $\eta_t$")
    ax_e.grid(alpha=0.3, which="both")
    _save(fig, path, dpi)
    return fig


@_quiet
def plot_deep_linear_run(result, path, title: str = "", dpi: int | None = None) -> None:
    """``run --model deep-linear --plot``: three panels of Zhao & Xu's comparison (PNG).

    (1) log10 E_DLN(t) and log10 E(t) of convex GD from the same start, with Theorem 1's rate
    ``E_DLN(0) rate_thm1^t`` where its check applies (dotted, labelled not applicable otherwise);
    (2) log10 ||V(t) - W(t)||_X^2 with Theorem 2's bound ``D_R(t) ||V(0) - W*||_X^2`` on the steps
    where it applies, and Lemma 5's ``(q + 7 tau)^t ||V(0) - W*||_X^2`` against ``||V(t) - W*||_X^2``;
    (3) tau_hat(t) and, where recorded, p_lo / p_hi of P(t). Means over seeds (log10 of the mean).
    """
    import numpy as np

    a = result.arrays
    fig, (ax_l, ax_d, ax_p) = _figure(3, 8.5)
    E, Ec = _log10_stats(a["loss"])[0], _log10_stats(a["E_cvx"])[0]
    t = np.arange(E.shape[0])
    ax_l.plot(t, E, color="C0", lw=1.6, label="log10 E_DLN(t)")
    ax_l.plot(t, Ec, color="C1", lw=1.3, ls="--", label="log10 E(t): convex GD, eta_* = N eta/n_N")
    z = result.summary().get("zhao_xu", {})
    r1 = z.get("rate_thm1")
    if r1 and a["thm1_applies"].any():
        ax_l.plot(t, np.log10(np.nanmean(a["loss"][:, 0])) + t * np.log10(r1), color="C3", ls=":",
                  label="E_DLN(0) (1 - (1 - eps)/kappa)^t (Thm 1)")
    elif r1:
        import textwrap

        why = textwrap.fill(f"Thm 1: {z.get('thm1_not_applicable') or 'not applicable'}", 80)
        ax_l.plot([], [], " ", label=why)
    ax_l.set_ylabel("log10 gap")
    ax_l.legend(loc="best", fontsize=7)
    ax_l.grid(alpha=0.3)
    ax_l.set_title(title or f"convtool run --model deep-linear: {result.schedule.get('name')}", fontsize=10)

    ax_d.plot(t, _log10_stats(a["dist_X_sq"])[0], color="C0", lw=1.6, label="log10 ||V(t) - W(t)||_X^2")
    ax_d.plot(t, _log10_stats(a["dln_X_sq"])[0], color="C2", lw=1.2, label="log10 ||V(t) - W*||_X^2")
    ts = np.arange(1, a["eta"].shape[1] + 1)
    for key, app, style, text in (("thm2_bound", "thm2_applies", dict(color="C3", ls="--"), "Thm 2 bound (D_R)"),
                                  ("lemma5_bound", "lemma5_applies", dict(color="C2", ls=":"), "Lemma 5 bound")):
        b = np.where(a[app], a[key], np.nan)
        bm = _log10_stats(b)[0]
        if np.isfinite(bm).any():
            ax_d.plot(ts, bm, lw=1.2, label=text, **style)
        else:
            ax_d.plot([], [], " ", label=f"{text}: vacuous (q + 7 tau >= 1)")
    ax_d.set_ylabel("log10 squared X-distance")
    ax_d.legend(loc="best", fontsize=7)
    ax_d.grid(alpha=0.3)

    ax_p.plot(ts - 1, _nanmean(a["tau_hat"]), color="C0", lw=1.4, label="tau_hat(t) (Lemma 4)")
    for key, color in (("p_lo", "C1"), ("p_hi", "C3")):
        p = _nanmean(a[key])
        ok = np.isfinite(p)
        if ok.any():
            ax_p.plot(t[ok], p[ok], color=color, marker=".", ls="-", lw=1.0, label=f"{key} of P(t) (n_N/N scaled)")
    ax_p.axhline(1.0, color="k", lw=0.6)
    ax_p.set_xlabel("step t")
    ax_p.legend(loc="best", fontsize=7)
    ax_p.grid(alpha=0.3)
    _save(fig, path, dpi)
    return fig


@_quiet
def plot_width_compare(cmp, path, title: str = "", dpi: int | None = None) -> None:
    """``compare --model deep-linear --plot``: log10 ||V(t) - W(t)||_X^2 / ||V(0) - W*||_X^2 per width (PNG)."""
    import numpy as np

    fig, (ax,) = _figure(1, 4.5)
    for i, (w, res) in enumerate(cmp.runs.items()):
        a = res.arrays
        ratio = a["dist_X_sq"] / a["dln_X_sq"][:, :1]
        m = _log10_stats(ratio)[0]
        ax.plot(np.arange(m.shape[0]), m, color=f"C{i % 10}", lw=1.5, label=f"width {w}")
    ax.set_xlabel("step t")
    ax.set_ylabel("log10 ||V(t) - W(t)||_X^2 / ||V(0) - W*||_X^2")
    ax.set_title(title or "convtool compare --model deep-linear", fontsize=10)
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path, dpi)
    return fig
