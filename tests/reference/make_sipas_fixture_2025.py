"""Write tests/reference/sipas_demo_2025_all.csv.gz: every unit of the demo 2025 year
(processed microdata: design columns, sex, age band, ethnicity and the criteria) joined
with the household design's sampling frame (village, household, counts; empty for the
departments), the input of make_sipas_reference_2025.R and tests/test_survey_indices_2025.py.

    sipas demo-data --year 2025 && sipas validate --year 2025
    .venv/bin/python tests/reference/make_sipas_fixture_2025.py
    Rscript tests/reference/make_sipas_reference_2025.R

The committed file, not the generator, is what the tests read.
"""

from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
DESIGN = ["respondent_id", "unit_id", "unit_type", "stratum", "psu", "weight", "fpc"]
PROFILE = ["gender", "age_band", "ethnicity"]
FRAME = ["village", "villages_in_unit", "villages_drawn", "households_in_village", "households_drawn",
         "household", "adults"]

df = pd.read_parquet(ROOT / "data" / "processed" / "2025" / "responses.parquet")
frame = pd.read_csv(ROOT / "data" / "raw" / "2025" / "thiet-ke" / "chon-mau-2025.csv", encoding="utf-8-sig")
criteria = [c for c in df.columns if c[:1] in "ps" and c[1:2].isdigit() and "_" in c]
sub = df[DESIGN + PROFILE + criteria].merge(frame[["respondent_id", *FRAME]], on="respondent_id", how="left")
assert len(sub) == len(df)
sub = sub[DESIGN + PROFILE + FRAME + criteria]
sub.to_csv(Path(__file__).parent / "sipas_demo_2025_all.csv.gz", index=False,
           compression={"method": "gzip", "mtime": 0})
print(f"{len(sub)} rows, {sub.unit_id.nunique()} units, {len(criteria)} criteria")
