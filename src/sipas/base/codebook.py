"""Methodology, fields, units and settings: YAML under ``params/``, loaded into
typed, validated objects.

Nothing about a questionnaire is hard-coded in the package: elements, criteria, scales,
which codes count as satisfied, how indices aggregate, the units of a year and their
sampling design all come from these files (see ``params/README.md``).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sipas.base.config import Paths
from sipas.base.config import paths as default_paths
from sipas.base.designs import HouseholdDesign
from sipas.base.errors import ConfigError


def nfc(text: str) -> str:
    """Unicode NFC form: the one form Vietnamese text takes everywhere in the project."""
    return unicodedata.normalize("NFC", text)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- scales


class Code(_Model):
    code: int
    label: str
    aliases: list[str] = []


class Scale(_Model):
    label: str
    values: list[Code]
    positive: list[int]
    negative: list[int] = []
    missing: list[Code] = []

    @model_validator(mode="after")
    def _check(self) -> Scale:
        valid = {c.code for c in self.values}
        for name in ("positive", "negative"):
            extra = set(getattr(self, name)) - valid
            if extra:
                raise ValueError(f"{name} codes {sorted(extra)} are not among the scale's values {sorted(valid)}")
        clash = valid & {c.code for c in self.missing}
        if clash:
            raise ValueError(f"codes {sorted(clash)} are both valid and missing")
        return self

    @property
    def valid_codes(self) -> list[int]:
        return [c.code for c in self.values]

    @property
    def missing_codes(self) -> list[int]:
        return [c.code for c in self.missing]

    def label_of(self, code: int) -> str:
        for c in (*self.values, *self.missing):
            if c.code == code:
                return c.label
        raise KeyError(code)


# ------------------------------------------------------------------ questionnaire


class Criterion(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    aliases: list[str] = []
    scale: str | None = None


class Element(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    short_label: str | None = None  # for table headers and chart axes; defaults to label
    aspect: str | None = None
    criteria: list[Criterion] = Field(min_length=1)


class Aspect(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    short_label: str | None = None


class Aggregation(_Model):
    criterion: Literal["share_positive"] = "share_positive"
    element: Literal["mean"] = "mean"
    aspect: Literal["mean"] = "mean"
    index: Literal["mean"] = "mean"


class Category(_Model):
    code: str
    label: str
    aliases: list[str] = []


class Variable(_Model):
    """A profile, admin or personal column of the questionnaire."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    aliases: list[str] = []
    type: Literal["category", "integer", "text", "date"] = "text"
    categories: list[Category] = []
    min: int | None = None
    max: int | None = None
    required: bool = False
    positive: list[str] = []  # category codes that count as a positive perception

    @model_validator(mode="before")
    @classmethod
    def _infer_type(cls, data):
        if isinstance(data, dict) and data.get("categories") and "type" not in data:
            data = {**data, "type": "category"}
        return data

    @model_validator(mode="after")
    def _check(self) -> Variable:
        if self.type == "category" and not self.categories:
            raise ValueError(f"variable '{self.id}' is a category but lists no categories")
        extra = set(self.positive) - {c.code for c in self.categories}
        if extra:
            raise ValueError(f"variable '{self.id}': positive codes {sorted(extra)} are not among its categories")
        return self

    def label_of(self, code: str) -> str:
        for c in self.categories:
            if c.code == code:
                return c.label
        raise KeyError(code)


class Item(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    aliases: list[str] = []


class Expectations(_Model):
    """Improvement priorities: multiple choice (no ``categories``: each item chosen or
    not), or each item rated on ``categories`` with ``top`` the codes that count."""

    label: str
    items: list[Item]
    categories: list[Category] = []
    top: list[str] = []

    @model_validator(mode="after")
    def _check(self) -> Expectations:
        if bool(self.categories) != bool(self.top):
            raise ValueError("expectations: give both `categories` and `top`, or neither (multiple choice)")
        extra = set(self.top) - {c.code for c in self.categories}
        if extra:
            raise ValueError(f"expectations: top codes {sorted(extra)} are not among the categories")
        return self

    @property
    def rated(self) -> bool:
        return bool(self.categories)


class Methodology(_Model):
    id: str
    title: str
    short_title: str
    index_label: str
    scales: dict[str, Scale]
    default_scale: str
    aspects: list[Aspect] = []
    elements: list[Element] = Field(min_length=1)
    aggregation: Aggregation = Aggregation()
    perceptions: list[Variable] = []
    profile: list[Variable] = []
    expectations: Expectations | None = None
    comment: Variable | None = None

    @model_validator(mode="after")
    def _check(self) -> Methodology:
        if self.default_scale not in self.scales:
            raise ValueError(f"default_scale '{self.default_scale}' is not one of the scales {sorted(self.scales)}")
        ids: list[str] = [e.id for e in self.elements] + [a.id for a in self.aspects]
        ids += [c.id for e in self.elements for c in e.criteria]
        ids += [v.id for v in self.profile] + [v.id for v in self.perceptions]
        if self.expectations:
            ids += [i.id for i in self.expectations.items]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"ids used more than once: {dup}")
        aspect_ids = {a.id for a in self.aspects}
        for e in self.elements:
            for c in e.criteria:
                if c.scale and c.scale not in self.scales:
                    raise ValueError(f"criterion '{c.id}' uses unknown scale '{c.scale}'")
            if aspect_ids and e.aspect not in aspect_ids:
                raise ValueError(f"element '{e.id}' must name one of the aspects {sorted(aspect_ids)}")
            if not aspect_ids and e.aspect:
                raise ValueError(f"element '{e.id}' names aspect '{e.aspect}' but no aspects are defined")
        return self

    @property
    def criteria(self) -> list[Criterion]:
        return [c for e in self.elements for c in e.criteria]

    @property
    def criterion_ids(self) -> list[str]:
        return [c.id for c in self.criteria]

    def scale_of(self, criterion: str | Criterion) -> Scale:
        c = criterion if isinstance(criterion, Criterion) else self.criterion(criterion)
        return self.scales[c.scale or self.default_scale]

    def criterion(self, cid: str) -> Criterion:
        for c in self.criteria:
            if c.id == cid:
                return c
        raise KeyError(cid)

    def element_of(self, cid: str) -> Element:
        for e in self.elements:
            if any(c.id == cid for c in e.criteria):
                return e
        raise KeyError(cid)

    def profile_var(self, vid: str) -> Variable:
        for v in self.profile:
            if v.id == vid:
                return v
        raise KeyError(vid)

    def labels(self) -> dict[str, str]:
        """Vietnamese label of every element, aspect and criterion id, and the index."""
        out = {a.id: a.label for a in self.aspects}
        for e in self.elements:
            out[e.id] = e.label
            out.update({c.id: c.label for c in e.criteria})
        out["sipas"] = self.index_label
        return out

    def short_labels(self) -> dict[str, str]:
        """Short label of every element and aspect (falls back to the label)."""
        return {x.id: x.short_label or x.label for x in (*self.aspects, *self.elements)}


class Fields(_Model):
    admin: list[Variable]
    personal: list[Variable] = []


# ------------------------------------------------------------------------ years


class Unit(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    type: str
    served: int = Field(gt=0)
    communes: list[str] = []
    sent: int | None = Field(None, gt=0)   # questionnaires handed out / sent (response rate)
    # Commune-level units after a reorganisation: where the unit came from and what it is.
    # ``former_communes``: the former commune-level units it was formed from (names as in
    # the earlier registry); ``former_district``: the earlier year's unit id of the former
    # district it mostly came from (used by the crosswalk, by trends and as a covariate of
    # the small-area model); ``urban``: a ward (phường) rather than a rural commune.
    former_communes: list[str] = []
    former_district: str | None = None
    urban: bool | None = None


class UnitType(_Model):
    id: str
    label: str
    label_plural: str


class Design(_Model):
    # how respondents were drawn, for the method note: "dossiers" = stratified simple
    # random sample of completed dossiers (people served) per unit; "commune_clusters"
    # = communes as PSUs, then people served in them; "households" = dossiers for the
    # units not in `households` (sipas.base.designs), adults at home for those in it
    sampling: Literal["dossiers", "commune_clusters", "households"] = "commune_clusters"
    households: HouseholdDesign | None = None
    stratum: Literal["unit_id"] = "unit_id"
    psu: dict[str, str]
    weight: Literal["served_over_sample"] = "served_over_sample"
    fpc: bool = True
    lonely_psu: Literal["fail", "adjust", "remove", "certainty"] = "adjust"


class SurveyPeriod(_Model):
    start: dt.date
    end: dt.date


class SmallAreaSettings(_Model):
    """Fay-Herriot model of the direct estimates (:mod:`sipas.estimation.sae`)."""

    unit_types: list[str] = ["commune"]
    transform: Literal["arcsine", "logit"] = "arcsine"
    covariates: list[Literal["urban", "log_served", "former_district", "previous"]] = \
        ["urban", "log_served", "previous"]
    benchmark: bool = True
    min_areas: int = Field(10, ge=5)


class BandSettings(_Model):
    """Bands instead of strict ranks (:func:`sipas.estimation.ranks.bands`)."""

    groups: int = Field(3, ge=2, le=5)
    wide_share: float = Field(0.25, gt=0, le=1)   # a rank interval wider than this share of the units


class PublicationPolicy(_Model):
    """What a report shows for an estimate the reliability rule flags ``suppress``, by
    unit type (``default`` for the others): ``suppress`` (not shown), ``caution`` (shown
    with a caution mark) or ``model_based`` (the small-area estimate is shown instead,
    labelled as model-based; only for the types in ``sae.unit_types``)."""

    default: Literal["suppress", "caution"] = "suppress"
    levels: dict[str, Literal["suppress", "caution", "model_based"]] = {}
    sae: SmallAreaSettings = SmallAreaSettings()
    bands: BandSettings = BandSettings()

    @model_validator(mode="after")
    def _check(self) -> PublicationPolicy:
        bad = sorted(t for t, v in self.levels.items() if v == "model_based" and t not in self.sae.unit_types)
        if bad:
            raise ValueError(f"publication.levels: {bad} ask for model_based figures but are not in "
                             f"publication.sae.unit_types {self.sae.unit_types}")
        return self

    def rule(self, unit_type: str) -> str:
        return self.levels.get(unit_type, self.default)


class Settings(_Model):
    province: str
    province_aggregation: Literal["unit_mean", "respondent_weighted"] = "unit_mean"
    margin_of_error: float = Field(0.05, gt=0, lt=1)
    confidence_level: float = Field(0.95, gt=0, lt=1)
    ci_method: Literal["logit", "beta", "wald"] = "logit"
    multiple_testing: Literal["holm", "bh"] = "holm"
    bootstrap_replicates: int = Field(500, ge=20)
    bootstrap_seed: int = Field(20231229, ge=0)
    publication: PublicationPolicy = PublicationPolicy()


class YearRegistry(_Model):
    year: int
    methodology: str
    previous_year: int | None = None
    survey_period: SurveyPeriod
    design: Design
    unit_types: list[UnitType]
    units: list[Unit] = Field(min_length=1)
    settings: dict = {}

    @model_validator(mode="after")
    def _check(self) -> YearRegistry:
        ids = [u.id for u in self.units]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"unit ids used more than once: {dup}")
        types = {t.id for t in self.unit_types}
        for u in self.units:
            if u.type not in types:
                raise ValueError(f"unit '{u.id}' has type '{u.type}', expected one of {sorted(types)}")
            if u.type not in self.design.psu:
                raise ValueError(f"design.psu names no primary sampling unit for unit type '{u.type}'")
            if self.design.psu[u.type] == "commune" and not u.communes:
                raise ValueError(f"unit '{u.id}' samples communes but lists none")
        return self

    def unit(self, uid: str) -> Unit:
        for u in self.units:
            if u.id == uid:
                return u
        raise KeyError(uid)

    def unit_type(self, tid: str) -> UnitType:
        for t in self.unit_types:
            if t.id == tid:
                return t
        raise KeyError(tid)


class Area(_Model):
    """A territory or body that exists in two years under different units."""

    id: str
    name: str
    level: str
    from_: list[str] = Field(alias="from")
    to: list[str]
    comparable: bool = False


class Crosswalk(_Model):
    from_year: int
    to_year: int
    areas: list[Area]


# ---------------------------------------------------------------------- loading


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: 10x faster


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError("file not found", file=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path,
                          hint="save the file as UTF-8") from None
    try:
        data = yaml.load(nfc(text), Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}", file=path) from None
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", file=path)
    return data


def _parse(model: type[BaseModel], data: dict, path: Path):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise ConfigError(err["msg"] + more, file=path, key=key or None,
                          value=err.get("input") if not isinstance(err.get("input"), dict) else None) from None


def load_methodology(method_id: str, p: Paths | None = None) -> Methodology:
    p = p or default_paths()
    path = p.params / "methodology" / f"{method_id}.yaml"
    if not path.is_file():
        known = sorted(f.stem for f in (p.params / "methodology").glob("*.yaml"))
        raise ConfigError(f"unknown methodology '{method_id}'", file=path,
                          hint=f"known methodologies: {', '.join(known) or 'none'}")
    return _parse(Methodology, _read_yaml(path), path)


def load_fields(p: Paths | None = None) -> Fields:
    p = p or default_paths()
    path = p.params / "fields.yaml"
    return _parse(Fields, _read_yaml(path), path)


def load_registry(year: int, p: Paths | None = None) -> YearRegistry:
    p = p or default_paths()
    path = p.params / "units" / f"{year}.yaml"
    if not path.is_file():
        known = sorted(f.stem for f in (p.params / "units").glob("*.yaml"))
        raise ConfigError(f"no unit registry for year {year}", file=path,
                          hint=f"years with a registry: {', '.join(known) or 'none'}; "
                               "copy one and edit it (README: 'Adding a year')")
    reg = _parse(YearRegistry, _read_yaml(path), path)
    if reg.year != year:
        raise ConfigError(f"file says year {reg.year}", file=path, key="year", hint=f"expected {year}")
    return reg


def load_crosswalk(from_year: int, to_year: int, p: Paths | None = None) -> Crosswalk:
    """``params/crosswalk/<from>-<to>.yaml``, checked against both years' registries."""
    p = p or default_paths()
    path = p.params / "crosswalk" / f"{from_year}-{to_year}.yaml"
    cw = _parse(Crosswalk, _read_yaml(path), path)
    for year, attr in ((from_year, "from_"), (to_year, "to")):
        known = {u.id for u in load_registry(year, p).units}
        for i, area in enumerate(cw.areas):
            missing = [u for u in getattr(area, attr) if u not in known]
            if missing:
                key = f"areas[{i}].{attr.rstrip('_')}"
                raise ConfigError(f"unit(s) {missing} are not in the {year} registry", file=path, key=key)
    return cw


def load_settings(p: Paths | None = None, overrides: dict | None = None) -> Settings:
    p = p or default_paths()
    path = p.params / "settings.yaml"
    data = _read_yaml(path)
    data.update(overrides or {})
    return _parse(Settings, data, path)


class YearConfig:
    """Everything a year's run needs to know: its units, methodology, fields, settings."""

    def __init__(self, year: int, p: Paths | None = None):
        self.paths = p or default_paths()
        self.year = year
        self.registry = load_registry(year, self.paths)
        self.methodology = load_methodology(self.registry.methodology, self.paths)
        self.fields = load_fields(self.paths)
        self.settings = load_settings(self.paths, self.registry.settings)

    @property
    def units(self) -> list[Unit]:
        return list(self.registry.units)

    @cached_property
    def sample_targets(self) -> dict[str, int]:
        """Target sample per unit by n = N / (1 + N e^2), rounded up."""
        import math

        e2 = self.settings.margin_of_error ** 2
        return {u.id: math.ceil(u.served / (1 + u.served * e2)) for u in self.units}


def load_year(year: int, root: str | Path | None = None) -> YearConfig:
    return YearConfig(year, default_paths(root) if root else None)
