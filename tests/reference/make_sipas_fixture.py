"""Write tests/reference/sipas_demo_2023.csv: a small deterministic subset of the demo
2023 microdata (six whole units, the design and the columns the estimates need), the
input of make_sipas_reference.R and of tests/test_survey_indices.py; with ``--all``,
tests/reference/sipas_demo_2023_all.csv.gz: every unit of the year
(tests/test_survey_indices_all.py).

    make report            # or: sipas demo-data --year 2023 && sipas validate --year 2023
    .venv/bin/python tests/reference/make_sipas_fixture.py [--all]
    Rscript tests/reference/make_sipas_reference.R                 # six units
    Rscript tests/reference/make_sipas_reference.R sipas_demo_2023_all.csv.gz sipas_reference_all.csv

The committed CSV, not the generator, is what the tests read: later changes to the demo
generator do not move the reference values.
"""

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
UNITS = ["tp-lai-chau", "muong-te", "tan-uyen", "so-tttt", "so-khcn", "ban-qlkkt"]
DESIGN = ["respondent_id", "unit_id", "unit_type", "stratum", "psu", "weight", "fpc"]
PROFILE = ["gender", "age_band"]

df = pd.read_parquet(ROOT / "data" / "processed" / "2023" / "responses.parquet")
criteria = [c for c in df.columns if c[:1] == "c" and c[1:2].isdigit() and "_" in c]
every = "--all" in sys.argv
sub = (df if every else df[df.unit_id.isin(UNITS)])[DESIGN + PROFILE + criteria]
sub = sub.sort_values(["unit_id", "respondent_id"]).reset_index(drop=True)
name = "sipas_demo_2023_all.csv.gz" if every else "sipas_demo_2023.csv"
sub.to_csv(Path(__file__).parent / name, index=False, compression={"method": "gzip", "mtime": 0} if every else None)
print(f"{len(sub)} rows, {sub.unit_id.nunique()} units, {len(criteria)} criteria")
