"""A year's registry (``params/units/<year>.yaml``), the crosswalk between years, the
fields and the settings (``params/settings.yaml``)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from sipas.base.designs import HouseholdDesign
from sipas.base.questionnaire import Variable
from sipas.base.schema import _Model


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
    unit_types: list[str] = ["commune"]           # rankings and narrative of these types use the bands


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
