"""Settings of the official documents, read from ``params/``.

* ``params/official.yaml``: the issuing body, the threshold of the "at or above" list and
  the Ministry's national SIPAS figures for the province (with their source);
* ``params/release/<year>.yaml``: the decision's number, date and signer. Until it gives
  all three the documents of that year are drafts (DỰ THẢO).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from sipas.base.codebook import _parse, _read_yaml
from sipas.base.config import Paths
from sipas.base.errors import ConfigError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class National(_Model):
    year: int
    sipas: float = Field(gt=0, lt=1)
    rank: int = Field(ge=1)
    of: int = Field(ge=1)
    source: str


class Official(_Model):
    issuing_body: str = "ỦY BAN NHÂN DÂN TỈNH LAI CHÂU"
    issuing_body_short: str = "UBND tỉnh Lai Châu"
    authority: str = "Ủy ban nhân dân tỉnh Lai Châu"
    place: str = "Lai Châu"
    threshold: float = Field(0.90, gt=0, le=1)
    national: list[National] = []
    national_note: str = ""


class Signer(_Model):
    title: str
    name: str
    on_behalf: str = ""


class Release(_Model):
    year: int
    number: str
    date: dt.date
    signer: Signer
    document_code: str = "QĐ-UBND"


def load_official(p: Paths) -> Official:
    path = p.params / "official.yaml"
    if not path.is_file():
        return Official()
    return _parse(Official, _read_yaml(path), path)


def release_path(p: Paths, year: int):
    return p.params / "release" / f"{year}.yaml"


def load_release(p: Paths, year: int) -> Release | None:
    """The decision of the year, or None while it is a draft (no file)."""
    path = release_path(p, year)
    if not path.is_file():
        return None
    rel = _parse(Release, _read_yaml(path), path)
    if rel.year != year:
        raise ConfigError(f"file says year {rel.year}", file=path, key="year", hint=f"expected {year}")
    return rel


def national_for(off: Official, year: int) -> National | None:
    """The latest national figure published for ``year`` or before."""
    known = [n for n in off.national if n.year <= year]
    return max(known, key=lambda n: n.year) if known else None
