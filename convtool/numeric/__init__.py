"""Numeric layer: losses, spectra from small Gram matrices, bracketed solvers, data, GD.

Nothing here prints; results are dataclasses with ``to_dict()``.
"""
