"""The 2023–2026 method's household design, as data: the ``households:`` entry of a
year's ``design:`` block (params/units/<year>.yaml) and the calibration margins it names
(params/margins/<file>.yaml).

Units of the listed types (commune-level units) are surveyed at home: in each unit
(a stratum) villages (thôn, bản, tổ dân phố) are drawn, then households in each drawn
village, then one adult per household. The draw is recorded in the sampling frame file
``frame`` (data/raw/<year>/, one row per interviewed adult): village, villages in the
unit, households in the village, households drawn there, household, adults in it.
Weights: (villages / villages drawn) x (households / households that answered) x
adults, i.e. the design weight with a weighting-class non-response adjustment by
village; then raked to the margins (adults per unit, and by sex, age band and
ethnicity). Units of the other types keep the ``psu``/``weight`` of the block.

The planned sample of a unit of the listed types is the number of households drawn in it
(:func:`planned_households`: the draw file's households drawn, summed over its villages),
not the n = N / (1 + N e^2) of the dossier-based design (:attr:`TARGET_RULES`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd
import yaml
from pydantic import Field, model_validator

from sipas.base.errors import ConfigError, SipasError
from sipas.base.schema import _Model

FRAME_COLUMNS = ["village", "villages_in_unit", "villages_drawn", "households_in_village", "households_drawn",
                 "household", "adults"]
"""Columns of the sampling frame file after ``respondent_id`` and ``unit_id``."""


class HouseholdDesign(_Model):
    unit_types: list[str] = Field(min_length=1)
    # villages: "srs" (simple random sample, fpc = villages in the unit, R's
    # svydesign(id=~village+household, fpc=~villages+households)) or "pps" (probability
    # proportional to households, treated as with replacement: no fpc, R's default)
    selection: Literal["srs", "pps"] = "srs"
    frame: str     # file under data/raw/<year>/ ({year} allowed), in a subfolder so that intake skips it
    nonresponse: Literal["village"] = "village"  # weighting classes
    margins: str | None = None                   # file in params/margins/; None: not calibrated


TARGET_RULES = {
    "formula": "theo công thức n = N/(1 + N·e²)",
    "households": "theo thiết kế chọn hộ (số hộ gia đình được chọn: chọn thôn, bản, tổ dân phố rồi chọn hộ trong "
                  "mỗi thôn được chọn; mỗi hộ phỏng vấn một người từ 18 tuổi trở lên)",
}
"""How a unit's planned sample is set (Vietnamese, named wherever the number is shown):
``formula`` for dossier-based units, ``households`` for the household design's units."""

HOUSEHOLD_WEIGHTS = ("(số thôn của xã / số thôn được chọn) × (số hộ của thôn / số hộ trả lời) × số người từ 18 "
                     "tuổi trong hộ, rồi hiệu chỉnh (raking) theo dân số từ 18 tuổi của xã và theo giới tính, "
                     "nhóm tuổi, dân tộc")
"""The household design's weight of a respondent, in Vietnamese (the quality page)."""


def read_frame(path: Path, year: int) -> pd.DataFrame:
    """The sampling frame file (text cells, one row per interviewed adult), its columns
    checked; a clear error when it is missing or lacks columns."""
    if not path.exists():
        raise SipasError("the sampling frame file of the household design is missing", file=path,
                         hint="it is named by design.households.frame in the registry "
                              f"(`sipas demo-data --year {year}` writes the demo's)")
    frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    lacking_cols = [c for c in ["respondent_id", *FRAME_COLUMNS] if c not in frame.columns]
    if lacking_cols:
        raise SipasError("the sampling frame file lacks columns", file=path, value=lacking_cols,
                         hint=f"columns: respondent_id, unit_id, {', '.join(FRAME_COLUMNS)}")
    return frame


def planned_households(frame: pd.DataFrame) -> dict[str, int]:
    """Households drawn per unit: ``households_drawn`` of each of its villages (one value
    per village: every row of a village repeats it), summed."""
    villages = frame.drop_duplicates(["unit_id", "village"])
    drawn = pd.to_numeric(villages["households_drawn"], errors="raise").astype(int)
    return {str(u): int(n) for u, n in drawn.groupby(villages["unit_id"]).sum().items()}


class Margins(_Model):
    """Population counts of adults for raking: per unit (``unit_id``) and per level of
    profile variables; ``groups`` merges levels (level -> the levels it holds)."""

    source: str
    adults: dict[str, int]
    margins: dict[str, dict[str, int]]
    groups: dict[str, dict[str, list[str]]] = {}

    @model_validator(mode="after")
    def _check(self) -> Margins:
        total = sum(self.adults.values())
        for var, levels in self.margins.items():
            if sum(levels.values()) != total:
                raise ValueError(f"margin '{var}' sums to {sum(levels.values())}, the adults of the units "
                                 f"to {total}: every margin must count the same adults")
        return self

    def level_map(self, var: str) -> dict[str, str]:
        """Profile code -> margin level (codes not grouped map to themselves)."""
        return {code: level for level, codes in self.groups.get(var, {}).items() for code in codes}


def load_margins(params: Path, name: str) -> Margins:
    path = params / "margins" / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Margins.model_validate(data)
    except FileNotFoundError:
        raise ConfigError(f"{path}: margins file not found (named by design.households.margins)") from None
    except (ValueError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: {e}") from None
