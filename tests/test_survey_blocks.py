"""Aggregates computed block by block (Linearized.aggregate sums influence totals in
blocks of whole first-stage PSUs to bound memory): the same variances and degrees of
freedom as in one block, for a two-stage and a raked design on R's apiclus2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sipas.estimation.survey import SurveyDesign, linearized

REF = Path(__file__).parent / "reference"


def designs():
    df = pd.read_csv(REF / "apiclus2.csv")
    df["sch_wide"] = df["sch.wide"]
    two = SurveyDesign(df, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])
    W = two.weights.sum()
    raked = two.rake({"stype": {"E": 0.7 * W, "H": 0.1 * W, "M": 0.2 * W},
                      "sch_wide": {"No": 0.2 * W, "Yes": 0.8 * W}})
    return {"two-stage": two, "raked": raked}


@pytest.mark.parametrize("kind", ["two-stage", "raked"])
def test_blocks_agree_with_one_block(kind, monkeypatch):
    d = designs()[kind]
    y = d.data[["api00", "api99"]].to_numpy(float)
    x = np.ones_like(y)
    inc = np.ones(y.shape, dtype=bool)
    lin = d.linearize(y, x, inc, np.eye(2), ["api00", "api99"], by="stype")
    D = len(lin.domains)
    coef = np.array([[1 / D] * D, [1, -1, 0][:D]])
    whole = lin.aggregate(coef)
    monkeypatch.setattr(linearized, "CHUNK", 5)
    blocks = lin.aggregate(coef)
    assert len(d.data) > 10 * 5            # several blocks were used
    np.testing.assert_allclose(blocks.var, whole.var, rtol=1e-12)
    np.testing.assert_array_equal(blocks.df, whole.df)
    np.testing.assert_array_equal(blocks.cell_unit, whole.cell_unit)
    np.testing.assert_allclose(blocks.cell_z, whole.cell_z, rtol=1e-12)
    assert (whole.var > 0).all()
