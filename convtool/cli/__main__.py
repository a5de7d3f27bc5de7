"""``python -m convtool.cli`` runs the ``convtool`` command."""

from convtool.cli.main import cli

if __name__ == "__main__":  # pragma: no cover
    cli(prog_name="convtool")
