"""``convtool generate``: the paper's synthetic instances (Figs. 1, 3, 4) as ``.npz`` files."""

from __future__ import annotations

import click

from convtool.cli.errors import ConvtoolInputError, handle_user_errors
from convtool.cli.options import GENERATOR_CHOICES

#: deep-linear generators (kept in step with convtool.numeric.generators.DLN_GENERATORS by a test)
DLN_GENERATOR_CHOICES = ("zhao-xu", "song-et-al")
#: linear-ResNet generators (kept in step with convtool.numeric.generators.RESNET_GENERATORS by a test)
RESNET_GENERATOR_CHOICES = ("zou-long-gu",)
#: mlp generators (kept in step with convtool.numeric.generators.MLP_GENERATORS by a test)
MLP_GENERATOR_CHOICES = ("du-hu-lee-fig2", "du-hu-lee-mf")

__all__ = ["generate", "GENERATOR_CHOICES"]


@click.command("generate")
@click.argument("figure", type=click.Choice(GENERATOR_CHOICES + DLN_GENERATOR_CHOICES + RESNET_GENERATOR_CHOICES
                                          + MLP_GENERATOR_CHOICES))
@click.option("-o", "--output", "--out", "output", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="The .npz file to write (--out as in the other commands).")
@click.option("--n", "n", type=int, default=None, help="Input (and output) dimension n [generator's default].")
@click.option("--h", "--width", "h", type=int, default=None,
              help="Hidden width h (song-et-al: of the teacher) [generator's default]; --width as in the other "
                   "commands.")
@click.option("--sigma", type=float, default=None,
              help="Noise level sigma of Y (fig1, zhao-xu, zou-long-gu) [generator's default].")
@click.option("--p", "p", type=float, default=None, help="Init scale exponent, std h^(-p) (fig3) [default 0.375].")
@click.option("--seed", type=int, default=None, help="Random seed [0].")
@click.option("--d", "d", type=int, default=None,
              help="Input dimension d (zhao-xu [128], song-et-al [10], du-hu-lee-fig2 [1000]; zou-long-gu: d = k [10]).")
@click.option("--M", "M", type=int, default=None,
              help="Number of samples M (zhao-xu [1000], zou-long-gu [1000], song-et-al [50], du-hu-lee-fig2 [1000]).")
@click.option("--k", "k", type=int, default=None,
              help="Output dimension k (zhao-xu [10], song-et-al [1], du-hu-lee-fig2 [10]).")
@click.option("--variant", type=click.Choice(("balanced", "unbalanced")), default=None,
              help="du-hu-lee-fig2: the Section 4 balanced or unbalanced init variances [balanced].")
@handle_user_errors
def generate(figure, output, **params):
    """Write the synthetic instance of FIGURE (arrays X, Y, W1, W2) to an .npz file.

    \b
    Parameters by figure (defaults):
      fig1: --n 10 --h 500 --sigma 1.0 --seed 0   (Fig. 1/2: X orthogonal, Y = X W1 W2^T + sigma^2 eps)
      fig3: --p 0.375 --h 1000 --n 10 --seed 0     (Fig. 3: init N(0, h^(-2p)))
      fig4: --h 1000 --n 5 --seed 0                (Fig. 4: init N(0, 1/h))
      zhao-xu: --d 128 --M 1000 --k 10 --sigma 1 --seed 0
                                                   (Zhao & Xu App. G: X, Y only; samples as rows)
      song-et-al: --d 10 --M 50 --k 1 --h 50 --seed 0
                                                   (Song et al.: unit-norm X, GeLU teacher, ||Y||_F = 1;
                                                   MNIST of Section 6 is not available offline)
      zou-long-gu: --d 10 --M 1000 --sigma 0.1 --seed 0
                                                   (Zou, Long & Gu Sec. 5: Y = -X + 0.1 E; rows)
      du-hu-lee-fig2: --d 1000 --M 1000 --h 100 --k 10 --variant balanced --seed 0
                                                   (Du, Hu & Lee Sec. 4: X, Y, W1, W2, W3 of a 3-layer ReLU net)
      du-hu-lee-mf: --n 10 --seed 0                (Du, Hu & Lee Thm. 3.1: Y = M* (10 x 8, rank 3, ||M*||_F = 1),
                                                   small W1, W2 of width 3; use --loss factorization)

    \b
    Example:
      $ convtool generate fig1 --h 1000 -o fig1.npz && convtool constants fig1.npz
    """
    import inspect

    from convtool.cli.options import check_output_paths
    from convtool.numeric.data import save_arrays
    from convtool.numeric.generators import DLN_GENERATORS, GENERATORS, MLP_GENERATORS, RESNET_GENERATORS

    check_output_paths(output=output)
    gen = {**GENERATORS, **DLN_GENERATORS, **RESNET_GENERATORS, **MLP_GENERATORS}[figure]
    sig = inspect.signature(gen)
    given = {k: v for k, v in params.items() if v is not None}
    extra = [k for k in given if k not in sig.parameters]
    if extra:
        takes = ", ".join(f"--{k}" for k in sig.parameters)
        raise ConvtoolInputError(f"{figure} takes {takes}; not {', '.join('--' + k for k in extra)}")
    bound = sig.bind(**given)
    bound.apply_defaults()
    try:
        arrays = gen(**given)
    except ValueError as exc:  # the generators reject bad parameters with ValueError (InputError included)
        raise ConvtoolInputError(f"{figure}: {exc}") from exc
    save_arrays(output, arrays)
    settings = ", ".join(f"{k}={v}" for k, v in bound.arguments.items())
    shapes = ", ".join(f"{k} {tuple(a.shape)}" for k, a in arrays.items())
    click.echo(f"wrote {output}: {figure}({settings}) with {shapes}")
