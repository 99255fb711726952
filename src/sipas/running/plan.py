"""The annexes of a year: which notebook, which parameters, which files (:func:`plan`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sipas.base.codebook import YearConfig
from sipas.base.errors import SipasError

UNIT_NOTEBOOK = "unit_annex.ipynb"
PROVINCE_NOTEBOOK = "province_report.ipynb"
PROVINCE_TASK = "province"
FORMATS = ("html", "pdf", "xlsx", "docx")
DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True)
class Annex:
    """One annex of a year: which notebook, which parameters, which files."""

    year: int
    name: str  # unit id, or "province"
    title: str
    notebook: Path
    parameters: dict
    html: Path
    executed: Path
    unit_type: str | None = None

    @property
    def pdf(self) -> Path:
        return self.html.with_suffix(".pdf")


def plan(cfg: YearConfig, units: list[str] | None = None) -> list[Annex]:
    """The annexes of a year (province report first, then units in registry order)."""
    p = cfg.paths
    known = [u.id for u in cfg.units]
    wanted = units or known
    unknown = [u for u in wanted if u not in known and u != PROVINCE_TASK]
    if unknown:
        raise SipasError(f"unknown unit id(s) for {cfg.year}: {', '.join(unknown)}",
                         file=p.params / "units" / f"{cfg.year}.yaml",
                         hint=f"known ids: {', '.join(known)}")
    out = p.outputs(cfg.year)
    root = str(p.root)
    annexes = [Annex(cfg.year, PROVINCE_TASK, f"Báo cáo toàn tỉnh {cfg.settings.province} năm {cfg.year}",
                     p.notebooks / PROVINCE_NOTEBOOK, {"year": cfg.year, "root": root},
                     out / "province.html", out / "notebooks" / "province.ipynb")]
    for u in cfg.units:
        if u.id in wanted:
            annexes.append(Annex(cfg.year, u.id, f"{u.name} — năm {cfg.year}", p.notebooks / UNIT_NOTEBOOK,
                                 {"year": cfg.year, "unit_id": u.id, "root": root},
                                 out / "units" / f"{u.id}.html", out / "notebooks" / f"{u.id}.ipynb", u.type))
    for nb in {a.notebook for a in annexes}:
        if not nb.is_file():
            raise SipasError("notebook not found", file=nb, hint="restore it from the repository (git checkout)")
    return annexes
