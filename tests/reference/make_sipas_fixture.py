"""Write tests/reference/sipas_demo_2023.csv: a small deterministic subset of the demo
2023 microdata (six whole units, the design and the columns the estimates need), the
input of make_sipas_reference.R and of tests/test_survey_indices.py.

    make report            # or: sipas demo-data --year 2023 && sipas validate --year 2023
    .venv/bin/python tests/reference/make_sipas_fixture.py
    Rscript tests/reference/make_sipas_reference.R

The committed CSV, not the generator, is what the tests read: later changes to the demo
generator do not move the reference values.
"""

from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
UNITS = ["tp-lai-chau", "muong-te", "tan-uyen", "so-tttt", "so-khcn", "ban-qlkkt"]
DESIGN = ["respondent_id", "unit_id", "unit_type", "stratum", "psu", "weight", "fpc"]
PROFILE = ["gender", "age_band"]

df = pd.read_parquet(ROOT / "data" / "processed" / "2023" / "responses.parquet")
criteria = [c for c in df.columns if c[:1] == "c" and c[1:2].isdigit() and "_" in c]
sub = df[df.unit_id.isin(UNITS)][DESIGN + PROFILE + criteria]
sub = sub.sort_values(["unit_id", "respondent_id"]).reset_index(drop=True)
sub.to_csv(Path(__file__).parent / "sipas_demo_2023.csv", index=False)
print(f"{len(sub)} rows, {sub.unit_id.nunique()} units, {len(criteria)} criteria")
