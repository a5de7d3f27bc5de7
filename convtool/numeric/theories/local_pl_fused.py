"""The local-PL run loop of the two-layer model as one compiled call (numba), when it applies (issue 13).

At n = m = 20 a recorded step of :func:`convtool.numeric.engine.run_gd` makes ~150 numpy calls of 1-5 us each
(spectra certificate, step root, records, theory hooks) against 6 for a bare GD step; no rearrangement of
numpy calls removes that. This module runs whole chunks of steps (the model's products, the loss's excess and
gradient, :meth:`LocalPL.observe <convtool.numeric.theories.local_pl.LocalPL.observe>`'s records with the
certified spectra, the stopping rules, the schedule's step) in one compiled function, the template
:mod:`convtool.numeric.theories.local_pl_kernel`, and gives the engine the same records, statuses and final
state as its own loop (to round-off; tests/test_fused.py compares every record array).

One source of truth: the paper quantities the loop needs (``sigma_max_T_sq``, ``growth_cap``, the
coefficients of ``eta_hat``'s and ``eta_local``'s polynomials) are not written here or in the template: they
are the registry's lambdified sympy expressions (:func:`convtool.analysis.evaluate.compiled` and
:func:`~convtool.analysis.evaluate.polynomial`, the functions the numpy path calls), whose generated source is
appended to the template's text and compiled with it. The generated file is keyed by a SHA-256 of its whole
text, so a changed formula (or template) is a new file and a new compile.

When it applies (:func:`fused_loop`; otherwise the engine's numpy loop runs): numba importable and
``CONVTOOL_JIT`` not ``0``; the model a width-reduced :class:`~convtool.numeric.models.TwoLayerLinear`; the loss
a built-in ``SquaredLoss`` or ``FactorizationLoss`` (one, or stacked per seed); the schedule ``constant``,
``adaptive`` or ``local`` with the needs the template implements; the local-PL theory alone (no extra
theories, no stochastic gradient); and the run long enough for the compile to pay (``steps * R >=``
:data:`JIT_MIN_WORK`, or ``CONVTOOL_JIT=1``, which forces it wherever it applies). The progress callback is
called after every chunk of :data:`CHUNK` steps.

Compile cache: the generated module is written to ``$CONVTOOL_JIT_CACHE_DIR`` or else ``$CONVTOOL_CACHE_DIR/jit``
(the user cache dir of :mod:`convtool.analysis.formcache`, default ``~/.cache/convtool/jit``; a temporary folder
when that cache is off) and compiled with ``cache=True``: numba keeps the machine code next to it (``__pycache__``), or under
``NUMBA_CACHE_DIR`` when that is set. The first compile takes about 10-30 s; later processes load it.
numba is imported only here, and only when a run takes this path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import re
import sys

import numpy as np

__all__ = ["COMPILE_PHASE", "fused_loop", "jit_mode", "STATE_KEYS", "STEP_KEYS", "JIT_MIN_WORK", "CHUNK", "load_kernel"]

#: record rows of the template (its ``R_*`` / ``P_*`` constants), the LocalPL/engine keys
STATE_KEYS = ("loss", "grad_sq", "s1_min_sq", "s1_max_sq", "s2_min_sq", "s2_max_sq", "sW_min", "sW_max",
              "lambda_max_D", "lambda_max_negD", "drift", "grad_l_norm", "W_fro", "weight_fro_prod")
STEP_KEYS = ("eta", "drift_step")
#: the template's status codes
STATUS_NAMES = ("max_steps", "converged", "diverged", "non_finite", "zero_loss")
#: schedule name -> (template code, the ``needs`` the template evaluates for it, in this order)
SCHEDULE_CODES = {"constant": (0, ()), "adaptive": (1, ("sigma_max_T_sq", "growth_cap", "eta_hat")),
                  "local": (2, ("sigma_max_T_sq",))}
#: registry quantities the template calls: expressions (``need_<name>(env)``) and step polynomials
#: (``poly_<name>(env, C)``, coefficients highest degree first, returns the degree)
EXPRESSIONS = ("sigma_max_T_sq", "growth_cap")
POLYNOMIALS = ("eta_hat", "eta_local")
#: step-context slots the loop fills per step (besides the per-seed constants of the theory's env0)
DYNAMIC_SLOTS = ("L_t", "t", "s1_min_sq", "s1_max_sq", "s2_min_sq", "s2_max_sq", "sigma_max_W", "sigma_min_W",
                 "W_fro", "lambda_max_D", "lambda_max_negD", "grad_l_norm", "sigma_max_T_sq", "growth_cap", "eta_hat")
#: the phase name reported (``RunContext.phase``) while the kernel is compiled or loaded from its cache
COMPILE_PHASE = "compiled loop (numba; compiled on first use, then cached)"
#: ``steps * R`` (the step budget) from which the compiled loop is used by default: importing numba and loading
#: the cached kernel cost ~0.5-1 s, the numpy loop ~0.3 ms a step at n = m = 20, and most runs stop far before
#: their budget (``CONVTOOL_JIT=1`` forces it)
JIT_MIN_WORK = 10000
#: steps per compiled call (the progress callback runs after each)
CHUNK = 256
#: the template's module
TEMPLATE = "convtool.numeric.theories.local_pl_kernel"

_KERNELS: dict = {}
#: compiled runs started in this process (what the tests check the dispatch with)
RUNS = [0]


def jit_mode() -> str:
    """``"off"`` (``CONVTOOL_JIT=0`` or numba not importable), ``"force"`` (``CONVTOOL_JIT=1``) or ``"auto"``."""
    v = os.environ.get("CONVTOOL_JIT", "").strip().lower()
    if v in ("0", "off", "no", "false"):
        return "off"
    if importlib.util.find_spec("numba") is None:
        return "off"
    return "force" if v in ("1", "on", "yes", "true", "force") else "auto"


def _template_text() -> str:
    spec = importlib.util.find_spec(TEMPLATE)
    with open(spec.origin, encoding="utf-8") as fh:
        return fh.read()


def _function_source(f, new_name: str) -> tuple[str, set]:
    """The lambdified source of ``f`` renamed to ``new_name``, and the numpy names it uses (None if one is not
    numpy's: then the template cannot take it)."""
    src = inspect.getsource(f)
    src, k = re.subn(r"^def \w+\(", f"def {new_name}(", src, count=1, flags=re.M)
    if k != 1:
        raise ValueError("not a lambdified function")
    names = set()
    code = f.__code__
    todo = [code]
    while todo:
        c = todo.pop()
        names |= set(c.co_names)
        todo.extend(x for x in c.co_consts if hasattr(x, "co_names"))
    used = set()
    for nm in names:
        obj = f.__globals__.get(nm)
        if obj is None:
            continue
        if getattr(np, nm, None) is obj:
            used.add(nm)
        else:
            raise ValueError(f"lambdified source uses {nm!r}, not a numpy function")
    return src, used


def _generated(slots: tuple) -> str:
    """The registry part of the kernel module: slot indices, the lambdified formulas, their wrappers."""
    from convtool.analysis.evaluate import compiled, polynomial

    idx = {s: i for i, s in enumerate(slots)}
    lines = ["", "", "# ---- generated by convtool.numeric.theories.local_pl_fused from the registry ----"]
    lines += [f"S_{s} = {i}" for s, i in idx.items()]
    defs, numpy_names = [], set()

    def args_of(argnames):
        missing = [a for a in argnames if a not in idx]
        if missing:
            raise KeyError(f"the compiled loop has no slot for {missing}")
        return ", ".join(f"env[S_{a}]" for a in argnames)

    for name in EXPRESSIONS:
        f = compiled(name)
        src, used = _function_source(f, f"reg_{name}")
        numpy_names |= used
        defs.append(src)
        defs.append(f"def need_{name}(env):\n    return reg_{name}({args_of(f.argnames)})\n")
    for name in POLYNOMIALS:
        argnames, funcs = polynomial(name)
        body = []
        for j, f in enumerate(funcs):
            src, used = _function_source(f, f"reg_{name}_c{j}")
            numpy_names |= used
            defs.append(src)
            body.append(f"    C[{j}] = reg_{name}_c{j}({args_of(argnames)})")
        defs.append(f"def poly_{name}(env, C):\n" + "\n".join(body) + f"\n    return {len(funcs) - 1}\n")
    if numpy_names:
        lines.append(f"from numpy import {', '.join(sorted(numpy_names))}")
    lines += ["", ""] + defs
    lines += ["", "from numba import njit as _njit", "",
              "for _name in [k for k, v in list(globals().items()) if callable(v) and getattr(v, '__module__', None)"
              " == __name__ and not k.startswith('_')]:",
              "    globals()[_name] = _njit(cache=True, error_model='numpy', fastmath=({'reassoc', 'nsz', 'contract'} "
              "if _name in REASSOC else {'reassoc', 'nsz'} if _name in REASSOC_NO_FMA else False))(globals()[_name])",
              ""]
    return "\n".join(lines)


def _jit_dir() -> str:
    """``$CONVTOOL_JIT_CACHE_DIR`` if set, else ``jit`` under the stable-form cache (``$CONVTOOL_CACHE_DIR``,
    default ``~/.cache/convtool``), else (that cache off) a temporary folder of this process."""
    from convtool.analysis.formcache import cache_dir

    own = os.environ.get("CONVTOOL_JIT_CACHE_DIR")
    if own:
        return own
    d = cache_dir()
    if d is None:
        import tempfile

        d = _KERNELS.setdefault("_tmp", tempfile.mkdtemp(prefix="convtool-jit-"))
    return os.path.join(d, "jit")


def load_kernel(slots: tuple):
    """The compiled kernel module for the step-context ``slots`` (generated, written and imported once per
    process; numba compiles it at the first call, or loads its cached machine code)."""
    mod = _KERNELS.get(slots)
    if mod is not None:
        return mod
    import numba

    text = _template_text() + _generated(slots)
    sha = hashlib.sha256((text + numba.__version__ + np.__version__).encode()).hexdigest()[:20]
    d = _jit_dir()
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"local_pl_kernel_{sha}.py")
    if not (os.path.isfile(path) and open(path, encoding="utf-8").read() == text):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)  # the file's stamp keys numba's cache: written only when missing or different
    name = f"convtool_jit_local_pl_{sha}"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    _KERNELS[slots] = mod
    return mod


def _loss_arrays(bl, R: int):
    """``(kind, Wstar, Xr, G)`` (R, ...) C-contiguous for the template, or None for a loss it does not take."""
    from convtool.numeric.losses import FactorizationLoss, SquaredLoss

    cls = type(bl)
    if cls is SquaredLoss:
        kind = 0
    elif cls is FactorizationLoss:
        kind = 1
    else:
        return None
    n, m = bl.n, bl.m

    def per_seed(x, shape):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == len(shape):
            x = np.broadcast_to(x, (R,) + x.shape)
        return np.ascontiguousarray(x)

    Wstar = per_seed(bl.Wstar, (n, m))
    if kind == 0:
        Xr, G = per_seed(bl.Xr, (1, n)), per_seed(bl.G, (n, n))
    else:
        Xr = G = np.zeros((R, 1, 1))
    if Wstar.shape != (R, n, m):
        return None
    return kind, Wstar, Xr, G


def fused_loop(theory, ctx, env0: dict, steps: int):
    """A callable running the whole loop compiled, or None where the template does not apply (module doc).

    The callable ``loop(state, tol, divergence, progress) -> (rec, status, nsteps, clipped, state)`` returns
    what the engine's own loop leaves: records (R, capacity) by key, statuses, steps taken, the number of clipped
    excess losses and the final state (A, B)."""
    from convtool.numeric.models import TRACK_MIN_SIZE, TwoLayerLinear
    from convtool.numeric.schedules import SCHEDULES

    mode = jit_mode()
    model, sched, R = ctx.model, ctx.schedule, ctx.R
    if mode == "off" or type(model) is not TwoLayerLinear or not model.reduced:
        return None
    if mode == "auto" and steps * R < JIT_MIN_WORK:
        return None
    code = SCHEDULE_CODES.get(sched.name)
    if code is None or type(sched) is not SCHEDULES.get(sched.name) or tuple(sched.needs) != code[1]:
        return None
    la = _loss_arrays(ctx.loss, R)
    if la is None or "L0" not in env0 or "K" not in env0:
        return None
    slots = tuple(sorted(env0)) + tuple(s for s in DYNAMIC_SLOTS if s not in env0)
    try:
        kern = load_kernel(slots)
    except (KeyError, ValueError, OSError, ImportError):
        return None
    kind, Wstar, Xr, G = la
    n, m, k = model.n, model.m, model.k
    facs = [(n, k) if n <= k else (k, n), (m, k) if m <= k else (k, m), (n, m) if n <= m else (m, n)]
    qpad, cpad = max(f[0] for f in facs), max(f[1] for f in facs)
    track_g = max(min(n, k), min(m, k), min(n, m)) >= TRACK_MIN_SIZE
    track_d = k >= TRACK_MIN_SIZE
    env = np.full((R, len(slots)), np.nan)
    for i, s in enumerate(slots):
        if s in env0:
            env[:, i] = np.broadcast_to(np.asarray(env0[s], dtype=float), (R,))
    L0 = np.ascontiguousarray(np.broadcast_to(np.asarray(env0["L0"], dtype=float), (R,)))
    K = np.ascontiguousarray(np.broadcast_to(np.asarray(env0["K"], dtype=float), (R,)))

    from numba.extending import get_cython_function_address

    blas = (get_cython_function_address("scipy.linalg.cython_blas", "dsyrk"),
            get_cython_function_address("scipy.linalg.cython_blas", "dsymv"),
            get_cython_function_address("scipy.linalg.cython_lapack", "dgesdd"))

    def work(T):
        """The loop's state besides the weights: run flags and counters, records, the trackers' references."""
        from convtool.numeric.engine import RECORD_CHUNK

        cap = min(T + 1, RECORD_CHUNK)
        return dict(active=np.ones(R, dtype=np.bool_), status=np.zeros(R, dtype=np.int64),
                    nsteps=np.full(R, T, dtype=np.int64), counters=np.zeros(3, dtype=np.int64),
                    recS=np.full((len(STATE_KEYS), R, cap), np.nan), recP=np.full((len(STEP_KEYS), R, cap), np.nan),
                    D0=np.zeros((R, k, k)), Dbuf=np.zeros((2, R, k, k)),  # D(t) and D(t - 1), alternating
                    gAs=np.zeros((R, n, k)), gBs=np.zeros((R, m, k)), gacc=np.zeros((3, R)), wref=np.zeros(R),
                    gV=np.zeros((3, R, qpad, 2)), gref=np.full((3, R, 4), np.nan), dacc=np.zeros(R),
                    dV=np.zeros((R, k, 2)), dref=np.full((R, 4), np.nan), trk=np.zeros(6, dtype=np.int64),
                    nrm=np.full((R, 2), np.nan), hint=np.full(R, np.nan))

    def chunk(t, t1, T, A, B, tol, divergence, w):
        return kern.run_chunk(t, t1, T, A, B, Wstar, Xr, G, kind, code[0], env, float(tol), float(divergence), L0, K,
                              w["active"], w["status"], w["nsteps"], w["counters"], w["recS"], w["recP"], w["D0"],
                              w["Dbuf"], w["gAs"], w["gBs"], w["gacc"], w["wref"], w["gV"], w["gref"], w["dacc"],
                              w["dV"], w["dref"], w["trk"], w["nrm"], track_g, track_d, qpad, cpad, w["hint"], *blas)

    if ctx.phase is not None:  # the first compile takes 10-30 s: the CLI shows it as a phase of the run
        ctx.phase(COMPILE_PHASE, 0, 1)
    try:  # compiled (or loaded from the cache) now, on an empty range of steps: a failure leaves the numpy loop
        chunk(0, 0, 0, np.zeros((R, n, k)), np.zeros((R, m, k)), 0.5, 2.0, work(0))
        if ctx.phase is not None:
            ctx.phase(COMPILE_PHASE, 1, 1)
    except Exception as exc:  # noqa: BLE001 - numba's errors have no common public base; any means: do not use it
        import warnings

        from convtool.errors import ConvtoolWarning

        warnings.warn(f"the compiled run loop is not available ({type(exc).__name__}: {str(exc)[:200]}); "
                      "running the numpy loop", ConvtoolWarning, stacklevel=2)
        return None

    def loop(state, tol, divergence, progress):
        RUNS[0] += 1
        A, B = (np.ascontiguousarray(x, dtype=np.float64).copy() for x in state)
        T = int(steps)
        w = work(T)
        t = 0
        last = 0
        while True:
            t1 = min(t + CHUNK, T + 1)
            cap = w["recS"].shape[2]
            if t1 > cap:  # the engine's doubling growth (memory follows the steps taken)
                new = min(T + 1, max(t1, 2 * cap))
                for key in ("recS", "recP"):
                    w[key] = np.concatenate([w[key], np.full(w[key].shape[:2] + (new - cap,), np.nan)], axis=2)
            t_end, done = chunk(t, t1, T, A, B, tol, divergence, w)
            if progress is not None and int(t_end) != last:
                progress(int(t_end), T)
                last = int(t_end)
            if done:
                break
            t = int(t_end)
        rec = {key: w["recS"][i] for i, key in enumerate(STATE_KEYS)}
        rec.update({key: w["recP"][i] for i, key in enumerate(STEP_KEYS)})
        st = np.array([STATUS_NAMES[s] for s in w["status"]], dtype=object)
        counters = w["counters"]
        theory._fused_stats = {"warm": int(counters[1]), "dense": int(counters[2])}
        return rec, st, w["nsteps"], int(counters[0]), (A, B)

    return loop
