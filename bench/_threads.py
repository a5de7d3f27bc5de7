"""Pin the BLAS thread count before numpy is imported (shared by the bench scripts).

``--threads N`` on a bench script's command line sets ``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` (default 1). On the 2-core development
machine, shared with other jobs, 2 BLAS threads gave per-step times with a heavy tail
(mean up to 10x the median); one thread gave stable ones.
"""

import os
import sys


def pin_blas_threads(argv=None) -> str:
    """Set the BLAS thread count from ``argv`` (default ``sys.argv[1:]``); returns it."""
    argv = sys.argv[1:] if argv is None else argv
    n = "1"
    for i, a in enumerate(argv):
        if a.startswith("--threads="):
            n = a.split("=", 1)[1]
        elif a == "--threads" and i + 1 < len(argv):
            n = argv[i + 1]
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = n
    return n
