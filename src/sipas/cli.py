"""The ``sipas`` command.

Every sub-command is a thin wrapper over a package function; a :class:`SipasError`
(a user's mistake) prints its message and exits with code 2, never a traceback.
"""

from __future__ import annotations

import os
import sys

import click

from sipas.base.errors import SipasError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sipas")
def cli() -> None:
    """SIPAS: reproducible satisfaction-index reports from survey microdata."""


@cli.command("demo-data")
@click.option("--year", "years", type=int, multiple=True, required=True, help="Survey year (repeatable).")
@click.option("--seed", type=int, default=None, help="Random seed (default: fixed per year).")
@click.option("--national", is_flag=True,
              help="Many provinces (params/demo.yaml `national`): one project per province "
                   "under data/national/<year>/<province>/, for measuring scale.")
@click.option("--provinces", type=int, default=None, help="With --national: only the first K provinces.")
def demo_data(years: tuple[int, ...], seed: int | None, national: bool, provinces: int | None) -> None:
    """Generate the seeded demo survey files into data/raw/<year>/."""
    from sipas.demo import write_demo_data, write_national_demo

    for year in years:
        written = (write_national_demo(year, provinces=provinces, seed=seed) if national
                   else write_demo_data(year, seed=seed))
        for path in written:
            click.echo(f"wrote {path}")


@cli.command("validate")
@click.option("--year", type=int, required=True)
@click.option("--input", "inputs", type=click.Path(), multiple=True,
              help="Raw file(s) to read (default: every file under data/raw/<year>/).")
@click.option("--xlsform", type=click.Path(), default=None,
              help="The XLSForm of a KoboToolbox/ODK export, to map its question and choice names "
                   "(default: an XLSForm found among the raw files).")
def validate(year: int, inputs: tuple[str, ...], xlsform: str | None) -> None:
    """Read, map and validate a year's raw files into data/processed/<year>/."""
    from sipas.intake import run_intake

    result = run_intake(year, inputs=list(inputs) or None, xlsform=xlsform)
    click.echo(result.summary())


@cli.command("xlsform")
@click.option("--method", "method_id", required=True, help="Methodology id, e.g. sipas-2017.")
@click.option("--year", type=int, default=None, help="Offer the units of this year's registry as choices.")
@click.option("--output", type=click.Path(), default=None,
              help="Where to write the form (default: outputs/xlsform/<method>.xlsx).")
def xlsform(method_id: str, year: int | None, output: str | None) -> None:
    """Write the methodology's questionnaire as an XLSForm for KoboToolbox / ODK."""
    from pathlib import Path

    from sipas.base.codebook import load_fields, load_methodology, load_registry
    from sipas.base.config import paths
    from sipas.intake.channels import xlsform_bytes

    p = paths()
    units = load_registry(year, p).units if year else None
    data = xlsform_bytes(load_methodology(method_id, p), load_fields(p), units)
    out = Path(output) if output else p.outputs() / "xlsform" / f"{method_id}.xlsx"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    click.echo(f"wrote {out}")


@cli.command("estimate")
@click.option("--year", type=int, required=True)
def estimate(year: int) -> None:
    """Compute the tidy result tables into outputs/<year>/tables/."""
    from sipas.estimation.tables import write_tables

    for path in write_tables(year):
        click.echo(f"wrote {path}")


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for value in values for v in str(value).split(",") if v.strip()]


def _years(values: tuple[str, ...]) -> list[int]:
    out = []
    for v in _split(values):
        try:
            out.append(int(v))
        except ValueError:
            raise click.BadParameter(f"'{v}' is not a year", param_hint="--year") from None
    return out


@cli.command("run")
@click.option("--year", "years", multiple=True, required=True,
              help="Year (repeatable, or comma separated: --year 2022,2023).")
@click.option("--unit", "units", multiple=True,
              help="Only these unit ids (repeatable or comma separated); default: all. The province report is always built.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Parallel workers (default: number of cores).")
@click.option("--formats", default="html", show_default=True,
              help="Comma separated: html, pdf, xlsx, docx (html is always built; docx: the official Word documents, with pdf their PDF too).")
@click.option("--force", is_flag=True, help="Rebuild everything, even what is up to date.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: worker processes on this machine; dask: a Dask distributed cluster.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Address of a running Dask scheduler (with --executor dask); default: start a local cluster.")
@click.option("--timeout", type=click.FloatRange(min=1), default=600, show_default=True,
              help="Seconds one notebook may take before it is stopped and reported as failed.")
@click.option("--provinces", "provinces_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Run every province project under DIR (e.g. data/national/2025) as one batch and write "
                   "the national front door DIR/index.html (one --year).")
@click.option("--province", "province_ids", multiple=True,
              help="With --provinces: only these province ids (repeatable or comma separated).")
@click.option("--watch", is_flag=True,
              help="Keep the workers warm and run again whenever data/processed, params or a notebook "
                   "changes; a changed field file in data/raw/<year>/ runs that year's intake first "
                   "(Ctrl-C to stop).")
def run(years: tuple[str, ...], units: tuple[str, ...], jobs: int | None, formats: str, force: bool,
        executor: str, scheduler: str | None, timeout: float, provinces_dir: str | None,
        province_ids: tuple[str, ...], watch: bool) -> None:
    """Estimate, execute the notebooks in warm kernels and write the annexes (incremental).

    Only what changed since the last run is rebuilt (see outputs/<year>/manifest.json);
    exit code 0 only when every requested artefact was produced.
    """
    from sipas.running.batch import run_years
    from sipas.running.plan import FORMATS
    from sipas.running.watch import watch_years

    fmts = [f.lower() for f in _split((formats,))]
    bad = [f for f in fmts if f not in FORMATS]
    if bad:
        raise click.BadParameter(f"unknown format(s) {', '.join(bad)}; choose among {', '.join(FORMATS)}",
                                 param_hint="--formats")
    if scheduler and executor != "dask":
        raise click.BadParameter("--scheduler needs --executor dask", param_hint="--scheduler")
    options = dict(units=_split(units) or None, jobs=jobs, formats=fmts, force=force, executor=executor,
                   scheduler=scheduler, timeout=timeout)
    if provinces_dir or province_ids:
        sys.exit(_run_provinces(provinces_dir, _years(years), units, province_ids, watch, options))
    if watch:
        sys.exit(watch_years(_years(years), **options))
    if run_years(_years(years), **options):
        sys.exit(1)


def _run_provinces(folder: str | None, years: list[int], units, province_ids, watch: bool, options: dict) -> int:
    from sipas.running.national import run_provinces

    if not folder:
        raise click.BadParameter("--province needs --provinces DIR", param_hint="--province")
    if len(years) != 1:
        raise click.BadParameter("a national run takes one year", param_hint="--year")
    if units or watch:
        raise click.BadParameter("not with --provinces", param_hint="--unit" if units else "--watch")
    options = {k: v for k, v in options.items() if k != "units"}
    return 1 if run_provinces(folder, years[0], _split(province_ids) or None, **options) else 0


@cli.command("release")
@click.option("--year", type=int, required=True, help="The year to release (needs params/release/<year>.yaml).")
@click.option("--reason", default=None, help="Why a corrected re-release changes figures (required from v2 on).")
def release(year: int, reason: str | None) -> None:
    """Freeze the year's published set as the issued decision: outputs/<year>/release/v<N>/
    with the numbered Word/PDF documents, SHA256SUMS and the manifest (never overwritten)."""
    from sipas.base.config import paths
    from sipas.publishing.official.release import release as do_release
    from sipas.running.release_check import code_or_params_changed

    p = paths()
    r = do_release(p, year, reason=reason, extra_stale=code_or_params_changed(p, year))
    if r.created:
        more = f", errata: {r.errata} figures changed" if r.errata else ""
        click.echo(f"released {year} as {r.version}: {r.folder} ({r.files} files{more})")
    else:
        click.echo(f"{year} is already released as {r.version} and nothing changed since: {r.folder} (untouched)")


def main(argv: list[str] | None = None) -> None:
    # one BLAS thread per process (before numpy loads), as on Dask workers: every
    # command writes the same last bits whatever the executor, and parallel workers do
    # not oversubscribe the cores
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from sipas.running.fastimport import skip_slow_optional_imports

    skip_slow_optional_imports()
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
