"""Command-line interface: ``convtool constants | explain | generate``.

Layout
------
* :mod:`convtool.cli.main` -- the ``cli`` group; it only assembles the commands
  and defines ``--version``.
* ``cmd_<name>.py`` -- one module per command; each body parses, calls one
  library function and hands the result to a renderer.
* :mod:`convtool.cli.options` -- shared option decorators (``data_argument``,
  ``instance_options``, ``theory_options``, ``save_init_option``) and
  :func:`~convtool.cli.options.instance_from_options`.
* :mod:`convtool.cli.render` -- result objects to rich renderables; prints nothing.
* :mod:`convtool.cli.console` -- the stdout/stderr consoles and warning reporting.
* :mod:`convtool.cli.errors` -- :class:`~convtool.cli.errors.ConvtoolInputError`
  (one line, exit status 2).

Nothing heavy (numpy, sympy, scipy, networkx, rich) is imported at module level
outside ``render.py``, so ``convtool --help`` and ``--version`` stay fast.
"""
