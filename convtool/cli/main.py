"""The ``convtool`` command group (console script ``convtool = convtool.cli.main:cli``).

The group only assembles: each command lives in its own ``cmd_<name>.py``
module, named in :data:`COMMANDS` and imported only when that command runs
(click's "lazy loading subcommands" pattern; ``convtool --help`` imports them all
for their one-line help). To add a command, write ``cmd_<name>.py`` with a
``click.command`` that uses the shared decorators of
:mod:`convtool.cli.options` and :func:`~convtool.cli.errors.handle_user_errors`,
import heavy modules inside its body, and add it to :data:`COMMANDS`.

Importing this module imports click and convtool's light modules only (no
numpy, sympy, scipy, networkx or rich), so ``--help`` and ``--version`` are fast.
"""

from __future__ import annotations

import click

from convtool import __version__

__all__ = ["cli", "COMMANDS"]

#: command name -> "module:attribute" of its click command, imported when the command is looked up
COMMANDS = {name: f"convtool.cli.cmd_{name}:{name}" for name in (
    "constants", "explain", "generate", "run", "schedule", "compare", "widths", "stress", "sweep", "show")}


class OneLineGroup(click.Group):
    """The command group, with click's own usage errors on one line as well.

    click prints a usage error as three lines (Usage, Try, Error); convtool promises one
    ``Error: ...`` line with exit status 2 for every kind of bad input, so the group runs
    click in non-standalone mode and prints the error itself, naming the ``--help`` to try.
    Everything else (``--help``, ``--version``, Ctrl-C, a closed pipe) behaves as in click.
    """

    def list_commands(self, ctx):
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            import importlib

            module, attr = COMMANDS[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return self.commands.get(cmd_name)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        import sys

        # the command line as given, for the provenance of saved files and --json (convtool.cli.options.provenance_of)
        OneLineGroup.argv = ["convtool", *(sys.argv[1:] if args is None else list(args))]
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)

        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else (prog_name or "convtool")
            text = " ".join(exc.format_message().split())
            click.echo(f"Error: {text} (see '{where} --help')", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=OneLineGroup, context_settings={"max_content_width": 100, "help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="convtool", message="%(prog)s %(version)s")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars and no 'saved ...' notes on stderr "
              "(warnings and errors still show).")
@click.pass_context
def cli(ctx, quiet):
    """Convergence constants of gradient descent on overparameterized models.

    Constants, step sizes and rates of five papers' theorems for an instance
    given as an .npz file, GD runs with the theories checked per step, and
    sweeps: --model two-layer (local-PL paper, the default), deep-linear (Zhao
    & Xu), resnet (Zou, Long & Gu), mlp (Du, Hu & Lee's balancedness, also on
    the other models) and shallow (Song et al.). Tables go to stdout, warnings
    to stderr; bad input gives one "Error:" line and exit status 2.
    """
    ctx.meta["convtool_quiet"] = bool(quiet)



if __name__ == "__main__":  # pragma: no cover
    cli(prog_name="convtool")
