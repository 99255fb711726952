"""Methodology, fields, units and settings: YAML under ``params/``, loaded into
typed, validated objects.

Nothing about a questionnaire is hard-coded in the package: elements, criteria, scales,
which codes count as satisfied, how indices aggregate, the units of a year and their
sampling design all come from these files (see ``params/README.md``).

The schema lives in :mod:`sipas.base.questionnaire` (a methodology's questionnaire and its
item queries) and :mod:`sipas.base.registry` (units, design, settings, crosswalk); this
module loads and checks the files and re-exports the schema's names.
"""

from __future__ import annotations

import math
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from sipas.base.config import Paths
from sipas.base.config import paths as default_paths
from sipas.base.designs import TARGET_RULES, planned_households, read_frame
from sipas.base.errors import ConfigError
from sipas.base.questionnaire import (
    Aggregation,
    Aspect,
    Category,
    Code,
    Criterion,
    Element,
    Expectations,
    Item,
    Methodology,
    PublishedFigure,
    SatisfiedOverall,
    Scale,
    Variable,
)
from sipas.base.registry import (
    Area,
    BandSettings,
    Crosswalk,
    Design,
    Fields,
    PublicationPolicy,
    Settings,
    SmallAreaSettings,
    SurveyPeriod,
    Unit,
    UnitType,
    YearRegistry,
)
from sipas.base.schema import _Model, nfc

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
        """Target sample per unit by n = N / (1 + N e^2), rounded up (the ``formula`` rule)."""
        e2 = self.settings.margin_of_error ** 2
        return {u.id: math.ceil(u.served / (1 + u.served * e2)) for u in self.units}

    @property
    def frame_path(self) -> Path | None:
        """The household design's draw file (``design.households.frame`` under
        ``data/raw/<year>/``); None without a household design."""
        hh = self.registry.design.households
        return None if hh is None else self.paths.raw(self.year) / hh.frame.format(year=self.year)

    def target_rule(self, unit_type: str) -> str:
        """How the planned sample of a unit of this type is set: ``households`` for the
        household design's unit types, ``formula`` otherwise (keys of
        :data:`sipas.base.designs.TARGET_RULES`, the wording pages show)."""
        hh = self.registry.design.households
        return "households" if hh is not None and unit_type in hh.unit_types else "formula"

    @cached_property
    def planned_sample(self) -> dict[str, int | None]:
        """Planned sample per unit, by its :meth:`target_rule`: households drawn in the
        unit's draw (:func:`sipas.base.designs.planned_households`, 0 for a unit without a
        drawn village) or :attr:`sample_targets`. Every "cỡ mẫu dự kiến" shown is this.
        None for the household design's units while the draw file is not there yet: the
        intake runs without it (and shows no target); the estimation refuses without it."""
        rules = {u.id: self.target_rule(u.type) for u in self.units}
        frame = self.frame_path
        drawn = (planned_households(read_frame(frame, self.year))
                 if "households" in rules.values() and frame.exists() else None)
        return {u: (None if drawn is None else drawn.get(u, 0)) if rule == "households" else self.sample_targets[u]
                for u, rule in rules.items()}

    @property
    def target_note(self) -> str:
        """The planned-sample rule(s) of the year, one sentence (notes of sample tables)."""
        e = f"e = {self.settings.margin_of_error:g}"
        types = {t.id: t.label_plural for t in self.registry.unit_types if any(u.type == t.id for u in self.units)}
        by_rule: dict[str, list[str]] = {}
        for t, label in types.items():
            by_rule.setdefault(self.target_rule(t), []).append(label)
        if list(by_rule) == ["formula"]:
            return f"Cỡ mẫu dự kiến n = N/(1 + N·e²), {e}."
        parts = [f"{', '.join(labels)}: {TARGET_RULES[rule]}" + (f", {e}" if rule == "formula" else "")
                 for rule, labels in by_rule.items()]
        return "Cỡ mẫu dự kiến — " + "; ".join(parts) + "."


def load_year(year: int, root: str | Path | None = None) -> YearConfig:
    return YearConfig(year, default_paths(root) if root else None)


__all__ = ["Aggregation", "Area", "Aspect", "BandSettings", "Category", "Code", "Criterion", "Crosswalk", "Design",
           "Element", "Expectations", "Fields", "Item", "Methodology", "PublicationPolicy", "PublishedFigure",
           "SatisfiedOverall", "Scale", "Settings", "SmallAreaSettings", "SurveyPeriod", "Unit", "UnitType",
           "Variable", "YearConfig", "YearRegistry", "_Model", "load_crosswalk", "load_fields", "load_methodology",
           "load_registry", "load_settings", "load_year", "nfc"]
