"""Template of the compiled (numba) local-PL run loop on the width-reduced two-layer model (issue 13).

This file is not imported as it is: :mod:`convtool.numeric.theories.local_pl_fused` reads its text, appends
the registry's formulas it needs (``reg_*`` / ``need_*`` / ``poly_*`` functions and the ``S_*`` slot indices,
generated from the lambdified sympy expressions of :mod:`convtool.analysis.local_pl`: the single source of
truth; nothing of the paper is written here), compiles every function with ``numba.njit(cache=True,
error_model="numpy")`` and calls :func:`run_chunk`. Plain Python that numba can compile, mirroring step for
step what :func:`convtool.numeric.engine.run` does with :class:`~convtool.numeric.theories.local_pl.LocalPL`
(its :meth:`observe`, :meth:`schedule_env`, :meth:`after_step`), the model
:class:`~convtool.numeric.models.TwoLayerLinear` (reduced state A (R, n, k), B (R, m, k)), the loss's
``excess_grad`` (``SquaredLoss``: ``1/2 ||Xr E||^2`` and ``G E``; ``FactorizationLoss``: ``1/2 ||E||^2``, ``E``)
and the schedules ``constant`` / ``adaptive`` / ``local``. The spectra are
:func:`convtool.numeric.models.spectra_batch`'s: certified from the previous eigenvectors as
:class:`convtool.numeric.spectra.ExtremeEigs` does (Weyl against the last dense decomposition, then
Kato-Temple, accepted at ``CERT_ULPS q eps`` of the scale; the Weyl shift here is a bound accumulated from the
steps instead of a distance to a stored copy, :func:`run_chunk`), else dense, with the same back-off: where it
sets a reference, :func:`extreme_pairs` (no LAPACK up to ``PAIR_EIG_MAX``) or ``eigh``; where nothing is
tracked, :func:`extreme_eigvalsh` (up to ``SMALL_EIG_MAX``) or ``eigvalsh``; the SVD redo for a Gram's small
value, :func:`sv_extremes` (LAPACK ``dgesdd`` without vectors). The dense values differ from the numpy loop's
LAPACK ones at round-off (tests/test_fused.py compares the records). Step roots:
:func:`convtool.numeric.roots.convex_poly_root` (Newton from
the right on the proven bracket ``[0, min_j (|a0|/a_j)^(1/j)]``, the warm start used only where ``p >= 0``).
"""
# ruff: noqa
import numpy as np

try:  # numba is optional: the generated module is only built where it imports (local_pl_fused.jit_mode)
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover - the text is then never compiled
    def intrinsic(f):
        return f

EPS = 2.220446049250313e-16
CERT_ULPS = 4.0
GRAM_SV_RTOL = 1e-4
MAX_SKIP = 16
#: the largest matrix whose untracked extreme eigenvalues :func:`extreme_eigvalsh` computes (else ``eigvalsh``)
SMALL_EIG_MAX = 32
#: the largest matrix whose warm-start reference :func:`extreme_pairs` computes (else ``eigh``)
PAIR_EIG_MAX = 48
#: the pivot floor of the Sturm counts and Laguerre's recurrence (a smaller pivot is taken as this, signed)
PIVMIN = 1e-290
#: record rows of ``recS`` (state t) and ``recP`` (step t), in the order of local_pl_fused.STATE_KEYS / STEP_KEYS
R_LOSS, R_GSQ, R_S1MIN, R_S1MAX, R_S2MIN, R_S2MAX, R_SWMIN, R_SWMAX, R_LD, R_LND, R_DRIFT, R_GLN, R_WF, R_WFP = \
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
P_ETA, P_DSTEP = 0, 1
#: plain sums whose order may be rearranged (vectorized): compiled with ``fastmath={"reassoc", "nsz", "contract"}``
#: (their results move at round-off, as numpy's pairwise sums differ from a sequential loop); never NaN-blind
REASSOC = ("frob2", "sym_diffs", "sym_frob", "cert_factored", "cert_sym")
#: the update ``X - eta G`` must round as numpy's (a product, then a difference: no fused multiply-add), while
#: its norms are sums: reassociation without contraction
REASSOC_NO_FMA = ("axpy_step",)
#: status codes (local_pl_fused.STATUS_NAMES)
ST_MAX, ST_CONV, ST_DIV, ST_NONFIN, ST_ZERO = 0, 1, 2, 3, 4


def _pointer_call(n):
    """The codegen of an intrinsic that calls the routine at address ``args[0]`` with the ``n`` addresses
    ``args[1:]`` (integers from :func:`_at`; Fortran convention: every argument by reference). Plain Python (its
    name starts with ``_``, so it is not compiled): the intrinsics below share it."""
    def codegen(context, builder, signature, args):
        i8p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i8p] * n)
        fptr = builder.inttoptr(args[0], fnty.as_pointer())
        builder.call(fptr, [builder.inttoptr(args[i], i8p) for i in range(1, n + 1)])
        return context.get_dummy_value()

    return codegen


@intrinsic
def _at(typingctx, arr, i):
    """The address of the flat element ``i`` of the C-ordered array ``arr`` as an integer: what ``arr[i:i + 1]``
    would hand a BLAS routine, without a view (each view an atomic reference-count increment and decrement)."""
    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        intp = context.get_value_type(types.intp)
        size = ir.Constant(intp, context.get_abi_sizeof(context.get_data_type(signature.args[0].dtype)))
        base = builder.ptrtoint(ary.data, intp)
        return builder.add(base, builder.mul(args[1], size))

    return types.intp(arr, types.intp), codegen


@intrinsic
def _blas10(typingctx, addr, p0, p1, p2, p3, p4, p5, p6, p7, p8, p9):
    """Call the BLAS routine at address ``addr`` (scipy's ``cython_blas``, passed at run time so that the
    compiled code can be cached) with the ten argument addresses ``p0 .. p9`` (:func:`_at`; a scalar argument is
    an element of a work array)."""
    return types.void(addr, *([types.intp] * 10)), _pointer_call(10)


@intrinsic
def _lapack14(typingctx, addr, p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13):
    """:func:`_blas10` for a LAPACK routine of fourteen arguments (scipy's ``cython_lapack``: ``dgesdd``)."""
    return types.void(addr, *([types.intp] * 14)), _pointer_call(14)


def sv_extremes(gesdd, F, sa, ss, sw, siw, sints, chars, out):
    """The largest and smallest singular value of F (p, c; p <= c) into ``out`` = (s_max, s_min): LAPACK
    ``dgesdd`` without vectors (``JOBZ = 'N'``: bidiagonalization and dqds; issue 13: numba's ``svd`` forms both
    factors, ~16 us of a 10 x 10's ~5 us) on a copy of F (row-major F is column-major F^T, the same singular
    values). ``sa``, ``ss``, ``sw``, ``siw``: work arrays (>= p c, p, ``sints[5]``, 8 p); ``sints`` = [m, n, lda,
    ldu, ldvt, lwork, info] (int32), ``chars[2]`` = "N". Returns False where LAPACK reports a failure
    (``info != 0``): the caller then takes numba's ``svd``."""
    p, c = F.shape
    for i in range(p):
        for j in range(c):
            sa[i * c + j] = F[i, j]
    sints[0] = c
    sints[1] = p
    sints[2] = c
    sints[3] = 1
    sints[4] = 1
    sints[6] = 0
    _lapack14(gesdd, _at(chars, 2), _at(sints, 0), _at(sints, 1), _at(sa, 0), _at(sints, 2), _at(ss, 0), _at(sw, 0),
              _at(sints, 3), _at(sw, 0), _at(sints, 4), _at(sw, 0), _at(sints, 5), _at(siw, 0), _at(sints, 6))
    if sints[6] != 0:
        return False
    out[0] = ss[0]
    out[1] = ss[p - 1]
    return True


def imbalance(syrk, A, B, D, chars, ia, ib, fa, fb):
    """The upper triangle (``D[i, j]``, j >= i) of ``D = A^T A - B^T B`` (k, k) for C-ordered A (n, k), B (m, k):
    two BLAS rank-k updates (half a product's flops each, as numpy's ``A.T @ A``). The lower triangle is not
    touched; every use below reads the upper one (:func:`mirror` where a full matrix is needed)."""
    _blas10(syrk, _at(chars, 0), _at(chars, 1), _at(ia, 0), _at(ia, 1), _at(fa, 0), _at(A, 0), _at(ia, 2), _at(fa, 1),
            _at(D, 0), _at(ia, 3))
    _blas10(syrk, _at(chars, 0), _at(chars, 1), _at(ib, 0), _at(ib, 1), _at(fb, 0), _at(B, 0), _at(ib, 2), _at(fb, 1),
            _at(D, 0), _at(ib, 3))


def mirror(D):
    k = D.shape[0]
    for i in range(k):
        for j in range(i + 1, k):
            D[j, i] = D[i, j]


def sym_diffs(D, X, Y, out):
    """``||D - X||_F, ||D - Y||_F`` of symmetric matrices (C-ordered) from their upper triangles (one pass). Each
    row's part right of the diagonal is read through one flat view per matrix at unsigned offsets counted from 0,
    which LLVM vectorizes (indexing ``D[i, j]`` for ``j`` in ``range(i + 1, k)`` it does not, for the negative-index
    wraparound of a signed index: 25 against 9 us at k = 200, measured) without a view per row (each view an atomic
    reference-count increment and decrement, issue 13)."""
    k = D.shape[0]
    Df = D.reshape(-1)
    Xf = X.reshape(-1)
    Yf = Y.reshape(-1)
    uk = np.uint64(k)
    sx = 0.0
    sy = 0.0
    dx = 0.0
    dy = 0.0
    for i in range(k):
        a = D[i, i] - X[i, i]
        b = D[i, i] - Y[i, i]
        dx += a * a
        dy += b * b
        o = np.uint64(i) * uk + np.uint64(i + 1)
        for jj in range(k - i - 1):
            j = o + np.uint64(jj)
            a = Df[j] - Xf[j]
            b = Df[j] - Yf[j]
            sx += a * a
            sy += b * b
    out[0] = np.sqrt(2.0 * sx + dx)
    out[1] = np.sqrt(2.0 * sy + dy)


def sym_frob(D):
    """``||D||_F`` of a symmetric (C-ordered) matrix from its upper triangle (:func:`sym_diffs`' indexing)."""
    k = D.shape[0]
    Df = D.reshape(-1)
    uk = np.uint64(k)
    s = 0.0
    dg = 0.0
    for i in range(k):
        dg += D[i, i] * D[i, i]
        o = np.uint64(i) * uk + np.uint64(i + 1)
        for jj in range(k - i - 1):
            j = o + np.uint64(jj)
            s += Df[j] * Df[j]
    return np.sqrt(2.0 * s + dg)


def sym_matvec2(symv, D, V, U, Vt, Ut, ints, flts, chars):
    """``U = D V`` (k, 2) from D's upper triangle: BLAS ``dsymv`` on each column (``Vt``, ``Ut``: (2, k)
    work arrays; ``ints`` = [k, 1], ``flts`` = [1, 0], ``chars[0]`` = "L", the upper triangle in row-major terms).
    (One ``dsymm`` for both columns was measured 3x slower than the two ``dsymv``: 30 against 9 us at k = 200.)"""
    k = D.shape[0]
    for i in range(k):
        Vt[0, i] = V[i, 0]
        Vt[1, i] = V[i, 1]
    for c in range(2):
        _blas10(symv, _at(chars, 0), _at(ints, 0), _at(flts, 0), _at(D, 0), _at(ints, 0), _at(Vt, c * k), _at(ints, 1),
                _at(flts, 1), _at(Ut, c * k), _at(ints, 1))
    for i in range(k):
        U[i, 0] = Ut[0, i]
        U[i, 1] = Ut[1, i]


def axpy_step(X, G, eta):
    """``X = X - eta G`` in place (``TwoLayerLinear.step``: the same operation per element, no temporary);
    returns ``||X_new||_F^2`` from the same pass."""
    s = 0.0
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            x = X[i, j] - eta * G[i, j]
            X[i, j] = x
            s += x * x
    return s


def nmax(a, b):
    """``np.maximum``: NaN if either is NaN."""
    if a != a or b != b:
        return np.nan
    return a if a >= b else b


def nmin(a, b):
    """``np.minimum``: NaN if either is NaN."""
    if a != a or b != b:
        return np.nan
    return a if a <= b else b


def frob2(M):
    s = 0.0
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            s += M[i, j] * M[i, j]
    return s


def all_finite(M):
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            if not np.isfinite(M[i, j]):
                return False
    return True


def polyval(C, deg, x):
    """``roots._polyval``: Horner from ``C[0] + 0 x``."""
    out = C[0] + 0.0 * x
    for k in range(1, deg + 1):
        out = out * x + C[k]
    return out


def convex_root(C, deg, hint, dC):
    """``roots.convex_poly_root`` of one row ``C`` (highest degree first, signed so that ``C[deg] < 0``)."""
    a0 = -C[deg]
    hi = np.inf
    for j in range(1, deg + 1):
        a = C[deg - j]
        cand = (a0 / a) ** (1.0 / j) if a > 0 else np.inf
        hi = nmin(hi, cand)
    if not a0 > 0:
        hi = 0.0
    x = hi
    if hint == hint and np.isfinite(hint) and hint > 0 and hint < hi:
        if polyval(C, deg, hint) >= 0:
            x = hint
    for k in range(deg):
        dC[k] = C[k] * (deg - k)
    conv = (not np.isfinite(x)) or x == 0
    for _ in range(100):
        if conv:
            break
        p = polyval(C, deg, x)
        dp = polyval(dC, deg - 1, x)
        if dp <= 0:
            step = 0.0
        else:
            step = p / dp
        step = nmax(step, 0.0)
        x = x - step
        conv = step <= 4 * EPS * abs(x)
    return x


def signed_coeffs(C, deg):
    """``roots._step_coeffs``' sign: the constant made negative."""
    if C[deg] > 0:
        for k in range(deg + 1):
            C[k] = -C[k]


def kato_temple2(U, V, th0, th1, p, allow, delta, lam2, lamq1, sc0, sc1, tolc):
    """The certificate of ``ExtremeEigs.__call__`` for the pair (lowest, highest) Ritz values ``th0, th1`` with
    products ``U = M V`` over the first ``p`` rows: residuals (plus the rounding ``allow``), the gaps to the
    reference's neighbouring eigenvalues ``lamq1`` / ``lam2`` less the Weyl shift ``delta``, and Kato-Temple's
    bound ``rho^2 / gap <= tolc * scale``. Returns (low certified, high certified)."""
    r0 = 0.0
    r1 = 0.0
    for i in range(p):
        e0 = U[i, 0] - V[i, 0] * th0
        e1 = U[i, 1] - V[i, 1] * th1
        r0 += e0 * e0
        r1 += e1 * e1
    rho0 = np.sqrt(r0) + allow
    rho1 = np.sqrt(r1) + allow
    gap0 = (th0 - lamq1) * -1.0 - delta
    gap1 = (th1 - lam2) * 1.0 - delta
    good0 = (gap0 > rho0) and (rho0 * rho0 <= tolc * sc0 * gap0)
    good1 = (gap1 > rho1) and (rho1 * rho1 <= tolc * sc1 * gap1)
    return good0, good1


def cert_factored(F, dn, V, lam2, lamq1, smax0, qpad, cpad, need_low, out):
    """One row of ``ExtremeEigs.__call__`` with ``factored=True``: F (p, c) the factor of the Gram ``F F^T``,
    ``dn`` a bound on ``||F - F_ref||_F`` (:func:`run_chunk` accumulates it from the steps), V the reference's
    extreme eigenvectors (padded sizes qpad, cpad enter the tolerances as in the padded stack). Writes
    ``out[0], out[1]`` = (lo, hi) and returns whether certified."""
    p, c = F.shape
    Vp = V[:p]
    FtV = np.dot(F.T, Vp)
    U = np.dot(F, FtV)
    th0 = 0.0
    th1 = 0.0
    for j in range(c):
        th0 += FtV[j, 0] * FtV[j, 0]
        th1 += FtV[j, 1] * FtV[j, 1]
    big = smax0 + dn
    delta = dn * (smax0 + big)
    allow = (EPS * (qpad + cpad)) * big * big
    scale = nmax(abs(th0), abs(th1))
    good0, good1 = kato_temple2(U, Vp, th0, th1, p, allow, delta, lam2, lamq1,
                                np.sqrt(scale * nmax(th0, 0.0)), scale, CERT_ULPS * qpad * EPS)
    ok = good1 and (good0 or not need_low) and np.isfinite(delta)
    out[0] = th0 if (ok and need_low) else np.nan
    out[1] = th1 if ok else np.nan
    return ok


def cert_sym(M, dn, V, lam2, lamq1, fro0, U, out, symv, Vt, Ut, sints, sflts, chars):
    """One row of ``ExtremeEigs.__call__`` for a symmetric matrix M (q, q) (upper triangle), ``dn`` a bound on
    its Frobenius distance to the reference (:func:`run_chunk`: the sum of the steps' ``||D(s) - D(s-1)||_F``
    since then)."""
    q = M.shape[0]
    sym_matvec2(symv, M, V, U, Vt, Ut, sints, sflts, chars)
    th0 = 0.0
    th1 = 0.0
    for i in range(q):
        th0 += V[i, 0] * U[i, 0]
        th1 += V[i, 1] * U[i, 1]
    delta = dn
    allow = (EPS * q) * (fro0 + dn)
    scale = nmax(abs(th0), abs(th1))
    good0, good1 = kato_temple2(U, V, th0, th1, q, allow, delta, lam2, lamq1, scale, scale, CERT_ULPS * q * EPS)
    ok = good1 and good0 and np.isfinite(delta)
    out[0] = th0 if ok else np.nan
    out[1] = th1 if ok else np.nan
    return ok


def move_bounds(eta, ga2, gb2, a2, b2, slack_a, slack_b, out):
    """Bounds on what the update ``A - eta gA``, ``B - eta gB`` (rounded as numpy rounds it) moves, from the
    squared norms ``ga2 = ||gA||_F^2``, ``gb2``, ``a2 = ||A||_F^2``, ``b2`` of state t: ``out`` = (``||A(t+1) -
    A(t)||_F``, ``||B(t+1) - B(t)||_F``, ``||A(t+1) B(t+1)^T - A(t) B(t)^T||_F`` of the exact products).

    Per element ``fl(a - fl(eta g)) - a`` is at most ``|eta g| (1 + eps)^2 + eps |a|`` in magnitude, so
    ``dA <= eta ||gA|| (1 + eps)^2 + eps ||A||``; ``slack_a``, ``slack_b`` cover the computed norms' own rounding
    (``1 + (entries + 8) eps``). The product moves by ``dA B(t+1)^T + A(t) dB^T``: at most
    ``dA (||B|| + dB) + ||A|| dB``. tests/test_fused.py checks them against the distances of real runs."""
    an = np.sqrt(a2)
    bn = np.sqrt(b2)
    dA = (eta * np.sqrt(ga2) * (1.0 + 2.0 * EPS) + EPS * an) * slack_a
    dB = (eta * np.sqrt(gb2) * (1.0 + 2.0 * EPS) + EPS * bn) * slack_b
    out[0] = dA
    out[1] = dB
    out[2] = (dA * (bn + dB) + an * dB) * (1.0 + 4.0 * EPS)


def product_rounding(k, wfp, wref):
    """A bound on ``||W - A B^T||_F + ||W_ref - A_ref B_ref^T||_F`` of the two computed k-term products
    (``|fl(A B^T) - A B^T| <= gamma_k |A| |B|^T`` elementwise, whose Frobenius norm is at most
    ``gamma_k ||A||_F ||B||_F``), ``gamma_k`` enlarged to ``k + 4`` terms; ``wfp``, ``wref``: the two
    ``||A||_F ||B||_F``."""
    gam = (k + 4) * EPS / (1.0 - (k + 4) * EPS)
    return gam * (wfp + wref) * (1.0 + 4.0 * EPS)


def tridiagonalize(M, a, b, p):
    """Householder reduction of the symmetric ``M`` (q, q; both triangles, overwritten) to the tridiagonal
    ``T = H^T M H`` with diagonal ``a`` (q) and off-diagonal ``b`` (q - 1); ``p`` (q) is work space. Backward
    stable (``T`` is exactly similar to ``M + E``, ``||E|| = O(q eps ||M||)``), as LAPACK's ``dsytrd``.
    ``H = H_0 H_1 ... H_{q-3}``, ``H_k = I - beta_k v_k v_k^T`` acting on rows k+1 .. q-1: ``v_k`` is left in
    ``M[k+1:, k]`` and ``beta_k`` on the diagonal, ``M[k, k]`` (0: no reflection), for :func:`back_transform2`.
    ``b[q-1]`` is left as work space. M C-ordered. Each product ``M v`` takes four rows per pass over ``v`` (four
    independent sums, each in the order of j) and the rank-2 update vectorizes (flat unsigned indices): the same
    floats as one row at a time with two-index loops, ~50% less at 20 x 20 and ~30% less at 10 x 10 (measured,
    issue 13)."""
    q = M.shape[0]
    Mf = M.reshape(-1)
    uq = np.uint64(q)
    for k in range(q - 2):
        s2 = 0.0
        for i in range(k + 1, q):
            s2 += M[i, k] * M[i, k]
        x0 = M[k + 1, k]
        a[k] = M[k, k]
        if s2 == 0.0:
            b[k] = 0.0
            M[k, k] = 0.0
            continue
        alpha = -np.sqrt(s2) if x0 >= 0 else np.sqrt(s2)
        M[k + 1, k] = x0 - alpha
        beta = 2.0 / (s2 - x0 * x0 + (x0 - alpha) * (x0 - alpha))
        M[k, k] = beta
        for i in range(k + 1, q):  # v_k contiguous in b[k+1:] (free until their own steps): row-wise loops below
            b[i] = M[i, k]
        # the products and the update read M's rows through one flat view at unsigned offsets (no view per row:
        # each an atomic reference-count increment and decrement; an unsigned index has no wraparound select,
        # so the update vectorizes), with v = M[k+1:, k] in b[k+1:]
        c0 = np.uint64(k + 1)
        n1 = q - k - 1
        i = k + 1
        while i + 3 < q:  # p = beta M v: four rows' sums at once, each in the order of j (independent chains)
            o0 = np.uint64(i) * uq + c0
            o1 = o0 + uq
            o2 = o1 + uq
            o3 = o2 + uq
            t0 = 0.0
            t1 = 0.0
            t2 = 0.0
            t3 = 0.0
            for jj in range(n1):
                j = np.uint64(jj)
                vj = b[c0 + j]
                t0 += Mf[o0 + j] * vj
                t1 += Mf[o1 + j] * vj
                t2 += Mf[o2 + j] * vj
                t3 += Mf[o3 + j] * vj
            p[i] = beta * t0
            p[i + 1] = beta * t1
            p[i + 2] = beta * t2
            p[i + 3] = beta * t3
            i += 4
        while i < q:
            o0 = np.uint64(i) * uq + c0
            t0 = 0.0
            for jj in range(n1):
                j = np.uint64(jj)
                t0 += Mf[o0 + j] * b[c0 + j]
            p[i] = beta * t0
            i += 1
        kk = 0.0
        for i in range(k + 1, q):
            kk += b[i] * p[i]
        kk *= 0.5 * beta
        for i in range(k + 1, q):
            p[i] -= kk * b[i]
        for i in range(k + 1, q):  # M -= v w^T + w v^T (w = p)
            vi = b[i]
            wi = p[i]
            o0 = np.uint64(i) * uq + c0
            for jj in range(n1):
                j = np.uint64(jj)
                Mf[o0 + j] -= vi * p[c0 + j] + wi * b[c0 + j]
        b[k] = alpha
    if q >= 2:
        a[q - 2] = M[q - 2, q - 2]
        b[q - 2] = M[q - 1, q - 2]
    a[q - 1] = M[q - 1, q - 1]


def sturm_count4(a, b2, q, x0, x1, x2, x3, pivmin):
    """The numbers of eigenvalues of the tridiagonal (``a``, ``b2`` = squared off-diagonal) below ``x0 .. x3``: the
    negative pivots of ``T - x I = L D L^T`` (LAPACK ``dlaneg``'s recurrence; a pivot of magnitude below
    ``pivmin`` is taken as ``-pivmin``), the four independent recurrences in one interleaved pass (the dense
    routes verify two ends at once)."""
    c0 = 0
    c1 = 0
    c2 = 0
    c3 = 0
    d0 = a[0] - x0
    d1 = a[0] - x1
    d2 = a[0] - x2
    d3 = a[0] - x3
    for i in range(q):
        if i > 0:
            bb = b2[i - 1]
            d0 = a[i] - x0 - bb / d0
            d1 = a[i] - x1 - bb / d1
            d2 = a[i] - x2 - bb / d2
            d3 = a[i] - x3 - bb / d3
        if abs(d0) < pivmin:
            d0 = -pivmin
        if abs(d1) < pivmin:
            d1 = -pivmin
        if abs(d2) < pivmin:
            d2 = -pivmin
        if abs(d3) < pivmin:
            d3 = -pivmin
        c0 += d0 < 0
        c1 += d1 < 0
        c2 += d2 < 0
        c3 += d3 < 0
    return c0, c1, c2, c3


def laguerre_gh(a, b2, q, x, side, pivmin):
    """``(G, H) = (sum 1/(x - lambda_i), sum 1/(x - lambda_i)^2)`` at ``x`` from the pivots of
    :func:`sturm_count4`'s recurrence and their first two derivatives (:func:`laguerre_both`)."""
    d = a[0] - x
    if abs(d) < pivmin:
        d = -pivmin * side
    dp = -1.0
    dpp = 0.0
    r = 1.0 / d
    g = dp * r
    h = g * g
    for i in range(1, q):
        bb = b2[i - 1]
        nd = a[i] - x - bb * r
        if abs(nd) < pivmin:
            nd = -pivmin * side
        ndp = -1.0 + bb * dp * r * r
        ndpp = bb * r * r * (dpp - 2.0 * dp * dp * r)
        d = nd
        dp = ndp
        dpp = ndpp
        r = 1.0 / d
        u = dp * r
        g += u
        h += u * u - dpp * r
    return g, h


def laguerre_gh2(a, b2, q, x, y, pivmin):
    """:func:`laguerre_gh` at ``x`` (side -1) and at ``y`` (side +1) in one pass over the pivots: the two
    recurrences are independent chains of divisions, so interleaved they overlap (the same operations on each,
    hence the same floats as two calls)."""
    d = a[0] - x
    if abs(d) < pivmin:
        d = pivmin
    e = a[0] - y
    if abs(e) < pivmin:
        e = -pivmin
    dp = -1.0
    dpp = 0.0
    ep = -1.0
    epp = 0.0
    r = 1.0 / d
    s = 1.0 / e
    g = dp * r
    h = g * g
    f = ep * s
    k = f * f
    for i in range(1, q):
        bb = b2[i - 1]
        nd = a[i] - x - bb * r
        ne = a[i] - y - bb * s
        if abs(nd) < pivmin:
            nd = pivmin
        if abs(ne) < pivmin:
            ne = -pivmin
        ndp = -1.0 + bb * dp * r * r
        nep = -1.0 + bb * ep * s * s
        ndpp = bb * r * r * (dpp - 2.0 * dp * dp * r)
        nepp = bb * s * s * (epp - 2.0 * ep * ep * s)
        d = nd
        e = ne
        dp = ndp
        ep = nep
        dpp = ndpp
        epp = nepp
        r = 1.0 / d
        s = 1.0 / e
        u = dp * r
        w = ep * s
        g += u
        f += w
        h += u * u - dpp * r
        k += w * w - epp * s
    return g, h, f, k


def laguerre_gh6(a3, p3, q, x0, x1, x2, x3, x4, x5, pivmin):
    """:func:`laguerre_gh2` of three tridiagonals at once (diagonals ``a3[j]``, squared off-diagonals ``p3[j]``,
    all of size q): ``x{2j}`` below (side -1) and ``x{2j+1}`` above (side +1) the spectrum of matrix j. Six
    independent chains of divisions in one pass (written out: numba keeps scalars in registers, not small
    arrays), each with exactly :func:`laguerre_gh`'s operations, so the same floats as six calls. Returns
    ``(G, H)`` of the six chains in order."""
    d0 = a3[0, 0] - x0
    if abs(d0) < pivmin:
        d0 = pivmin
    dp0 = -1.0
    dpp0 = 0.0
    r0 = 1.0 / d0
    g0 = dp0 * r0
    h0 = g0 * g0
    d1 = a3[0, 0] - x1
    if abs(d1) < pivmin:
        d1 = -pivmin
    dp1 = -1.0
    dpp1 = 0.0
    r1 = 1.0 / d1
    g1 = dp1 * r1
    h1 = g1 * g1
    d2 = a3[1, 0] - x2
    if abs(d2) < pivmin:
        d2 = pivmin
    dp2 = -1.0
    dpp2 = 0.0
    r2 = 1.0 / d2
    g2 = dp2 * r2
    h2 = g2 * g2
    d3 = a3[1, 0] - x3
    if abs(d3) < pivmin:
        d3 = -pivmin
    dp3 = -1.0
    dpp3 = 0.0
    r3 = 1.0 / d3
    g3 = dp3 * r3
    h3 = g3 * g3
    d4 = a3[2, 0] - x4
    if abs(d4) < pivmin:
        d4 = pivmin
    dp4 = -1.0
    dpp4 = 0.0
    r4 = 1.0 / d4
    g4 = dp4 * r4
    h4 = g4 * g4
    d5 = a3[2, 0] - x5
    if abs(d5) < pivmin:
        d5 = -pivmin
    dp5 = -1.0
    dpp5 = 0.0
    r5 = 1.0 / d5
    g5 = dp5 * r5
    h5 = g5 * g5
    for i in range(1, q):
        bb0 = p3[0, i - 1]
        ai0 = a3[0, i]
        bb1 = p3[1, i - 1]
        ai1 = a3[1, i]
        bb2 = p3[2, i - 1]
        ai2 = a3[2, i]
        nd0 = ai0 - x0 - bb0 * r0
        if abs(nd0) < pivmin:
            nd0 = pivmin
        nd1 = ai0 - x1 - bb0 * r1
        if abs(nd1) < pivmin:
            nd1 = -pivmin
        nd2 = ai1 - x2 - bb1 * r2
        if abs(nd2) < pivmin:
            nd2 = pivmin
        nd3 = ai1 - x3 - bb1 * r3
        if abs(nd3) < pivmin:
            nd3 = -pivmin
        nd4 = ai2 - x4 - bb2 * r4
        if abs(nd4) < pivmin:
            nd4 = pivmin
        nd5 = ai2 - x5 - bb2 * r5
        if abs(nd5) < pivmin:
            nd5 = -pivmin
        ndp0 = -1.0 + bb0 * dp0 * r0 * r0
        dpp0 = bb0 * r0 * r0 * (dpp0 - 2.0 * dp0 * dp0 * r0)
        dp0 = ndp0
        ndp1 = -1.0 + bb0 * dp1 * r1 * r1
        dpp1 = bb0 * r1 * r1 * (dpp1 - 2.0 * dp1 * dp1 * r1)
        dp1 = ndp1
        ndp2 = -1.0 + bb1 * dp2 * r2 * r2
        dpp2 = bb1 * r2 * r2 * (dpp2 - 2.0 * dp2 * dp2 * r2)
        dp2 = ndp2
        ndp3 = -1.0 + bb1 * dp3 * r3 * r3
        dpp3 = bb1 * r3 * r3 * (dpp3 - 2.0 * dp3 * dp3 * r3)
        dp3 = ndp3
        ndp4 = -1.0 + bb2 * dp4 * r4 * r4
        dpp4 = bb2 * r4 * r4 * (dpp4 - 2.0 * dp4 * dp4 * r4)
        dp4 = ndp4
        ndp5 = -1.0 + bb2 * dp5 * r5 * r5
        dpp5 = bb2 * r5 * r5 * (dpp5 - 2.0 * dp5 * dp5 * r5)
        dp5 = ndp5
        r0 = 1.0 / nd0
        u0 = dp0 * r0
        g0 += u0
        h0 += u0 * u0 - dpp0 * r0
        r1 = 1.0 / nd1
        u1 = dp1 * r1
        g1 += u1
        h1 += u1 * u1 - dpp1 * r1
        r2 = 1.0 / nd2
        u2 = dp2 * r2
        g2 += u2
        h2 += u2 * u2 - dpp2 * r2
        r3 = 1.0 / nd3
        u3 = dp3 * r3
        g3 += u3
        h3 += u3 * u3 - dpp3 * r3
        r4 = 1.0 / nd4
        u4 = dp4 * r4
        g4 += u4
        h4 += u4 * u4 - dpp4 * r4
        r5 = 1.0 / nd5
        u5 = dp5 * r5
        g5 += u5
        h5 += u5 * u5 - dpp5 * r5
    return g0, h0, g1, h1, g2, h2, g3, h3, g4, h4, g5, h5


def laguerre3(a3, p3, q, x, done, tol3):
    """:func:`laguerre_both` (extremes, nothing deflated) of three tridiagonals of size q at once: chain 2j from
    ``x[2j]`` below and chain 2j+1 from ``x[2j+1]`` above the spectrum of matrix j (``a3[j]``, ``p3[j]``; step
    tolerance ``tol3[j]``), ``x`` and ``done`` updated in place (a chain already ``done`` is not stepped; its
    matrix's rows must still hold finite values). While three or more chains run, one :func:`laguerre_gh6` pass
    serves all; after that each runs alone (:func:`laguerre_gh`). Every chain takes the steps it takes in
    :func:`laguerre_both`, at most 60, with the same arithmetic: the same floats."""
    for _ in range(60):
        nact = 0
        for c in range(6):
            if not done[c]:
                nact += 1
        if nact == 0:
            return
        if nact >= 3:
            g0, h0, g1, h1, g2, h2, g3, h3, g4, h4, g5, h5 = laguerre_gh6(a3, p3, q, x[0], x[1], x[2], x[3], x[4],
                                                                          x[5], PIVMIN)
            gs = (g0, g1, g2, g3, g4, g5)
            hs = (h0, h1, h2, h3, h4, h5)
            for c in range(6):
                if not done[c]:
                    side = -1.0 if c % 2 == 0 else 1.0
                    x[c], done[c] = laguerre_step(x[c], gs[c], hs[c], side, q, q, np.nan, tol3[c // 2])
        else:
            for c in range(6):
                if not done[c]:
                    side = -1.0 if c % 2 == 0 else 1.0
                    g, h = laguerre_gh(a3[c // 2], p3[c // 2], q, x[c], side, PIVMIN)
                    x[c], done[c] = laguerre_step(x[c], g, h, side, q, q, np.nan, tol3[c // 2])


def laguerre_step(x, g, h, side, q, nq, lam, tol):
    """One step of :func:`laguerre_both`'s iteration on one side from ``x`` with ``(G, H)`` there: ``(x_next,
    done)``."""
    if nq < q:
        u = 1.0 / (x - lam)
        g -= u
        h -= u * u
        if side * g <= 0:  # x reached the next root in rounding (G has one sign beyond all the roots)
            return x, True
    disc = (nq - 1) * (nq * h - g * g)
    if disc < 0:
        disc = 0.0
    den = g + side * np.sqrt(disc)
    if den == 0 or den != den:
        return x, True
    step = nq / den
    xn = x - step
    if side * (xn - x) > 0:  # the monotone iteration never moves outward: converged at rounding
        return x, True
    if abs(step) <= tol:
        return xn, True
    return xn, False


def laguerre_both(a, b2, q, xlo, xhi, pivmin, tol, lamlo, lamhi):
    """Laguerre's iteration on ``det(T - x I)`` from ``xlo`` below and ``xhi`` above the spectrum to the nearest
    eigenvalue on each side, ``(lo, hi)``: the pivots of :func:`sturm_count4`'s recurrence with their first two
    derivatives give ``G = sum 1/(x - lambda_i)``, ``H = sum 1/(x - lambda_i)^2`` (:func:`laguerre_gh`); for a
    polynomial with real roots the iterates move monotonically toward the extreme root (cubically near a simple
    one). Each stops when a step is below ``tol`` or would move outward (rounding), after at most 60 steps
    (:func:`laguerre_step`). ``lamlo``, ``lamhi`` (not NaN): the extreme eigenvalue on that side already found,
    deflated (``det(T - x I) / (lam - x)``, its terms taken out of G and H), so the iteration goes to the next one.
    The two iterations are interleaved (:func:`laguerre_gh2`) while both run: the dense routes take the two ends
    of every spectrum."""
    nlo = q if lamlo != lamlo else q - 1
    nhi = q if lamhi != lamhi else q - 1
    for it in range(60):
        g, h, f, k = laguerre_gh2(a, b2, q, xlo, xhi, pivmin)
        xlo, dlo = laguerre_step(xlo, g, h, -1.0, q, nlo, lamlo, tol)
        xhi, dhi = laguerre_step(xhi, f, k, 1.0, q, nhi, lamhi, tol)
        if dlo or dhi:
            left = 59 - it
            for _ in range(left):
                if dlo and dhi:
                    break
                if not dlo:
                    g, h = laguerre_gh(a, b2, q, xlo, -1.0, pivmin)
                    xlo, dlo = laguerre_step(xlo, g, h, -1.0, q, nlo, lamlo, tol)
                if not dhi:
                    g, h = laguerre_gh(a, b2, q, xhi, 1.0, pivmin)
                    xhi, dhi = laguerre_step(xhi, g, h, 1.0, q, nhi, lamhi, tol)
            return xlo, xhi
    return xlo, xhi


def scaled_tridiagonal(M, a, b, p):
    """``M`` (q, q; both triangles; overwritten) scaled by a power of two to ``max |M_ij|`` in [1, 2) and
    reduced by :func:`tridiagonalize` (diagonal ``a``, off-diagonal ``b``; ``p`` then holds the squared off-diagonal).
    Returns ``(sc, gl, gu, span, tnorm)``: the scale, the Gershgorin bounds widened by ``2 atol + PIVMIN``
    (``atol = eps span / 2``: where Laguerre's iteration starts), the Gershgorin span and ``max_i (|a_i| +
    |b_i-1| + |b_i|)``; ``sc = 0``: M is zero (nothing else computed), ``sc < 0``: ``max |M_ij|`` outside
    (1e-290, 1e290), where the scale itself would over- or underflow."""
    q = M.shape[0]
    m0 = 0.0  # max |M_ij| in four independent chains (a maximum is exact in any order; a NaN is skipped by each)
    m1 = 0.0
    m2 = 0.0
    m3 = 0.0
    for i in range(q):
        j = 0
        while j + 3 < q:
            m0 = max(m0, abs(M[i, j]))
            m1 = max(m1, abs(M[i, j + 1]))
            m2 = max(m2, abs(M[i, j + 2]))
            m3 = max(m3, abs(M[i, j + 3]))
            j += 4
        while j < q:
            m0 = max(m0, abs(M[i, j]))
            j += 1
    amax = max(max(m0, m1), max(m2, m3))
    if amax == 0.0:
        return 0.0, 0.0, 0.0, 0.0, 0.0
    if not (1e-290 < amax < 1e290):
        return -1.0, 0.0, 0.0, 0.0, 0.0
    sc = 2.0 ** -np.floor(np.log2(amax))  # exact power of two: max |M| in [1, 2)
    for i in range(q):
        for j in range(q):
            M[i, j] *= sc
    tridiagonalize(M, a, b, p)
    gl = np.inf
    gu = -np.inf
    tnorm = 0.0
    for i in range(q):
        r = 0.0
        if i > 0:
            r += abs(b[i - 1])
        if i < q - 1:
            r += abs(b[i])
        gl = min(gl, a[i] - r)
        gu = max(gu, a[i] + r)
        tnorm = max(tnorm, abs(a[i]) + r)
    for i in range(q - 1):
        p[i] = b[i] * b[i]
    span = max(abs(gl), abs(gu))
    atol = 0.5 * EPS * span
    gl -= 2 * atol + PIVMIN
    gu += 2 * atol + PIVMIN
    return sc, gl, gu, span, tnorm


def scaled_extremes(M, a, b, p):
    """The first half of :func:`extreme_eigvalsh` and :func:`extreme_pairs`: :func:`scaled_tridiagonal`, then
    :func:`laguerre_both` from the widened Gershgorin bounds. Returns ``(sc, lo, hi, span, tnorm)``: the scale,
    the scaled extreme eigenvalues (unverified), the Gershgorin span and ``max_i (|a_i| + |b_i-1| + |b_i|)``
    (``sc <= 0``: as :func:`scaled_tridiagonal`)."""
    q = M.shape[0]
    sc, gl, gu, span, tnorm = scaled_tridiagonal(M, a, b, p)
    if sc <= 0.0:
        return sc, 0.0, 0.0, 0.0, 0.0
    lo, hi = laguerre_both(a, p, q, gl, gu, PIVMIN, 0.5 * EPS * span, np.nan, np.nan)
    return sc, lo, hi, span, tnorm


def extremes_verified(a, b2, q, lo, hi, atol):
    """Whether ``lo`` and ``hi`` are the extreme eigenvalues of the tridiagonal (``a``, ``b2`` squared
    off-diagonal) to ``2 atol + 4 ulps``: two Sturm counts each (an eigenvalue within that on the inner side, none
    beyond it on the outer), in one :func:`sturm_count4` pass."""
    dl = 2 * atol + 4 * EPS * abs(lo) + PIVMIN
    dh = 2 * atol + 4 * EPS * abs(hi) + PIVMIN
    c0, c1, c2, c3 = sturm_count4(a, b2, q, hi + dh, hi - dh, lo - dl, lo + dl, PIVMIN)
    return c0 == q and c1 <= q - 1 and c2 == 0 and c3 >= 1


def extreme_eigvalsh(M, a, b, p, out):
    """The smallest and largest eigenvalue of the symmetric ``M`` (q, q; both triangles; overwritten) into
    ``out`` = (lo, hi), for small q, where a LAPACK call's overhead is most of its cost (numba's ``eigvalsh``
    of a 10 x 10: 7 us; this: ~3.5 us, measured): ``M`` scaled by a power of two to ``max |M_ij|`` in [1, 2),
    :func:`tridiagonalize`, :func:`laguerre_both` from the Gershgorin bounds, then each value verified by
    two Sturm counts (an eigenvalue within ``eps ||T|| + 4 ulps`` on the inner side, none
    beyond it on the outer). Returns False where a verification fails (clusters, a multiple extreme
    eigenvalue): the caller then takes ``eigvalsh``. The error is the reduction's, ``O(q eps ||M||)``, as
    ``eigvalsh``'s (tests/test_fused.py compares them on random, graded, clustered, low-rank and tiny or huge
    matrices)."""
    q = M.shape[0]
    sc, lo, hi, span, _ = scaled_extremes(M, a, b, p)
    if sc == 0.0:
        out[0] = 0.0
        out[1] = 0.0
        return True
    if sc < 0.0:  # the power-of-two scale itself would over- or underflow: eigvalsh
        return False
    out[0] = lo / sc
    out[1] = hi / sc
    return extremes_verified(a, p, q, lo, hi, 0.5 * EPS * span)


def tridiag_inverse_iteration2(a, b, q, s0, s1, tnorm, Y, wk, piv):
    """``Y[0]``, ``Y[1]`` (q each): eigenvectors of the tridiagonal (``a``, ``b``) for the eigenvalues nearest
    ``s0`` and ``s1``, by three steps of inverse iteration (LAPACK ``dstein``'s method): ``T - sigma I`` factored
    once with partial pivoting (``dgttrf``; a pivot below ``eps ||T||`` raised to it, a perturbation of that size),
    then solved (``dgtts2``) from a fixed start, normalized after each solve. The two shifts' factorizations and
    solves are independent recurrences, run in the same loops so that they overlap, each with the operations of
    one shift alone (the same floats: tests/test_fused.py checks them against the one-shift loop in plain Python).
    ``wk`` (2, 4, q) (d, dl, du, du2 of each shift) and ``piv`` (2, q): work space, indexed in place (a view per
    row would cost an atomic reference-count pair each). Returns False where either vector is not finite."""
    tiny = EPS * tnorm + 1e-300
    for c in range(2):
        sigma = s0 if c == 0 else s1
        for i in range(q):
            wk[c, 0, i] = a[i] - sigma
            wk[c, 3, i] = 0.0
            piv[c, i] = 0
        for i in range(q - 1):
            wk[c, 1, i] = b[i]
            wk[c, 2, i] = b[i]
    for i in range(q - 1):
        for c in range(2):
            if abs(wk[c, 0, i]) >= abs(wk[c, 1, i]):
                if abs(wk[c, 0, i]) < tiny:
                    wk[c, 0, i] = tiny if wk[c, 0, i] >= 0 else -tiny
                fact = wk[c, 1, i] / wk[c, 0, i]
                wk[c, 1, i] = fact
                wk[c, 0, i + 1] -= fact * wk[c, 2, i]
            else:
                piv[c, i] = 1
                fact = wk[c, 0, i] / wk[c, 1, i]
                wk[c, 0, i] = wk[c, 1, i]
                wk[c, 1, i] = fact
                temp = wk[c, 2, i]
                wk[c, 2, i] = wk[c, 0, i + 1]
                wk[c, 0, i + 1] = temp - fact * wk[c, 0, i + 1]
                if i < q - 2:
                    wk[c, 3, i] = wk[c, 2, i + 1]
                    wk[c, 2, i + 1] = -fact * wk[c, 2, i + 1]
    for c in range(2):
        if abs(wk[c, 0, q - 1]) < tiny:
            wk[c, 0, q - 1] = tiny if wk[c, 0, q - 1] >= 0 else -tiny
        for i in range(q):  # a fixed start with no special structure (the golden-ratio sequence)
            Y[c, i] = 0.5 + ((i + 1) * 0.6180339887498949) % 1.0
    for _ in range(3):
        for i in range(q - 1):
            for c in range(2):
                if piv[c, i] == 0:
                    Y[c, i + 1] -= wk[c, 1, i] * Y[c, i]
                else:
                    temp = Y[c, i]
                    Y[c, i] = Y[c, i + 1]
                    Y[c, i + 1] = temp - wk[c, 1, i] * Y[c, i]
        for c in range(2):
            Y[c, q - 1] /= wk[c, 0, q - 1]
            if q > 1:
                Y[c, q - 2] = (Y[c, q - 2] - wk[c, 2, q - 2] * Y[c, q - 1]) / wk[c, 0, q - 2]
        for i in range(q - 3, -1, -1):
            for c in range(2):
                Y[c, i] = (Y[c, i] - wk[c, 2, i] * Y[c, i + 1] - wk[c, 3, i] * Y[c, i + 2]) / wk[c, 0, i]
        for c in range(2):
            big = 0.0
            for i in range(q):
                big = max(big, abs(Y[c, i]))
            if not (0.0 < big < np.inf):
                return False
            for i in range(q):
                Y[c, i] /= big
    for c in range(2):
        nrm = 0.0
        for i in range(q):
            nrm += Y[c, i] * Y[c, i]
        nrm = np.sqrt(nrm)
        for i in range(q):
            Y[c, i] /= nrm
    return True


def back_transform2(M, Y):
    """``y <- H y`` for both vectors ``Y[0]``, ``Y[1]`` and the reflectors :func:`tridiagonalize` left in ``M``:
    eigenvectors of T to ones of M, in one pass over the reflectors (the same floats as one vector at a time)."""
    q = M.shape[0]
    for k in range(q - 3, -1, -1):
        beta = M[k, k]
        if beta == 0.0:
            continue
        t0 = 0.0
        t1 = 0.0
        for i in range(k + 1, q):
            t0 += M[i, k] * Y[0, i]
            t1 += M[i, k] * Y[1, i]
        t0 *= beta
        t1 *= beta
        for i in range(k + 1, q):
            Y[0, i] -= t0 * M[i, k]
            Y[1, i] -= t1 * M[i, k]


def extreme_pairs(M, a, b, p, out, V):
    """The reference of a warm start without LAPACK (issue 13: ``eigh`` of a 20 x 20 takes ~41 us in the loop):
    ``out`` = (lo, hi, second lowest, second highest) eigenvalues of the symmetric ``M`` (q, q >= 3; both triangles;
    overwritten) and the eigenvectors of lo and hi in ``V[:q, 0]``, ``V[:q, 1]``. The extreme ones as in
    :func:`extreme_eigvalsh` (:func:`scaled_extremes`); the second ones by the same iteration with the extreme one
    deflated (started a spread beyond it); each of the four verified by two Sturm counts (the j-th eigenvalue within
    ``eps ||T|| + 4 ulps``); the two vectors by :func:`tridiag_inverse_iteration2` and :func:`back_transform2`. Returns
    False where a verification fails or a vector is not finite (the caller then takes ``eigh``). Accuracy that of
    ``eigh``, ``O(q eps ||M||)`` in the values (tests/test_fused.py compares both on graded, clustered, low-rank,
    tiny and huge matrices)."""
    q = M.shape[0]
    sc, lo, hi, span, tnorm = scaled_extremes(M, a, b, p)
    if sc <= 0.0:
        return False
    atol = 0.5 * EPS * span
    # the deflated iterations start a spread away from the deflated value: next to it, 1/(x - lam)^2 would
    # cancel against its own term of H in rounding
    w = nmax(hi - lo, span) + PIVMIN
    lo2, hi2 = laguerre_both(a, p, q, lo - w, hi + w, PIVMIN, atol, lo, hi)
    dl2 = 2 * atol + 4 * EPS * abs(lo2) + PIVMIN
    dh2 = 2 * atol + 4 * EPS * abs(hi2) + PIVMIN
    c4, c5, c6, c7 = sturm_count4(a, p, q, hi2 + dh2, hi2 - dh2, lo2 - dl2, lo2 + dl2, PIVMIN)
    if not (extremes_verified(a, p, q, lo, hi, atol) and c4 >= q - 1 and c5 <= q - 2 and c6 <= 1 and c7 >= 2):
        return False
    Y = np.empty((2, q))
    if not tridiag_inverse_iteration2(a, b, q, lo, hi, tnorm, Y, np.empty((2, 4, q)), np.empty((2, q), dtype=np.int64)):
        return False
    back_transform2(M, Y)
    for i in range(q):
        V[i, 0] = Y[0, i]
        V[i, 1] = Y[1, i]
    out[0] = lo / sc
    out[1] = hi / sc
    out[2] = lo2 / sc
    out[3] = hi2 / sc
    return True


def set_reference(e, v, fro, V, ref):
    """A dense decomposition (ascending eigenvalues ``e``, eigenvectors ``v`` of a p x p matrix) as the warm
    start's reference: ``ref = [lam2, lamq1, smax0, fro0]`` and the extreme eigenvectors in ``V``'s first p
    rows (the padding rows zero)."""
    p = e.shape[0]
    ref[0] = e[p - 2] if p > 1 else np.inf
    ref[1] = e[1] if p > 1 else -np.inf
    ref[2] = np.sqrt(nmax(e[p - 1], 0.0))
    ref[3] = fro
    for i in range(V.shape[0]):
        V[i, 0] = 0.0
        V[i, 1] = 0.0
    for i in range(p):
        V[i, 0] = v[i, 0]
        V[i, 1] = v[i, p - 1]


def dense_extremes(M, track, fro, V, ref, eig_a, eig_b, eig_p, eig_o):
    """The extreme eigenvalues (lo, hi) of the symmetric ``M`` (q, q; both triangles; not modified) into
    ``eig_o`` (4): with ``track`` from :func:`extreme_pairs` up to size ``PAIR_EIG_MAX``, else from ``eigh``, whose
    values and extreme vectors also become the reference (V, ref, ``fro`` its Frobenius entry;
    :func:`set_reference`); else :func:`extreme_eigvalsh` on a copy up to size
    ``SMALL_EIG_MAX`` and ``eigvalsh`` where that is larger or its verification fails. Returns ``track``
    (whether the reference was set)."""
    q = M.shape[0]
    if track:
        if 3 <= q <= PAIR_EIG_MAX:
            for i in range(V.shape[0]):
                V[i, 0] = 0.0
                V[i, 1] = 0.0
            if extreme_pairs(M.copy(), eig_a[:q], eig_b[:q], eig_p[:q], eig_o, V):
                ref[0] = eig_o[3]
                ref[1] = eig_o[2]
                ref[2] = np.sqrt(nmax(eig_o[1], 0.0))
                ref[3] = fro
                return True
        e, v = np.linalg.eigh(M)
        set_reference(e, v, fro, V, ref)
    elif q <= SMALL_EIG_MAX and extreme_eigvalsh(M.copy(), eig_a[:q], eig_b[:q], eig_p[:q], eig_o):
        return False
    else:
        e = np.linalg.eigvalsh(M)
    eig_o[0] = e[0]
    eig_o[1] = e[q - 1]
    return track


def sv_redo(F, gesdd, sa, ss, sw, siw, sints, chars, eig_o):
    """``(hi, lo)``: the squared extreme singular values of F, the SVD redo of a Gram's small eigenvalue
    (:func:`sv_extremes`, ``eig_o`` its work space; numba's ``svd`` where LAPACK reports a failure)."""
    p = F.shape[0]
    if sv_extremes(gesdd, F, sa, ss, sw, siw, sints, chars, eig_o):
        return eig_o[0] * eig_o[0], eig_o[1] * eig_o[1]
    sv = np.linalg.svd(F)[1]
    return sv[0] * sv[0], sv[p - 1] * sv[p - 1]


def gram_clipped(F, need_low, e_lo, e_hi, out, gesdd, sa, ss, sw, siw, sints, chars, eig_o):
    """The second half of :func:`gram_dense`: the Gram's extreme eigenvalues ``e_lo``, ``e_hi`` clipped at 0, the
    SVD's (:func:`sv_redo`) where the smallest is below ``GRAM_SV_RTOL`` the largest, into ``out`` = (lo or 0
    without ``need_low``, hi)."""
    hi = nmax(e_hi, 0.0)
    lo = nmax(e_lo, 0.0)
    if need_low and lo < GRAM_SV_RTOL * hi:
        hi, lo = sv_redo(F, gesdd, sa, ss, sw, siw, sints, chars, eig_o)
    out[0] = lo if need_low else 0.0
    out[1] = hi


def gram_dense(F, need_low, track, V, ref, out, eig_a, eig_b, eig_p, eig_o, gesdd, sa, ss, sw, siw, sints, chars):
    """Dense route of one factor (``models._dense_grams`` / ``_gram_extremes_dense``): the Gram ``F F^T``'s
    extreme eigenvalues (:func:`dense_extremes`) clipped at 0, the SVD's (:func:`sv_extremes`) where its smallest
    is below ``GRAM_SV_RTOL`` its largest (:func:`gram_clipped`); with ``track`` the reference (V, ref = [lam2,
    lamq1, smax0, fro0]) from the same decomposition. Returns whether the reference was set."""
    G = np.dot(F, F.T)
    if not all_finite(G):
        out[0] = np.nan
        out[1] = np.nan
        return False
    set_ref = dense_extremes(G, track, np.sqrt(frob2(F)) if track else 0.0, V, ref, eig_a, eig_b, eig_p, eig_o)
    gram_clipped(F, need_low, eig_o[0], eig_o[1], out, gesdd, sa, ss, sw, siw, sints, chars, eig_o)
    return set_ref


def extreme_eigvalsh3(G3, M3, a3, b3, p3, st, out3, x6, done6, tol3):
    """:func:`extreme_eigvalsh` of the three q x q matrices ``G3[j]`` (both triangles; not modified: copied to
    ``M3[j]``) with ``st[j] == 1`` (the others skipped) at once, the same floats: each scaled and tridiagonalized
    (:func:`scaled_tridiagonal`), the six Laguerre iterations interleaved (:func:`laguerre3`), each verified
    (:func:`extremes_verified`). Writes ``out3[j]`` = (lo, hi) and ``st[j]``: 1 where verified (or M zero), 0
    where a verification fails or the scale would over- or underflow (the caller then takes ``eigvalsh``).
    ``a3``, ``b3``, ``p3`` (3, q), ``x6``, ``done6`` (6), ``tol3`` (3): work space."""
    q = G3.shape[1]
    sc3 = np.zeros(3)
    for j in range(3):
        x6[2 * j] = -1.0
        x6[2 * j + 1] = 1.0
        done6[2 * j] = True
        done6[2 * j + 1] = True
        tol3[j] = 0.0
        sc = 0.0
        if st[j] == 1:
            M = M3[j]
            G = G3[j]
            for i in range(q):
                for c in range(q):
                    M[i, c] = G[i, c]
            sc, gl, gu, span, _ = scaled_tridiagonal(M, a3[j], b3[j], p3[j])
            if sc == 0.0:
                out3[j, 0] = 0.0
                out3[j, 1] = 0.0
            elif sc < 0.0:
                st[j] = 0
            else:
                x6[2 * j] = gl
                x6[2 * j + 1] = gu
                done6[2 * j] = False
                done6[2 * j + 1] = False
                tol3[j] = 0.5 * EPS * span
        sc3[j] = sc
        if sc <= 0.0:  # benign rows for the chains computed alongside the running ones (their values unused)
            for i in range(q):
                a3[j, i] = 0.0
                p3[j, i] = 0.0
    laguerre3(a3, p3, q, x6, done6, tol3)
    for j in range(3):
        if sc3[j] > 0.0:
            lo = x6[2 * j]
            hi = x6[2 * j + 1]
            out3[j, 0] = lo / sc3[j]
            out3[j, 1] = hi / sc3[j]
            st[j] = 1 if extremes_verified(a3[j], p3[j], q, lo, hi, tol3[j]) else 0


def gram_dense3(F0, F1, F2, need0, need1, need2, out3, G3, M3, a3, b3, p3, st, e3, x6, done6, tol3, gesdd, sa, ss,
                sw, siw, sints, chars, eig_o):
    """:func:`gram_dense` without a reference (``track`` False) of the three factors ``F0``, ``F1``, ``F2`` (each
    p x c, the same p <= ``SMALL_EIG_MAX``) at once: the three Grams (into ``G3``), their extreme eigenvalues by
    :func:`extreme_eigvalsh3` (``eigvalsh`` where it fails), each clipped as :func:`gram_clipped` clips into
    ``out3[j]``; a Gram with a non-finite entry gives (NaN, NaN). The same floats as three :func:`gram_dense`
    calls; the rest is work space."""
    q = G3.shape[1]
    for j in range(3):
        F = F0 if j == 0 else F1 if j == 1 else F2
        G = G3[j]
        np.dot(F, F.T, G)
        st[j] = 1 if all_finite(G) else 2
    extreme_eigvalsh3(G3, M3, a3, b3, p3, st, e3, x6, done6, tol3)
    for j in range(3):
        F = F0 if j == 0 else F1 if j == 1 else F2
        need = need0 if j == 0 else need1 if j == 1 else need2
        if st[j] == 2:
            out3[j, 0] = np.nan
            out3[j, 1] = np.nan
            continue
        if st[j] == 0:
            e = np.linalg.eigvalsh(G3[j])
            e3[j, 0] = e[0]
            e3[j, 1] = e[q - 1]
        # gram_clipped, written out: a call passing the nine arrays would cost nine atomic reference-count pairs
        hi = nmax(e3[j, 1], 0.0)
        lo = nmax(e3[j, 0], 0.0)
        if need and lo < GRAM_SV_RTOL * hi:
            hi, lo = sv_redo(F, gesdd, sa, ss, sw, siw, sints, chars, eig_o)
        out3[j, 0] = lo if need else 0.0
        out3[j, 1] = hi


def sym_dense(M, track, V, ref, out, eig_a, eig_b, eig_p, eig_o):
    """Dense route of the imbalance (``models._tracked`` / ``_eigvalsh_finite``): (lo, hi) (:func:`dense_extremes`),
    and with ``track`` the reference. Returns whether the reference was set."""
    mirror(M)
    if not all_finite(M):
        out[0] = np.nan
        out[1] = np.nan
        return False
    set_ref = dense_extremes(M, track, sym_frob(M) if track else 0.0, V, ref, eig_a, eig_b, eig_p, eig_o)
    out[0] = eig_o[0]
    out[1] = eig_o[1]
    return set_ref


def run_chunk(t0, t1, T, A, B, Wstar, Xr, G, loss_kind, sched, env, tol, divergence, L0, K, active, status,
              nsteps, counters, recS, recP, D0, Dbuf, gAs, gBs, gacc, wref, gV, gref, dacc, dV, dref, trk, nrm,
              track_g, track_d, qpad, cpad, hint_prev, syrk, symv, gesdd):
    """Steps ``t0 .. t1 - 1`` of the run (state t recorded, then the step to t + 1). Returns
    ``(t, done)``: the step it stopped at and whether the run is over (``t == T`` or no seed active).

    ``counters``: [clipped, warm, dense] (int64); ``trk``: [has_ref_g, skip_g, backoff_g, has_ref_d, skip_d,
    backoff_d] (int64), the two trackers' state (grams of the three factors, and D); ``gref`` (3, R, 4) and
    ``dref`` (R, 4): [lam2, lamq1, smax0, fro0] of each reference.

    The certificates' Weyl shifts are bounds accumulated from the steps, not distances formed from stored
    copies of the references (issue 13: no pass over a reference matrix per step): ``dacc`` (R,) bounds
    ``||D(t) - D_ref||_F`` by the sum of the recorded ``||D(s) - D(s-1)||_F`` since the reference (triangle
    inequality; each term enlarged for its own rounding); ``gacc`` (3, R) bounds ``||A(t) - A_ref||_F``,
    ``||B(t) - B_ref||_F`` by the sums of ``eta ||gA||_F (1 + eps)^2 + eps ||A||_F`` (the update's rounding
    included), and the exact products' ``||A(t) B(t)^T - A_ref B_ref^T||_F`` by the sums of
    ``dA (||B|| + dB) + ||A|| dB``; the computed W adds ``gamma_k (||A|| ||B|| + wref)`` (a k-term product's
    rounding, ``wref`` = ``||A_ref||_F ||B_ref||_F``). A bound only shrinks the certified gap: a loose one
    sends a step to the dense route, never a wrong value through. ``nrm`` (R, 2): ``||A||_F^2, ||B||_F^2`` of the
    current state, from the update's own pass (NaN: not known yet)."""
    R, n, k = A.shape
    m = B.shape[1]
    W = np.empty((n, m))
    E = np.empty((n, m))
    XE = np.empty((Xr.shape[1], m))
    Gl = np.empty((n, m))
    chars = np.array([76, 78, 78], dtype=np.uint8)  # "L", "N": in column-major terms C = A A^T, lower; "N" (gesdd)
    ia = np.array([k, n, k, k], dtype=np.int32)
    ib = np.array([k, m, k, k], dtype=np.int32)
    fa = np.array([1.0, 0.0])
    fb = np.array([-1.0, 1.0])
    Ubuf = np.empty((k, 2))
    Vt = np.empty((2, k))
    Ut = np.empty((2, k))
    sints = np.array([k, 1], dtype=np.int32)
    sflts = np.array([1.0, 0.0])
    d3 = np.empty(2)
    gn = np.empty((R, 2))  # ||gA||_F^2, ||gB||_F^2 of this step, per seed
    mv = np.empty(3)
    qe = max(n, m, k)  # work space of extreme_eigvalsh
    eig_a = np.empty(qe)
    eig_b = np.empty(qe)
    eig_p = np.empty(qe)
    eig_o = np.empty(4)
    mn = max(min(n, k), min(m, k), min(n, m))  # sv_extremes' work space for the largest factor
    mx = max(n, m, k)
    sv_a = np.empty(mx * mx)
    sv_s = np.empty(mx)
    sv_ints = np.zeros(7, dtype=np.int32)
    sv_ints[5] = 3 * mn + max(mx, 7 * mn) + 64  # dgesdd's LWORK for JOBZ = 'N', with room
    sv_w = np.empty(sv_ints[5])
    sv_iw = np.empty(8 * mx, dtype=np.int32)
    slack_d = 1.0 + (k * k + 4) * EPS  # a computed norm of a k x k difference
    slack_a = 1.0 + (n * k + 8) * EPS
    slack_b = 1.0 + (m * k + 8) * EPS
    C = np.empty(8)
    dC = np.empty(8)
    out = np.empty(2)
    lo3 = np.empty(3)
    hi3 = np.empty(3)
    low_a = k >= n
    low_b = k >= m
    # untracked Grams of one size (n = m <= k: the batch of issue 13's part (c)): the three at once (gram_dense3)
    q3 = min(n, k)
    three = (not track_g) and min(m, k) == q3 and min(n, m) == q3 and 1 <= q3 <= SMALL_EIG_MAX
    if not three:
        q3 = 1
    G3 = np.empty((3, q3, q3))
    M3 = np.empty((3, q3, q3))
    a3 = np.empty((3, q3))
    b3 = np.empty((3, q3))
    p3 = np.empty((3, q3))
    st3 = np.zeros(3, dtype=np.int64)
    e3 = np.empty((3, 2))
    out3 = np.empty((3, 2))
    x6 = np.empty(6)
    done6 = np.zeros(6, dtype=np.bool_)
    tol3 = np.empty(3)
    for t in range(t0, t1):
        # the two trackers: this step's certificate attempt (ExtremeEigs.__call__'s first branch)
        try_g = False
        if track_g:
            if trk[0] == 0 or qpad < 3 or trk[1] > 0:
                trk[1] = max(trk[1] - 1, 0)
            else:
                try_g = True
        try_d = False
        if track_d:
            if trk[3] == 0 or k < 3 or trk[4] > 0:
                trk[4] = max(trk[4] - 1, 0)
            else:
                try_d = True
        nok_g = 0
        nok_d = 0
        dense_g = False
        dense_d = False
        was = active.copy()
        for r in range(R):
            if not was[r]:
                continue
            Ar = A[r]
            Br = B[r]
            np.dot(Ar, Br.T, W)
            for i in range(n):
                for j in range(m):
                    E[i, j] = W[i, j] - Wstar[r, i, j]
            if loss_kind == 0:
                np.dot(Xr[r], E, XE)
                L = 0.5 * frob2(XE)
                np.dot(G[r], E, Gl)
            else:
                L = 0.5 * frob2(E)
                Gl[:, :] = E
            if L < 0:
                counters[0] += 1
                L = 0.0
            gA = gAs[r]
            gB = gBs[r]
            np.dot(Gl, Br, gA)
            np.dot(Gl.T, Ar, gB)
            ga2 = frob2(gA)
            gb2 = frob2(gB)
            gsq = ga2 + gb2
            a2 = nrm[r, 0] if nrm[r, 0] == nrm[r, 0] else frob2(Ar)
            b2 = nrm[r, 1] if nrm[r, 1] == nrm[r, 1] else frob2(Br)
            nrm[r, 0] = a2
            nrm[r, 1] = b2
            gn[r, 0] = ga2
            gn[r, 1] = gb2
            wfp = np.sqrt(a2 * b2)
            # LocalPL.observe: the reduced imbalance, the spectra, drift
            D = Dbuf[t % 2, r]
            imbalance(syrk, Ar, Br, D, chars, ia, ib, fa, fb)
            if t == 0:
                D0[r] = D
            # ||D - D0||, ||D - D(t-1)|| (drift, drift_step); the latter also bounds D's move from its reference
            sym_diffs(D, D0[r], Dbuf[(t + 1) % 2, r], d3)
            if t > 0:
                dacc[r] = (dacc[r] + d3[1] * slack_d) * (1.0 + 2.0 * EPS)
            if three:
                gram_dense3(Ar if n <= k else Ar.T.copy(), Br if m <= k else Br.T.copy(), W if n <= m else W.T.copy(),
                            low_a, low_b, True, out3, G3, M3, a3, b3, p3, st3, e3, x6, done6, tol3, gesdd, sv_a, sv_s,
                            sv_w, sv_iw, sv_ints, chars, eig_o)
                lo3[0] = nmax(out3[0, 0], 0.0) if low_a else 0.0
                lo3[1] = nmax(out3[1, 0], 0.0) if low_b else 0.0
                lo3[2] = nmax(out3[2, 0], 0.0)
                for f in range(3):
                    hi3[f] = nmax(out3[f, 1], 0.0)
            for f in range(0 if three else 3):
                if f == 0:
                    F = Ar if n <= k else Ar.T.copy()
                    need = low_a
                elif f == 1:
                    F = Br if m <= k else Br.T.copy()
                    need = low_b
                else:
                    F = W if n <= m else W.T.copy()
                    need = True
                ok = False
                if try_g:
                    dn = gacc[f, r] if f < 2 else gacc[2, r] + product_rounding(k, wfp, wref[r])
                    ok = cert_factored(F, dn, gV[f, r], gref[f, r, 0], gref[f, r, 1], gref[f, r, 2],
                                       qpad, cpad, need, out)
                if ok:
                    nok_g += 1
                    counters[1] += 1
                else:
                    if gram_dense(F, need, track_g, gV[f, r], gref[f, r], out, eig_a, eig_b, eig_p, eig_o, gesdd, sv_a,
                                  sv_s, sv_w, sv_iw, sv_ints, chars):
                        dense_g = True
                        counters[2] += 1
                        gacc[f, r] = 0.0
                        if f == 2:
                            wref[r] = wfp
                lo3[f] = nmax(out[0], 0.0) if need else 0.0
                hi3[f] = nmax(out[1], 0.0)
            if k == 0:
                dlo = 0.0
                dhi = 0.0
            else:
                ok = False
                if try_d:
                    ok = cert_sym(D, dacc[r], dV[r], dref[r, 0], dref[r, 1], dref[r, 3], Ubuf, out, symv, Vt, Ut,
                                  sints, sflts, chars)
                if ok:
                    nok_d += 1
                    counters[1] += 1
                else:
                    if sym_dense(D, track_d, dV[r], dref[r], out, eig_a, eig_b, eig_p, eig_o):
                        dense_d = True
                        counters[2] += 1
                        dacc[r] = 0.0
                dlo = out[0]
                dhi = out[1]
            gln = np.sqrt(frob2(Gl))
            s1min = lo3[0] if low_a else 0.0
            s2min = lo3[1] if low_b else 0.0
            swmax = np.sqrt(hi3[2])
            swmin = np.sqrt(lo3[2])
            wf = np.sqrt(frob2(W))
            ldd = nmax(dhi, 0.0)
            lnd = nmax(-dlo, 0.0)
            recS[R_LOSS, r, t] = L
            recS[R_GSQ, r, t] = gsq
            recS[R_S1MIN, r, t] = s1min
            recS[R_S1MAX, r, t] = hi3[0]
            recS[R_S2MIN, r, t] = s2min
            recS[R_S2MAX, r, t] = hi3[1]
            recS[R_SWMIN, r, t] = swmin
            recS[R_SWMAX, r, t] = swmax
            recS[R_LD, r, t] = ldd
            recS[R_LND, r, t] = lnd
            recS[R_DRIFT, r, t] = d3[0] if t > 0 else 0.0
            recS[R_GLN, r, t] = gln
            recS[R_WF, r, t] = wf
            recS[R_WFP, r, t] = wfp
            if t > 0:
                recP[P_DSTEP, r, t - 1] = d3[1]
            # the engine's stopping rules (engine.run), in its order: zero_loss, non_finite, diverged, converged
            if t == 0:
                delta = 64 * EPS * wfp
                at_min = L <= np.sqrt(2 * K[r] * L) * delta + 0.5 * K[r] * delta ** 2
            else:
                at_min = False
            zero = (L0[r] <= 0) or at_min
            fin = np.isfinite(L)
            if zero:
                st = ST_ZERO
            elif not fin:
                st = ST_NONFIN
            elif L > divergence * L0[r]:
                st = ST_DIV
            elif L <= tol * L0[r]:
                st = ST_CONV
            else:
                st = -1
            if st >= 0:
                status[r] = st
                nsteps[r] = t
                active[r] = False
            # what the schedule looks at (LocalPL.schedule_env)
            env[r, S_L_t] = L
            env[r, S_t] = float(t)
            env[r, S_s1_min_sq] = s1min
            env[r, S_s1_max_sq] = hi3[0]
            env[r, S_s2_min_sq] = s2min
            env[r, S_s2_max_sq] = hi3[1]
            env[r, S_sigma_max_W] = swmax
            env[r, S_sigma_min_W] = swmin
            env[r, S_W_fro] = wf
            env[r, S_lambda_max_D] = ldd
            env[r, S_lambda_max_negD] = lnd
            env[r, S_grad_l_norm] = gln
        # ExtremeEigs' back-off: after a call that certified nothing, skip the next calls (doubling)
        if try_g:
            trk[2] = 0 if nok_g > 0 else min(2 * trk[2] if trk[2] > 0 else 1, MAX_SKIP)
            trk[1] = trk[2]
        if try_d:
            trk[5] = 0 if nok_d > 0 else min(2 * trk[5] if trk[5] > 0 else 1, MAX_SKIP)
            trk[4] = trk[5]
        if dense_g:
            trk[0] = 1
        if dense_d:
            trk[3] = 1
        any_active = False
        for r in range(R):
            if active[r]:
                any_active = True
        if t == T or not any_active:
            return t, True
        for r in range(R):
            if not was[r]:
                continue
            if active[r]:
                eta = schedule_eta(sched, env[r], C, dC, hint_prev, r)
                recP[P_ETA, r, t] = eta
            else:
                eta = 0.0
            # the references' distance bounds (run_chunk's docstring), from state t's norms and this step
            move_bounds(eta, gn[r, 0], gn[r, 1], nrm[r, 0], nrm[r, 1], slack_a, slack_b, mv)
            for f in range(3):
                gacc[f, r] = (gacc[f, r] + mv[f]) * (1.0 + 2.0 * EPS)
            nrm[r, 0] = axpy_step(A[r], gAs[r], eta)
            nrm[r, 1] = axpy_step(B[r], gBs[r], eta)
    return t1, False


def schedule_eta(sched, env, C, dC, hint_prev, r):
    """The schedule's step (schedules.Constant / Adaptive / Local) from the step context ``env`` (one seed)."""
    if sched == 0:  # constant: eta0
        return env[S_eta0]
    if sched == 1:  # adaptive: needs sigma_max_T_sq, growth_cap, eta_hat; eq. (19) with rho
        env[S_sigma_max_T_sq] = need_sigma_max_T_sq(env)
        env[S_growth_cap] = need_growth_cap(env)
        deg = poly_eta_hat(env, C)
        signed_coeffs(C, deg)
        hat = convex_root(C, deg, hint_prev[r] * 1.01, dC)
        hint_prev[r] = hat
        env[S_eta_hat] = hat
        return nmax(env[S_eta0], nmin(env[S_growth_cap], hat))
    # local: needs sigma_max_T_sq; the root of eta_local
    env[S_sigma_max_T_sq] = need_sigma_max_T_sq(env)
    deg = poly_eta_local(env, C)
    signed_coeffs(C, deg)
    return convex_root(C, deg, np.nan, dC)
