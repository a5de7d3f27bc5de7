"""One array call for many instances of a lambdified numpy function, with each instance's own floats (issue 13).

A batch's eq. (88) scans call ``f(grid_r, *args_r)`` once per seed r, each call ~60 numpy operations on a grid
of a few hundred to a few thousand points: at 100 seeds the calls' fixed cost is as large as their work.
:func:`stacked_function` builds ``S(X, args_list)``, the same values in one pass over the grids stacked as the
rows of ``X``, bit for bit:

- a line or subexpression of ``f`` that does not involve the variable (``K*L0``, ``sqrt(2)*sqrt(x1)``,
  ``K**2*L0*beta2``) is computed for each instance as ``f`` computes it (the same Python code on the same
  Python floats), and enters the array part as a column, broadcast along that instance's row;
- the operations that involve the variable run once on the stacked arrays. numpy's ``+ - * /`` are IEEE
  operations, the same for an element whatever the other operand's shape; a ufunc (``exp``, ``expm1``,
  ``power``) computes each element of a contiguous array by the same loop whatever its position (numpy's SIMD
  loops treat a remainder with masked vector loads, not another routine; tests/test_scan_batch.py checks this
  bit for bit over lengths and offsets);
- an exponent is the one place where a scalar and an array differ (``x ** 0.5`` with a Python float takes
  numpy's ``sqrt`` fast path, with an array of 0.5 ``power``): an exponent must be a literal or an input that
  every instance passes as the same Python float, else :func:`stacked_function`'s callable returns None (the
  caller then calls ``f`` per instance).

Anything the builder does not follow raises :class:`~convtool.numeric.certificate.Unsupported`; an error in an
instance's scalar part (a ``ZeroDivisionError`` of Python floats) makes the call return None too, so that the
caller meets it in ``f`` itself, where and as it would have.
"""

from __future__ import annotations

import ast
import inspect

import numpy as np

from convtool.numeric.certificate import Unsupported, lambdified_def

__all__ = ["stacked_function"]

_FUNCS = ("exp", "expm1", "log", "log1p", "sqrt")


def _names(e) -> set:
    return {n.id for n in ast.walk(e) if isinstance(n, ast.Name)}


def stacked_function(f, var: str | None = None):
    """``S(X, args_list)``: the rows ``f(X[r], *args_list[r])`` of a C-contiguous float64 array ``X`` (R, M), one
    instance a row (pad a shorter one with one of its own points), ``args_list[r]`` instance r's other inputs as
    Python floats; None where an exponent differs between instances or an instance's scalar part raises. Call it
    under ``np.errstate`` as ``f`` would be called (module docstring)."""
    src = f if isinstance(f, str) else inspect.getsource(f)
    fd, argnames = lambdified_def(src)
    var = argnames[0] if var is None else var
    others = [n for n in argnames if n != var]
    env = dict(f.__globals__) if not isinstance(f, str) else {"exp": np.exp, "expm1": np.expm1, "log": np.log,
                                                               "log1p": np.log1p, "sqrt": np.sqrt}
    dep = {var}
    scalar_lines: list[str] = []  # per instance, in f's order
    vector_lines: list[str] = []
    hoisted: list[str] = []  # the scalar names the vector part reads
    exps: list[str] = []  # scalar names used as exponents of variable-dependent powers
    counter = [0]

    def check(e):
        for n in ast.walk(e):
            if isinstance(n, ast.Call):
                if not (isinstance(n.func, ast.Name) and n.func.id in _FUNCS and len(n.args) == 1 and not n.keywords):
                    raise Unsupported("unsupported call")
            elif isinstance(n, ast.BinOp):
                if not isinstance(n.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)):
                    raise Unsupported("unsupported operator")
            elif isinstance(n, ast.UnaryOp):
                if not isinstance(n.op, (ast.USub, ast.UAdd)):
                    raise Unsupported("unsupported operator")
            elif isinstance(n, ast.Constant):
                if isinstance(n.value, bool) or not isinstance(n.value, (int, float)):
                    raise Unsupported(f"literal {n.value!r}")
            elif isinstance(n, ast.Name):
                if n.id not in argnames and n.id not in _FUNCS and n.id not in assigned:
                    raise Unsupported(f"unknown name {n.id!r}")
            elif not isinstance(n, (ast.expr_context, ast.operator, ast.unaryop, ast.expr)):
                raise Unsupported(f"no rule for {type(n).__name__}")

    def hoist(e):
        """``e`` (a variable-dependent expression) with its maximal scalar subexpressions replaced by names."""
        if isinstance(e, ast.Name):
            if e.id not in dep and e.id not in _FUNCS and e.id not in hoisted:
                hoisted.append(e.id)
            return e
        if isinstance(e, ast.Constant) or not _names(e):  # literals (``-4``) stay in place, as Python folds them
            return e
        if not (_names(e) & dep):
            counter[0] += 1
            name = f"_h{counter[0]}"
            scalar_lines.append(f"{name} = {ast.unparse(e)}")
            hoisted.append(name)
            return ast.Name(name, ast.Load())
        if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Pow) and not (_names(e.right) & dep):
            if not isinstance(e.right, ast.Constant):
                right = e.right = hoist(e.right)
                if isinstance(right, ast.Name):  # (a literal such as -2 stays in place, as Python folds it)
                    exps.append(right.id)
            e.left = hoist(e.left)
            return e
        if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Pow):
            raise Unsupported("a power whose exponent depends on the variable")
        for fname, val in ast.iter_fields(e):
            if isinstance(val, ast.expr) and not (isinstance(e, ast.Call) and fname == "func"):
                setattr(e, fname, hoist(val))
            elif isinstance(val, list):
                setattr(e, fname, [hoist(v) if isinstance(v, ast.expr) else v for v in val])
        return e

    assigned: set = set()
    ret = None
    for st in fd.body:
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
            check(st.value)
            target = st.targets[0].id
            if _names(st.value) & dep:
                vector_lines.append(f"{target} = {ast.unparse(hoist(st.value))}")
                dep.add(target)
            else:
                scalar_lines.append(f"{target} = {ast.unparse(st.value)}")
            assigned.add(target)
        elif isinstance(st, ast.Return) and st.value is not None and st is fd.body[-1]:
            check(st.value)
            if not (_names(st.value) & dep):
                raise Unsupported("the result does not depend on the variable")
            ret = ast.unparse(hoist(st.value))
        else:
            raise Unsupported(f"statement {type(st).__name__}")
    if ret is None:
        raise Unsupported("no return")
    args_ = ", ".join(others)
    hs = ", ".join(hoisted)
    scalar_src = (f"def _scalars({args_}):\n" + "".join(f"    {ln}\n" for ln in scalar_lines)
                  + f"    return ({hs}{',' if len(hoisted) == 1 else ''})\n")
    rep = [h for h in hoisted if h not in exps]
    vec_src = (f"def _vector({', '.join([var] + hoisted)}):\n"
               + "".join(f"    {h} = {h}[:, None]\n" for h in rep)
               + "".join(f"    {ln}\n" for ln in vector_lines) + f"    return {ret}\n")
    env = dict(env)
    exec(compile(scalar_src + vec_src, f"<convtool stacked {fd.name}>", "exec"), env)  # noqa: S102 - our own code
    scalars, vector = env["_scalars"], env["_vector"]
    exp_pos = [hoisted.index(e) for e in exps]

    def stacked(X, args_list):
        try:
            cols = [scalars(*args) for args in args_list]
        except Exception:  # noqa: BLE001 - the caller meets it in f itself
            return None
        cols = list(zip(*cols)) if hoisted else []
        vals = []
        for j, col in enumerate(cols):
            if j in exp_pos:
                v0 = col[0]
                if any(type(v) is not type(v0) or not (v == v0 or (v != v and v0 != v0)) for v in col):
                    return None
                vals.append(v0)
            else:
                vals.append(np.array(col, dtype=np.float64) if all(type(v) in (float, np.float64) for v in col)
                            else None)
                if vals[-1] is None:
                    return None
        return vector(X, *vals)

    stacked.source = scalar_src + vec_src
    stacked.others = tuple(others)
    return stacked
