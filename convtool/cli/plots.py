"""Figures of ``convtool run --plot`` and ``convtool compare --plot`` (optional extra ``plot``).

matplotlib is imported inside the functions, never at import time, and only
through its object-oriented API with the Agg canvas (``Figure`` +
``FigureCanvasAgg``): no pyplot, no global backend switch, no window. Without
matplotlib :func:`require_matplotlib` raises the CLI's one-line error.

* :func:`plot_run` -- Fig. 1's two panels: log10 L(t) (mean, +-1 std over
  seeds) against the predicted bounds ``L0 prod_s rhobar(eta_s, s)`` and
  ``L0 rhobar0^t``; and eta_t with eta_hat_t = 1/K_t (dashed).
* :func:`plot_compare` -- Fig. 2: mean log10 L(t) per schedule with std bands.
"""

from __future__ import annotations

import warnings

__all__ = ["require_matplotlib", "plot_run", "plot_compare"]

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


def _save(fig, path) -> None:
    from convtool.files import atomic_write

    atomic_write(path, lambda fh: fig.savefig(fh, dpi=120, format="png"))


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


@_quiet
def plot_run(result, path, title: str = "") -> None:
    """Write ``convtool run``'s figure (PNG) for a :class:`~convtool.numeric.engine.RunResult`."""
    import numpy as np

    a = result.arrays
    fig, (ax_l, ax_e) = _figure(2, 6.5)
    mean, std = result.log10_loss_stats()
    t = np.arange(mean.shape[0])
    R = result.R
    label = "log10 L(t)" + (f" (mean, +-1 std over {R} seeds)" if R > 1 else "")
    ax_l.plot(t, mean, color="C0", lw=1.6, label=label)
    if R > 1:
        ax_l.fill_between(t, mean - std, mean + std, color="C0", alpha=0.25, lw=0)
    for key, style, text in (("bound_prod", dict(color="C3", ls="--"), "L0 prod_s rhobar(eta_s, s) (Thm 3.2)"),
                             ("bound_rhobar0", dict(color="C2", ls=":"), "L0 rhobar0^t (Thm 3.2)")):
        bm, _ = _log10_stats(a[key])
        if np.isfinite(bm).any():
            ax_l.plot(t, bm, lw=1.3, label=text, **style)
    if "reference_loss" in a:
        rm, _ = _log10_stats(a["reference_loss"])
        if np.isfinite(rm).any():
            ax_l.plot(np.arange(rm.shape[0]), rm, color="C7", lw=1.2, ls="-.",
                      label="log10 l(t): GD on Problem 1, eta = 1/K (Fig. 4)")
    ax_l.set_ylabel("log10 excess loss")
    ax_l.legend(loc="best", fontsize=8)
    ax_l.grid(alpha=0.3)
    ax_l.set_title(title or f"convtool run: {result.schedule.get('name')}", fontsize=10)

    ts = np.arange(a["eta"].shape[1])
    eta, hat = _nanmean(a["eta"]), _nanmean(a["eta_hat"])
    ax_e.plot(ts, eta, color="C0", lw=1.6, label="eta_t" + (" (mean over seeds)" if R > 1 else ""))
    if np.isfinite(hat).any():
        ax_e.plot(ts, hat, color="C1", ls="--", lw=1.3, label="eta_hat_t = 1/K_t")
    positive = np.concatenate([eta[np.isfinite(eta) & (eta > 0)], hat[np.isfinite(hat) & (hat > 0)]])
    if positive.size:
        ax_e.set_yscale("log")
    ax_e.set_xlabel("step t")
    ax_e.set_ylabel("step size")
    ax_e.legend(loc="best", fontsize=8)
    ax_e.grid(alpha=0.3)
    _save(fig, path)


@_quiet
def plot_compare(cmp, path, title: str = "") -> None:
    """Write ``convtool compare``'s figure (PNG) for a :class:`~convtool.numeric.experiments.CompareResult`."""
    import numpy as np

    fig, (ax,) = _figure(1, 4.5)
    for i, row in enumerate(cmp.rows):
        mean, std = np.asarray(row.loss_mean, dtype=float), np.asarray(row.loss_std, dtype=float)
        t = np.arange(mean.shape[0])
        ref = row.name.startswith("problem-1")
        color = "k" if ref else f"C{i % 10}"
        ax.plot(t, mean, color=color, ls="--" if ref else "-", lw=1.5, label=row.name)
        if cmp.seeds > 1:
            ax.fill_between(t, mean - std, mean + std, color=color, alpha=0.2, lw=0)
    ax.set_xlabel("step t")
    ax.set_ylabel("log10 excess loss" + (f" (mean, +-1 std over {cmp.seeds} seeds)" if cmp.seeds > 1 else ""))
    ax.set_title(title or "convtool compare", fontsize=10)
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


@_quiet
def plot_deep_linear_run(result, path, title: str = "") -> None:
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
    _save(fig, path)


@_quiet
def plot_width_compare(cmp, path, title: str = "") -> None:
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
    _save(fig, path)
