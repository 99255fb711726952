"""The ``sipas`` command.

Every sub-command is a thin wrapper over a package function; a :class:`SipasError`
(a user's mistake) prints its message and exits with code 2, never a traceback.
"""

from __future__ import annotations

import sys

import click

from .errors import SipasError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sipas")
def cli() -> None:
    """SIPAS: reproducible satisfaction-index reports from survey microdata."""


@cli.command("demo-data")
@click.option("--year", "years", type=int, multiple=True, required=True, help="Survey year (repeatable).")
@click.option("--seed", type=int, default=None, help="Random seed (default: fixed per year).")
def demo_data(years: tuple[int, ...], seed: int | None) -> None:
    """Generate the seeded demo survey files into data/raw/<year>/."""
    from .demo import write_demo_data

    for year in years:
        for path in write_demo_data(year, seed=seed):
            click.echo(f"wrote {path}")


@cli.command("validate")
@click.option("--year", type=int, required=True)
@click.option("--input", "inputs", type=click.Path(), multiple=True,
              help="Raw file(s) to read (default: every file under data/raw/<year>/).")
def validate(year: int, inputs: tuple[str, ...]) -> None:
    """Read, map and validate a year's raw files into data/processed/<year>/."""
    from .intake import run_intake

    result = run_intake(year, inputs=list(inputs) or None)
    click.echo(result.summary())


@cli.command("estimate")
@click.option("--year", type=int, required=True)
def estimate(year: int) -> None:
    """Compute the tidy result tables into outputs/<year>/tables/."""
    from .tables import write_tables

    for path in write_tables(year):
        click.echo(f"wrote {path}")


@cli.command("run")
@click.option("--year", "years", type=int, multiple=True, required=True, help="Year (repeatable).")
@click.option("--unit", "units", multiple=True, help="Only these unit ids (repeatable); default: all.")
@click.option("--jobs", type=int, default=None, help="Parallel workers (default: number of cores).")
def run(years: tuple[int, ...], units: tuple[str, ...], jobs: int | None) -> None:
    """Estimate, execute the notebooks with papermill and render the HTML annexes."""
    from .batch import run_years

    failed = run_years(list(years), units=list(units) or None, jobs=jobs)
    if failed:
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="sipas", standalone_mode=False)
    except SipasError as exc:
        click.echo(f"Lỗi / Error: {exc.render()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
