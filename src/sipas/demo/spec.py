"""The demo generator's knobs: ``params/demo.yaml`` loaded into a typed, validated model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sipas.base.codebook import _parse, _read_yaml
from sipas.base.config import Paths
from sipas.base.config import paths as default_paths


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Output(_M):
    file: str = "phieu-khao-sat-{year}.csv"
    key_file: str = "_demo_key.json"
    line_terminator: str = "\r\n"


class Latent(_M):
    respondent_sd: float = Field(0.85, ge=0)
    respondent_element_sd: float = Field(0.55, ge=0)
    item_sd: float = Field(0.75, gt=0)
    commune_sd: float = Field(0.30, ge=0)
    unit_element_sd: float = Field(0.15, ge=0)
    criterion_sd: float = Field(0.12, ge=0)
    element_offsets: dict[str, float] = {}
    cuts_above: list[float] = Field([1.5], min_length=1)
    cuts_below: list[float] = Field([-1.1, -0.9], min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Latent:
        if any(c <= 0 for c in self.cuts_above) or any(c >= 0 for c in self.cuts_below):
            raise ValueError("cuts_above must be positive steps and cuts_below negative steps")
        return self


class LevelDist(_M):
    mean: float = Field(gt=0, lt=1)
    sd: float = Field(0.0, ge=0)


class Levels(_M):
    base_year: int
    default: dict[str, LevelDist]
    min: float = Field(0.6, gt=0, lt=1)
    max: float = Field(0.98, gt=0, lt=1)
    units: dict[str, float] = {}
    changes: dict[int, dict[str, float]] = {}

    @model_validator(mode="after")
    def _check(self) -> Levels:
        if "other" not in self.default:
            raise ValueError("levels.default needs an 'other' entry for unit types not listed")
        for uid, v in self.units.items():
            if not 0 < v < 1:
                raise ValueError(f"level of unit '{uid}' must be a proportion in (0, 1), got {v}")
        return self


class Sampling(_M):
    psu_per_unit: tuple[int, int] = (4, 6)
    include_first_commune: bool = True
    cluster_concentration: float = Field(12.0, gt=0)
    visit_days_per_psu: tuple[int, int] = (1, 3)
    interviewers_per_unit: tuple[int, int] = (2, 4)
    interviewer_format: str = "DTV{n:02d}"
    weekdays_only: bool = True


class CodeRate(_M):
    code: int
    rate: float = Field(ge=0, le=1)


class NotApplicable(_M):
    code: int = 99
    elements: list[str] = ["last"]
    respondent_rate: float = Field(0.6, ge=0, le=1)
    item_rate: float = Field(0.04, ge=0, le=1)


class Nonresponse(_M):
    dont_know: CodeRate = CodeRate(code=98, rate=0.015)
    blank_rate: float = Field(0.008, ge=0, le=1)
    not_applicable: NotApplicable = NotApplicable()
    label_rate: float = Field(0.001, ge=0, le=1)


class ProfileDist(_M):
    default: dict[str | int, float] = {}
    by_type: dict[str, dict[str | int, float]] = {}
    by_unit: dict[str, dict[str | int, float]] = {}
    given: dict[str, dict[str, dict[str | int, float]]] = {}


class Expectations(_M):
    count_shares: dict[str, list[float]] = {"high": [0.5, 0.35, 0.15], "low": [0.2, 0.4, 0.4]}
    weights: dict[str, float] = {}
    link_strength: float = 0.9
    links: dict[str, str] = {}


class Topic(_M):
    element: str | None = None
    phrases: list[str] = Field(min_length=1)


class Markup(_M):
    count: tuple[int, int] = (1, 2)
    texts: list[str] = Field(min_length=1)


class Comments(_M):
    rate_high: float = Field(0.09, ge=0, le=1)
    rate_low: float = Field(0.22, ge=0, le=1)
    praise: list[str] = Field(min_length=1)
    complaints: dict[str, Topic] = Field(min_length=1)
    closings: dict[str, list[str]] = {}   # praise / complaint: closing sentences ("" = none)
    markup: Markup | None = None


class Personal(_M):
    ethnicity_var: str = "ethnicity"
    gender_var: str = "gender"
    female_code: str = "nu"
    age_var: str = "age_band"          # category labels like "25–34", "Trên 60" give the age
    type_var: str = "respondent_type"  # keys of email_rate are its codes
    family_names: dict[str, list[str]]
    middle_names: dict[str, dict[str, list[str]]]
    given_names: dict[str, dict[str, list[str]]]
    villages: list[str] = Field(min_length=1)
    urban_prefixes: list[str] = ["Phường", "Thị trấn"]
    phone_rate: float = Field(0.9, ge=0, le=1)
    id_number_rate: float = Field(0.85, ge=0, le=1)
    id_number_prefix: str = Field("012", pattern=r"^[0-9]{3}$")
    address_rate: float = Field(0.95, ge=0, le=1)
    place_unit_types: list[str] = []
    province_prefix: str = "tỉnh"
    email_rate: dict[str, float] = {}
    email_domains: list[str] = ["gmail.com"]

    @model_validator(mode="after")
    def _check(self) -> Personal:
        for name in ("family_names", "middle_names", "given_names"):
            if "default" not in getattr(self, name):
                raise ValueError(f"personal.{name} needs a 'default' entry")
        for name in ("middle_names", "given_names"):
            for eth, d in getattr(self, name).items():
                if not d.get("male") or not d.get("female"):
                    raise ValueError(f"personal.{name}.{eth} needs non-empty 'male' and 'female' lists")
        return self


class BadRecords(_M):
    duplicate_id_exact: int = Field(1, ge=0)
    duplicate_id_conflict: int = Field(1, ge=0)
    unknown_unit: int = Field(2, ge=0)
    unknown_unit_names: list[str] = ["Sở Ngoại vụ"]
    out_of_range: int = Field(3, ge=0)
    out_of_range_values: list[int] = [0, 6, 7]
    date_outside_period: int = Field(2, ge=0)
    nearly_empty: int = Field(2, ge=0)
    nearly_empty_answered: int = Field(1, ge=0)
    invalid_profile: int = Field(2, ge=0)
    invalid_profile_values: list[str] = ["Không rõ"]
    straight_line_groups: int = Field(1, ge=0)
    straight_line_size: int = Field(8, ge=2)


class NationalProvince(_M):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    city: bool = False
    code: str = Field(pattern=r"^[0-9]{3}$")


class NationalUnit(_M):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str


class National(_M):
    methodology: str = "sipas-2017"
    survey_period: dict[str, str] = {"start": "08-01", "end": "10-31"}
    communes_per_province: tuple[int, int] = (40, 160)
    ward_share: float = Field(0.15, ge=0, le=1)
    served: dict[str, tuple[int, int]] = {"department": (300, 3500), "commune": (400, 3000)}
    province_sd: float = Field(0.03, ge=0)
    bad_records: dict = {}               # overrides of `bad_records` for every province
    departments: list[NationalUnit] = Field(min_length=1)
    provinces: list[NationalProvince] = Field(min_length=1)


class UnitSample(_M):
    """Sample size of the units of some types drawn from a range instead of n = N/(1+N e^2)
    (realistic commune-level samples: 30 to 150 interviews per unit)."""

    unit_types: list[str] = ["commune"]
    range: tuple[int, int] = (30, 150)
    years: list[int] = []                # empty: every year that has such units


class DemoSpec(_M):
    seed: int = 2385
    output: Output = Output()
    headers: dict[str, str] = {}
    id_header_case: str = Field("upper", pattern="^(upper|lower|as_is)$")
    respondent_id: str = "{year}-{unit}-{seq:04d}"
    latent: Latent = Latent()
    levels: Levels
    sampling: Sampling = Sampling()
    unit_sample: UnitSample | None = None
    nonresponse: Nonresponse = Nonresponse()
    profile: dict[str, ProfileDist] = {}
    effects: dict[str, dict[str, float]] = {}
    perception_links: dict[str, dict[str, float]] = {}   # topic -> {category: log-odds per SD}
    expectations: Expectations = Expectations()
    comments: Comments
    personal: Personal
    bad_records: BadRecords = BadRecords()
    nfd_rows: int = Field(25, ge=0)
    national: National | None = None


def load_demo_spec(p: Paths | None = None) -> DemoSpec:
    """Read and validate ``params/demo.yaml``; a malformed file names the file and key."""
    p = p or default_paths()
    path = p.params / "demo.yaml"
    return _parse(DemoSpec, _read_yaml(path), path)
