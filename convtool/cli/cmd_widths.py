"""``convtool widths``: one table of every width threshold convtool knows (issue 7).

The rows come from :func:`convtool.numeric.widths.width_table` (one registry entry per paper); this
module only reads DATA, decides which arrays each model reads (``W1``/``W2`` mean a two-layer pair in
the local-PL paper and the first layers of a deep chain in Zhao & Xu), and renders.

The table never shortens a number: the value column is ``no_wrap`` and shows ``repr(float)`` (the same
digits as ``--json``); the descriptions fold.
"""

from __future__ import annotations

import click

from convtool.cli.errors import handle_user_errors
from convtool.cli.options import data_argument

__all__ = ["widths", "render_widths"]


@click.command("widths")
@data_argument
@click.option("--width", "h", type=click.IntRange(min=1), default=None,
              help="Two-layer width h to hold the local-PL rows against [DATA's W1 (n x h), W2 (m x h)].")
@click.option("--depth", type=click.IntRange(min=2), default=None, help="deep-linear: depth N of generated layers [3].")
@click.option("--widths", "dln_widths", default=None, metavar="n1,...,n_{N-1}",
              help="deep-linear: hidden widths of generated layers, one for all or N - 1 of them [2000].")
@click.option("--init", type=click.Choice(("gaussian", "orthogonal", "balanced")), default="gaussian",
              show_default=True, help="deep-linear: initialization of generated layers.")
@click.option("--seed", type=int, default=0, show_default=True, help="deep-linear: seed of generated layers.")
@click.option("--loss-scale", "loss_scale", type=click.Choice(("sum", "mean")), default=None,
              help="deep-linear: sum = App. G's 1/2||.||^2 [default]; mean = Example 1's (1/M)||.||^2.")
@click.option("--delta", type=float, default=None,
              help="Failure probability delta (Zhao & Xu, and Theorem 3.3's B) [0.1].")
@click.option("--c", "c", type=float, default=None, help="deep-linear: exponent c of eta0(c), eq. (22) [0.1].")
@click.option("--C", "C", type=float, default=None,
              help="deep-linear: the theorems' unspecified absolute constant C, reported with it [1].")
@click.option("--eta", type=float, default=None, help="deep-linear: step size [Theorem 1's n_N/(beta N)].")
@click.option("--theta", type=float, default=None, help="deep-linear: exponent theta of eq. (14) [0.5].")
@click.option("--eps", type=float, default=None,
              help="deep-linear: slack eps of Lemma 3 [the proof's eps at Theorem 1's step].")
@click.option("--p", "p", type=float, default=None,
              help="Theorem 3.3: init exponent p, W(0) ~ N(0, h^(-2p)), 1/4 < p < 1/2 [0.375].")
@click.option("--target", type=float, default=None,
              help="Theorem 3.3: the alpha1/alpha2 that eq. (131)'s bound must reach, in (0, 1) [0.5].")
@click.option("--model", type=click.Choice(("shallow",)), default=None,
              help="shallow: Song et al.'s rows (79), (80), the odd variant and the paper's Table 1 instead.")
@click.option("--activation", default=None, metavar="NAME|EXPR", help="shallow: the activation [gelu].")
@click.option("--omega1", type=float, default=None, help="shallow: std of W0 entries [LeCun].")
@click.option("--omega2", type=float, default=None, help="shallow: std of V0 entries [LeCun].")
@click.option("--chi", type=float, default=None, help="shallow: chi_max [derived a priori bound].")
@click.option("--t", "t", type=click.IntRange(1, 6), default=None, help="shallow: Theorem 3's order t.")
@click.option("--json", "as_json", is_flag=True, help="Write one strict JSON object to stdout instead of tables.")
@handle_user_errors
def widths(data, h, depth, dln_widths, init, seed, as_json, model=None, activation=None, omega1=None, omega2=None,
           chi=None, t=None, **opts):
    """Every width threshold for DATA (default: Zhao & Xu's Appendix G data) and its weights.

    DATA is an .npz file with X (N x n), Y (N x m), samples as rows. Two-layer rows (local-PL paper)
    read n, m and the width h of W1 (n x h), W2 (m x h) when those are a two-layer pair (or --width).
    Deep-linear rows (Zhao & Xu) read W1 .. WN when they form a chain R^n -> ... -> R^m, else
    generated layers (--depth, --widths, --init, --seed). Each row says whether its value is explicit
    or holds up to the unspecified constant C, and whether the width meets it.

    \b
    Example:
      $ convtool widths --widths 40 --json | python -c "import json,sys; print(json.load(sys.stdin)['rows'][1])"
    """
    from convtool.cli.console import report_warnings, stderr_console, stdout_console
    from convtool.cli.options import DLN_DEFAULTS
    from convtool.numeric.widths import THM33_DEFAULTS, width_table

    if model == "shallow":
        return _shallow(data, as_json, width=h, seed=seed, activation=activation, omega1=omega1, omega2=omega2,
                        chi=chi, t=t, delta=opts.get("delta"), init=init)
    given = [k for k, v in (("activation", activation), ("omega1", omega1), ("omega2", omega2), ("chi", chi),
                            ("t", t)) if v is not None]
    if given:
        from convtool.cli.errors import ConvtoolInputError

        raise ConvtoolInputError(f"--{given[0]} applies to --model shallow only")

    err = stderr_console()
    with report_warnings(err):
        X, Y, h, h_source, layers, layer_init, layers_source, source = _inputs(data, h, depth, dln_widths, init, seed)
        pick = {k: (DLN_DEFAULTS[k] if opts.get(k) is None else opts[k])
                for k in ("loss_scale", "delta", "c", "C", "theta")}
        pick.update({k: (THM33_DEFAULTS[k] if opts.get(k) is None else opts[k]) for k in ("p", "target")})
        resnet_m = None
        if data is not None:  # a linear ResNet's transform A (m x d) gives the zou-long-gu rows their width
            from convtool.numeric.data import load_arrays

            A = load_arrays(data).get("A")
            if A is not None and getattr(A, "ndim", 0) == 2 and A.shape[1] == X.shape[1]:
                resnet_m = int(A.shape[0])
        tab = width_table(X, Y, h=h, h_source=h_source, layers=layers, init=layer_init, layers_source=layers_source,
                          eta=opts.get("eta"), eps=opts.get("eps"), resnet_m=resnet_m, **pick)
    from rich.text import Text

    for w in tab.warnings:
        err.print(Text("Warning: " + w), soft_wrap=True)
    if as_json:
        import json

        from convtool.cli.options import with_provenance

        click.echo(json.dumps(with_provenance({"source": source, **tab.to_dict()}, {"seed": seed, "init": init}), allow_nan=False, indent=2))
        return
    stdout_console().print(render_widths(tab, source=source))


def _shallow(data, as_json, **opts):
    """``widths --model shallow``: Song et al.'s width rows beside the paper's Table 1."""
    from convtool.cli.console import stdout_console
    from convtool.cli.errors import ConvtoolInputError
    from convtool.cli.model_shallow import _deltas, instance
    from convtool.errors import InputError
    from convtool.numeric.shallow_constants import compute_shallow_constants
    from convtool.numeric.widths import SONG_TABLE1, shallow_width_rows

    X, Y, W, V, act, w1, w2, how, source = instance(data, opts)
    try:
        res = compute_shallow_constants(X, Y, W[0], V[0], act, chi=opts.get("chi"), t=opts.get("t"), omega1=w1,
                                        omega2=w2, omega_source=how, deltas=_deltas(opts), jacobian=False, gram=False)
    except InputError as exc:
        raise ConvtoolInputError(str(exc)) from None
    rows = shallow_width_rows(res)
    if as_json:
        import json

        from convtool.results import jsonable

        out = {"source": source, "shallow": {"rows": rows, "table1": list(SONG_TABLE1),
                                             "not_applicable": {r["name"]: r["value"].reason for r in rows
                                                                if hasattr(r["value"], "reason")},
                                             "notes": res.notes, **res.shape}}
        click.echo(json.dumps(jsonable(out), allow_nan=False, indent=2))
        return
    from rich.console import Group
    from rich.text import Text

    from convtool.cli.render_shallow import render_shallow_widths

    head = Text(f"source: {source} | n = {res.shape['n']}, d0 = {res.shape['d0']}, d1 = {res.shape['d1']} | "
                f"activation {act.name} | {res.notes.get('deltas', '')}")
    stdout_console().print(Group(head, Text(""), render_shallow_widths(rows, SONG_TABLE1)))


def _inputs(data, h, depth, dln_widths, init, seed):
    """``(X, Y, h, h_source, layers, init, layers_source, source)``: which arrays each row group reads."""
    from convtool.cli.errors import ConvtoolInputError
    from convtool.cli.options import row_sample_data
    from convtool.numeric.widths import deep_chain, two_layer_pair

    arrays, X, Y, source = row_sample_data(data, "convtool widths")
    n, m = X.shape[1], Y.shape[1]
    file_h, h_why = two_layer_pair(arrays, n, m)
    if h is not None and file_h is not None and h != file_h:
        raise ConvtoolInputError(f"--width {h} conflicts with the width h = {file_h} of DATA's W1, W2")
    if h is not None:
        h_why = f"--width {h}"
    h = file_h if h is None else h
    layers, why = deep_chain(arrays, n, m)
    if layers is not None:
        if depth is not None or dln_widths is not None:
            raise ConvtoolInputError(f"{source} holds the layers of a deep chain ({why}); --depth and --widths apply "
                                     f"only to generated layers")
        return X, Y, h, h_why, layers, "file", why, source
    from convtool.cli.options import DLN_DEFAULTS, _parse_widths
    from convtool.limits import check_bytes
    from convtool.numeric.deep_linear import init_layers

    N = DLN_DEFAULTS["depth"] if depth is None else int(depth)
    hidden = _parse_widths(DLN_DEFAULTS["widths"] if dln_widths is None else dln_widths, N)
    dims = [n, *hidden, m]
    check_bytes(8 * sum(a * b for a, b in zip(dims[1:], dims[:-1])) * 4, f"layers of widths {dims}", "lower --widths")
    layers = [W[0] for W in init_layers(tuple(dims), init, seed=int(seed or 0))]
    lead = "" if data is None else f"{why}; "
    return X, Y, h, h_why, layers, init, f"{lead}generated {init} layers {dims}, seed {int(seed or 0)}", source


def _value_cell(row):
    from rich.text import Text

    from convtool.results import NotApplicable

    if isinstance(row.value, NotApplicable):
        return Text("n/a")
    return Text(repr(float(row.value)), no_wrap=True)


def render_widths(tab, source: str = ""):
    """The width table as a rich Group: a header, then one table per paper (value column never wrapped)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from convtool.analysis import PAPERS
    from convtool.results import NotApplicable

    two = tab.sources["two_layer"]
    head = Text(f"source: {source} | two-layer n={two['n']} m={two['m']} h={two['h'] if two['h'] is not None else '-'}"
                f" ({two['h_source']})")
    deep = tab.sources.get("deep_linear")
    if deep is not None:
        head.append(f" | deep-linear widths {deep['widths']} ({deep['source']})")
    prm = tab.params
    head.append(f" | delta={prm['delta']!r} c={prm['c']!r} C={prm['C']!r} p={prm['p']!r} target={prm['target']!r}")
    parts = [head]
    for paper in dict.fromkeys(r.paper for r in tab.rows):
        title = PAPERS[paper].title if paper in PAPERS else paper
        table = Table(title=Text(f"{paper}: {title}", overflow="fold"), show_lines=True, expand=False)
        table.add_column("result / reference / assumptions", overflow="fold", ratio=1)
        table.add_column("value", justify="right", no_wrap=True)
        table.add_column("meets", no_wrap=True)
        for r in (r for r in tab.rows if r.paper == paper):
            kind = r.constant + (f", C = {r.C!r}" if r.C is not None else "") + (" (derived)" if r.derived else "")
            desc = Text(f"{r.result}: {r.formula}", style="bold", overflow="fold")
            desc.append(f"\n{r.reference} | {kind} | init: {r.init}", style="")
            if isinstance(r.value, NotApplicable):
                desc.append(f"\nvalue n/a: {r.value.reason}")
            desc.append(f"\nassumptions: {r.assumptions}")
            width = f"{r.width_name} = {r.width:g}: " if r.width is not None else ""
            desc.append(f"\n{r.meets}: {width}{r.reason}")
            table.add_row(desc, _value_cell(r), Text(r.meets, no_wrap=True))
        parts.append(table)
    return Group(*parts)
