"""Benchmark for issue 13: a recorded GD step at the cost floor.

Run by hand from the repository root::

    python bench/bench_step_floor.py            # about 2-4 minutes on 2 cores
    python bench/bench_step_floor.py --quick    # fewer repetitions and steps
    python bench/bench_step_floor.py --no-write # print only, leave bench/README.md alone
    python bench/bench_step_floor.py --parts c  # part (c) only; its lines replace those in bench/README.md

Four parts; every ratio is measured in this one run (interleaved rounds, BLAS threads 1 unless
``--threads``), and the script writes its output into bench/README.md between the markers
``<!-- bench_step_floor:begin -->`` / ``<!-- bench_step_floor:end -->``:

(a) recorded vs bare, Fig. 1 instances (orthogonal X, N = n) at n = m = 20 and n = m = 100, h = 4000.
    ``run_gd`` with the ``adaptive`` and the ``local`` schedule (all local-PL records) against a bare numpy
    GD step on the same width-reduced problem (r = n + m columns)::

        W = A @ B.T;  G = XtX @ (W - W*);  gA = G @ B;  gB = G.T @ A;  A -= eta gA;  B -= eta gB

    Each recorded run twice: the engine's numpy loop (``CONVTOOL_JIT=0``) and the compiled loop
    (``CONVTOOL_JIT=1``, convtool/numeric/theories/local_pl_fused.py). Per-step cost = the 10th percentile,
    pooled over rounds, of the time of windows of 256 steps (the compiled loop's progress interval) divided by
    256, the same windows for all three (bench/README.md, section of this script). Targets: recorded / bare
    <= 3x at n = m = 20, <= 2x at n = m = 100.
(b) flat in N: n = 50, m = 10, h = 1000, N in {1e2, 1e3, 1e4, 1e5}, ``adaptive``; one problem at every N
    (``X = Q_N R`` with orthonormal Q_N, the same R and ``X^T Y``, l* > 0), so only N changes.
    Target: largest / smallest per-step cost <= 1.3x. Printed next to it: the per-step cost of the
    residual form ``X (W - W*)`` that the loss used before (what the R factor replaced).
(c) batching: 100 seeds of ``default_batch(100, h=500)``, one ``run_gd`` call against a loop of 100 calls,
    200 ``adaptive`` steps, nine rounds in turn (one with ``--quick``), each side's fastest whole call (the
    machine's speed drifts by 20-30% within minutes: nine rounds let each side's fastest land in a quiet spell
    more often than five did, where single runs gave 7.9-12.1x in one hour). Target:
    loop / batched >= 10x (whole calls, setup included). Printed with it: each round's own ratio (the spread the
    shared machine gives), the per-seed constants' share of each, and how the batched call decided the root-side
    signs of issue 14.
(d) BLAS threads: the per-step cost of (a) at both sizes and the width-reduction QR at h = 16000
    (n = m = 20), each in a child process with ``OPENBLAS_NUM_THREADS=1`` and with the library default.
"""

from __future__ import annotations

import os
import sys

from _threads import pin_blas_threads  # bench/ is on sys.path when a script is run
from _readme import replace_block
from _results import report
from _bare import bare_gd  # noqa: E402

if "--child" not in sys.argv:
    BLAS_THREADS = pin_blas_threads()
else:
    BLAS_THREADS = os.environ.get("OPENBLAS_NUM_THREADS", "default")

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from contextlib import redirect_stdout  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from convtool.numeric.engine import run_gd  # noqa: E402
from convtool.numeric.experiments import default_batch, run_batch  # noqa: E402
from convtool.numeric.generators import fig1  # noqa: E402
from convtool.numeric.losses import SquaredLoss  # noqa: E402
from convtool.numeric.models import TwoLayerLinear  # noqa: E402
from convtool.numeric.roots import SIGN_COUNTS  # noqa: E402
from convtool.numeric.spectra import reduce_width  # noqa: E402
from convtool.numeric.theories import local_pl_fused  # noqa: E402
from convtool.numeric.theories.base import SETUP_PHASE  # noqa: E402
from convtool.numeric.theories.local_pl_fused import CHUNK  # noqa: E402

STEP_PERCENTILE = 10
TARGETS = {20: 3.0, 100: 2.0}
TARGET_N = 1.3
TARGET_BATCH = 10.0
BEGIN, END = "<!-- bench_step_floor:begin -->", "<!-- bench_step_floor:end -->"


def p10(x) -> float:
    return float(np.percentile(np.asarray(x), STEP_PERCENTILE))


def recorded(loss, W1, W2, T, schedule, stamps=None, jit="0"):
    """One ``run_gd`` call, the numpy loop (``jit="0"``) or the compiled one (``"1"``); ``stamps`` gets a time
    stamp at every progress call (every step on the numpy loop, every chunk of steps on the compiled one)."""
    cb = None if stamps is None else (lambda t, T_: stamps.append((t, time.perf_counter())))
    old = os.environ.get("CONVTOOL_JIT")
    os.environ["CONVTOOL_JIT"] = jit
    try:
        res = run_gd(loss, W1, W2, schedule=schedule, steps=T, tol=1e-300, progress=cb)
    finally:
        if old is None:
            os.environ.pop("CONVTOOL_JIT", None)
        else:
            os.environ["CONVTOOL_JIT"] = old
    assert int(res.steps[0]) == T, (res.steps, res.status)
    if jit == "1":
        assert local_pl_fused.RUNS[0] > 0, "the compiled loop did not run"
    return res


def interleaved(fns: dict, reps: int) -> dict:
    """Per-step cost of each configuration (stamps as ``(t, time)``): the 10th percentile, pooled over rounds,
    of the intervals between consecutive stamps divided by their steps (per-step stamps: single steps)."""
    steps = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            st: list = []
            fn(st)
            t = np.array([a for a, _ in st], dtype=float)
            w = np.array([b for _, b in st])
            steps[k].extend(np.diff(w) / np.diff(t))
    return {k: p10(v) for k, v in steps.items()}


def _chunked(stamps: list) -> list:
    """Keep the stamps at multiples of the compiled loop's chunk (and the last): every configuration of part (a)
    is then timed over the same windows of CHUNK steps, the compiled loop's own progress interval."""
    last = stamps[-1][0]
    return [(t, w) for t, w in stamps if t % CHUNK == 0 or t == last]


def _instance(n, h=4000):
    d = fig1(n=n, h=h, seed=0)
    loss = SquaredLoss(d["X"], d["Y"])
    mdl = TwoLayerLinear(d["W1"], d["W2"])
    A, B = (x[0] for x in mdl.init_state())
    return d, loss, A, B


def _bare_stamped(loss, A, B, eta, T, st):
    raw: list = []
    bare_gd(loss.G, loss.Wstar, A, B, eta, T, raw)
    st.extend((i + 1, w) for i, w in enumerate(raw))


def step_costs(n, reps, T, windows=False) -> dict:
    """Per-step costs at n = m = n: bare, recorded numpy loop (``adaptive``, ``local``) and compiled loop
    (``adaptive_jit``, ``local_jit``). ``windows``: every configuration timed over chunks of CHUNK steps (part a),
    else the numpy loops over single steps (the per-step 10th percentile, as before issue 13's kernel)."""
    d, loss, A, B = _instance(n)
    eta = 1e-5
    for s in ("adaptive", "local"):
        recorded(loss, d["W1"], d["W2"], 3, s)  # warm-up
        recorded(loss, d["W1"], d["W2"], 3, s, jit="1")  # warm-up (compiles once, then the numba cache)
    pick = _chunked if windows else (lambda st: st)

    def rec(s, jit):
        def fn(st):
            raw: list = []
            recorded(loss, d["W1"], d["W2"], T, s, raw, jit)
            st.extend(pick(raw) if jit == "0" else raw)
        return fn

    def bare(st):
        raw: list = []
        _bare_stamped(loss, A, B, eta, T, raw)
        st.extend(pick(raw))

    fns = {"bare": bare, "adaptive": rec("adaptive", "0"), "local": rec("local", "0"),
           "adaptive_jit": rec("adaptive", "1"), "local_jit": rec("local", "1")}
    return interleaved(fns, reps)


def part_a(reps, T) -> tuple[list, bool]:
    lines, ok = [], True
    lines.append(f"(a) recorded run_gd step vs a bare numpy GD step on the reduced problem (r = n + m), Fig. 1, "
                 f"h = 4000, {T} steps x {reps} rounds; per-step cost over windows of {CHUNK} steps (10th "
                 f"percentile), numpy loop (CONVTOOL_JIT=0) and compiled loop (CONVTOOL_JIT=1)")
    lines.append(f"    {'n = m':>6} {'bare':>8} {'schedule':>9} {'numpy [us]':>11} {'compiled [us]':>14} "
                 f"{'numpy/bare':>11} {'compiled/bare':>14} {'target':>7}  met")
    for n in (20, 100):
        c = step_costs(n, reps, T, windows=True)
        for s in ("adaptive", "local"):
            rn, rj = c[s] / c["bare"], c[s + "_jit"] / c["bare"]
            met = rj <= TARGETS[n]
            report("bench_step_floor", f"recorded {s} step (numpy loop) / bare reduced step, n = m = {n}", rn,
                   target=TARGETS[n])
            report("bench_step_floor", f"recorded {s} step (compiled loop) / bare reduced step, n = m = {n}", rj,
                   target=TARGETS[n])
            ok &= met
            lines.append(f"    {n:>6} {1e6 * c['bare']:>8.1f} {s:>9} {1e6 * c[s]:>11.1f} {1e6 * c[s + '_jit']:>14.1f} "
                         f"{rn:>10.2f}x {rj:>13.2f}x {TARGETS[n]:>6.1f}x  {'yes' if met else 'NO'}")
    return lines, ok


def part_b(reps, T) -> tuple[list, bool]:
    n, m, h = 50, 10, 1000
    rng = np.random.default_rng(0)
    W1, W2 = rng.normal(size=(n, h)) / h ** 0.25, rng.normal(size=(m, h)) / h ** 0.25
    Ns = (100, 1000, 10000, 100000)
    # one problem at every N: X = Q_N Rx with Q_N (N x n) orthonormal and Rx fixed, Y = Q_N C + a residual
    # orthogonal to range(X) (l* > 0): X^T X, X^T Y, W* and the run are the same; only N changes
    Rx = np.triu(rng.normal(size=(n, n))) + 3 * np.eye(n)
    C = Rx @ rng.normal(size=(n, m))
    fns, old = {}, {}
    for N in Ns:
        Q = np.linalg.qr(rng.normal(size=(N, n)))[0]
        noise = rng.normal(size=(N, m))
        noise -= Q @ (Q.T @ noise)
        X, Y = Q @ Rx, Q @ C + 0.1 * noise
        loss = SquaredLoss(X, Y)
        recorded(loss, W1, W2, 3, "adaptive")
        fns[N] = (lambda st, loss=loss: recorded(loss, W1, W2, T, "adaptive", st))
        E = (W1 @ W2.T) - loss.Wstar
        ts = []
        for _ in range(50):  # the residual form the loss evaluated every step before issue 13
            t0 = time.perf_counter()
            XE = loss.X @ E
            0.5 * np.sum(XE * XE)
            ts.append(time.perf_counter() - t0)
        old[N] = p10(ts)
    c = interleaved(fns, reps)
    ratio = max(c.values()) / min(c.values())
    met = ratio <= TARGET_N
    report("bench_step_floor", "per-step cost, largest / smallest over N = 1e2..1e5", ratio, target=TARGET_N)
    lines = [f"(b) per-step cost vs the number of samples N, n = {n}, m = {m}, h = {h}, adaptive, "
             f"{T} steps x {reps} rounds",
             f"    {'N':>7} {'step [us]':>10} {'/ N=100':>8} {'old residual form X(W - W*) alone [us]':>40}"]
    for N in Ns:
        lines.append(f"    {N:>7} {1e6 * c[N]:>10.1f} {c[N] / c[Ns[0]]:>8.2f} {1e6 * old[N]:>40.1f}")
    lines.append(f"    largest/smallest per-step cost {ratio:.2f}x (target <= {TARGET_N}x): "
                 f"{'met' if met else 'NOT met'}")
    return lines, met


def _batch_against_loop(batch, T, jit, rounds=3):
    """A batched ``run_batch`` call against a loop of R ``run_gd`` calls, with ``CONVTOOL_JIT`` = ``jit``
    (None: the default dispatch, each call choosing its loop by its own step budget), ``rounds`` times in
    turn; each side's time is its fastest round (whole-call times keep the minimum, as the other scripts),
    its set-up time that round's."""
    old = os.environ.get("CONVTOOL_JIT")
    if jit is None:
        os.environ.pop("CONVTOOL_JIT", None)
    else:
        os.environ["CONVTOOL_JIT"] = jit
    R = batch.W1.shape[0]
    marks: list = []

    def phase(name, i, total):  # the end of the per-seed constants (SETUP_PHASE) of each call
        if name == SETUP_PHASE and i == total:
            marks.append(time.perf_counter())

    try:
        run_batch(batch, "adaptive", steps=T)  # warm-up (the compiled loop's cache load included)
        best_b = best_l = (np.inf, 0.0)
        pairs = []
        for _ in range(rounds):
            signs0 = dict(SIGN_COUNTS)
            marks.clear()
            t0 = time.perf_counter()
            res_b = run_batch(batch, "adaptive", steps=T, phase=phase)
            tb = time.perf_counter() - t0
            best_b = min(best_b, (tb, marks[-1] - t0))
            signs = {k: (SIGN_COUNTS[k] - signs0[k]) / R for k in SIGN_COUNTS}
            marks.clear()
            setup_l = 0.0
            t0 = time.perf_counter()
            res_l = []
            for r in range(R):
                t1 = time.perf_counter()
                res_l.append(run_gd(batch.losses[r], batch.W1[r], batch.W2[r], schedule="adaptive", steps=T,
                                    phase=phase))
                setup_l += marks[-1] - t1
            tl = time.perf_counter() - t0
            best_l = min(best_l, (tl, setup_l))
            pairs.append(tl / tb)
        (tb, setup_b), (tl, setup_l) = best_b, best_l
    finally:
        if old is None:
            os.environ.pop("CONVTOOL_JIT", None)
        else:
            os.environ["CONVTOOL_JIT"] = old
    Lb = res_b.arrays["loss"]
    dev = 0.0
    for r, res in enumerate(res_l):
        a, b = Lb[r, : res.arrays["loss"].shape[1]], res.arrays["loss"][0]
        sel = np.isfinite(a) & (b > 1e-8 * b[0])
        dev = max(dev, float(np.max(np.abs(a[sel] - b[sel]) / b[sel])))
    return tb, tl, setup_b, setup_l, signs, dev, pairs


def part_c(T, rounds=9) -> tuple[list, bool]:
    """Headline: both sides as a user gets them (the default dispatch: the batched call's step budget R T
    takes the compiled loop where numba is installed, each single run of T steps the numpy loop); then
    batching itself, both on the numpy loop (``CONVTOOL_JIT=0``)."""
    R = 100
    batch = default_batch(seeds=R, seed=0, h=500)
    lines = []
    met = False
    for label, jit in (("default dispatch", None), ("numpy loop in both (CONVTOOL_JIT=0)", "0")):
        tb, tl, setup_b, setup_l, signs, dev, pairs = _batch_against_loop(batch, T, jit, rounds)
        if jit is None:
            met = tl / tb >= TARGET_BATCH
            report("bench_step_floor", f"loop of {R} runs / one batched run", tl / tb, target=TARGET_BATCH,
                   op=">=")
            lines.append(f"(c) {R} seeds (default_batch, h = 500), adaptive, {T} steps, one batched call against a "
                         f"loop of {R} calls, {rounds} rounds in turn, each side's fastest")
        lines += [f"  {label}: batched {tb:.2f} s, loop {tl:.2f} s, ratio loop/batched {tl / tb:.1f}x"
                  + (f" (target >= {TARGET_BATCH:.0f}x): {'met' if met else 'NOT met'}" if jit is None else "")
                  + f"; loss curves agree to {dev:.1e} relative where L > 1e-8 L(0)",
                  f"    per-seed constants (compute_constants, one per seed in both): batched {setup_b:.2f} s "
                  f"({100 * setup_b / tb:.0f}% of the call), loop {setup_l:.2f} s ({100 * setup_l / tl:.0f}%); the "
                  f"rest: batched {tb - setup_b:.2f} s, loop {tl - setup_l:.2f} s, ratio "
                  f"{(tl - setup_l) / (tb - setup_b):.1f}x"]
        lines.append(f"    each round's own ratio (its loop / its batched call, measured one after the other): "
                     + ", ".join(f"{x:.1f}x" for x in pairs) + f" (median {np.median(pairs):.1f}x)")
        if jit is None:
            lines.append(f"    root-side signs per seed in the batched call: {signs['vector']:.2f} by the long double "
                         f"pass over the batch, {signs['float']:.2f} by the float certificate, {signs['mpmath']:.2f} "
                         f"by 50-digit mpmath")
    return lines, met


def child(kind: str, reps: int, T: int) -> dict:
    """One measurement in this process (its BLAS threads set by the parent)."""
    if kind == "qr":
        rng = np.random.default_rng(0)
        W1, W2 = rng.normal(size=(20, 16000)), rng.normal(size=(20, 16000))
        reduce_width(W1, W2)
        ts = []
        for _ in range(max(3, reps)):
            t0 = time.perf_counter()
            reduce_width(W1, W2)
            ts.append(time.perf_counter() - t0)
        return {"qr": float(np.median(ts))}
    n = int(kind)
    return step_costs(n, reps, T, windows=True)


_CHILD: dict = {}


def part_d(reps, T) -> list:
    lines = ["(d) BLAS threads: OPENBLAS_NUM_THREADS=1 vs the library default (unset), each in its own process",
             f"    {'measurement':<40} {'1 thread':>10} {'default':>10} {'default/1':>10}  better"]
    for kind, label, key in (("20", "recorded adaptive step, n = m = 20 [us]", "adaptive"),
                             ("20", "  the same, compiled loop [us]", "adaptive_jit"),
                             ("100", "recorded adaptive step, n = m = 100 [us]", "adaptive"),
                             ("100", "  the same, compiled loop [us]", "adaptive_jit"),
                             ("qr", "width-reduction QR, h = 16000 [ms]", "qr")):
        vals = _CHILD.get(kind) or {}
        for setting in ("1", "default"):
            if setting in vals:
                continue
            env = dict(os.environ)
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                env.pop(var, None)
                if setting == "1":
                    env[var] = "1"
            cmd = [sys.executable, os.path.abspath(__file__), "--child", kind, "--reps", str(reps), "--steps", str(T)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            vals[setting] = json.loads(out.strip().splitlines()[-1])
        _CHILD[kind] = vals
        scale = 1e3 if kind == "qr" else 1e6
        a, b = vals["1"][key] * scale, vals["default"][key] * scale
        lines.append(f"    {label:<40} {a:>10.1f} {b:>10.1f} {b / a:>9.2f}x  {'1 thread' if a <= b else 'default'}")
    return lines


def _merge_parts(old: str, new: str, parts: str) -> str:
    """The block's text with the lines of ``parts`` (letters) taken from ``new`` and the others kept from ``old``,
    and one line saying which parts were rerun when."""
    def split(text):
        head, out, key = [], {}, None
        for line in text.splitlines():
            if len(line) > 2 and line[0] == "(" and line[2] == ")" and line[1] in "abcd":
                key = line[1]
            elif line.startswith("(total") or line.startswith("(part"):
                key = None
                continue
            (out.setdefault(key, []) if key else head).append(line)
        return head, out
    head, old_parts = split(old)
    _, new_parts = split(new)
    merged = dict(old_parts)
    merged.update({k: new_parts[k] for k in parts if k in new_parts})
    lines = head + [ln for k in "abcd" if k in merged for ln in merged[k]]
    lines.append(f"(parts {parts} rerun with --parts {parts}, {time.strftime('%Y-%m-%d', time.gmtime())}; the others "
                 "from the last full run)")
    return "\n".join(lines) + "\n"


def write_readme(text: str, parts: str = "abcd") -> None:
    path = os.path.join(HERE, "README.md")
    with open(path) as fh:
        doc = fh.read()
    if parts != "abcd" and BEGIN in doc and END in doc:
        old = doc[doc.index(BEGIN) + len(BEGIN): doc.index(END)].strip("\n").removeprefix("```").removesuffix("```")
        old = old.strip("\n").split("\n", 1)[1] + "\n"  # drop the "$ python ..." line
        text = _merge_parts(old, text, parts)
    replace_block(path, BEGIN, END, f"{BEGIN}\n```\n$ python bench/bench_step_floor.py\n{text}```\n{END}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads of parts (a)-(c) (default 1)")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and steps")
    ap.add_argument("--no-write", action="store_true", help="do not write the numbers into bench/README.md")
    ap.add_argument("--parts", default="abcd", help="which parts to run (default abcd)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--reps", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    reps = args.reps or (2 if args.quick else 4)
    T = args.steps or (150 if args.quick else 300)
    T_a = args.steps or (2 if args.quick else 4) * CHUNK  # part (a), (d): whole windows of CHUNK steps
    if args.child:
        print(json.dumps(child(args.child, reps, T)))
        return 0
    buf = io.StringIO()
    t0 = time.perf_counter()

    def say(line=""):
        print(line)
        buf.write(line + "\n")

    say("bench_step_floor: the recorded GD step against its floor (issue 13)")
    say(f"numpy {np.__version__}, python {sys.version.split()[0]}, {os.cpu_count()} cpu(s), BLAS threads {BLAS_THREADS}"
        f", {time.strftime('%Y-%m-%d', time.gmtime())}")
    if "a" in args.parts:
        with redirect_stdout(io.StringIO()):
            la, _ = part_a(2 * reps, T_a)  # twice the rounds: the windows' 10th percentile steadier on a shared machine
        for x in la:
            say(x)
    if "b" in args.parts:
        for x in part_b(reps, T)[0]:
            say(x)
    if "c" in args.parts:
        for x in part_c(100 if args.quick else 200, 1 if args.quick else 9)[0]:
            say(x)
    if "d" in args.parts:
        for x in part_d(2, T_a):
            say(x)
    say(f"(total {time.perf_counter() - t0:.0f} s)")
    if not args.no_write:
        write_readme(buf.getvalue(), "".join(k for k in "abcd" if k in args.parts))
    return 0  # a missed target is reported, not an error


if __name__ == "__main__":
    sys.exit(main())
