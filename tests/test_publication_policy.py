"""Publication policy (sipas.estimation.policy), its settings, and bands instead of strict
ranks (sipas.estimation.ranks.bands)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sipas.base.codebook import PublicationPolicy, YearConfig, load_year
from sipas.base.errors import ConfigError
from sipas.estimation.policy import apply_policy, policy_footnote
from sipas.estimation.ranks import bands


def test_bands_by_hand():
    # 9 units, thirds of 3 places: [1,3] top; [7,9] bottom; [2,4] middle; [1,9] middle
    band, strict = bands([1, 7, 2, 1, 3], [3, 9, 4, 9, 3], [9] * 5, groups=3, wide_share=0.25)
    assert list(band) == ["top", "bottom", "middle", "middle", "top"]
    # width <= 0.25 * 9 = 2.25 places: only [3,3] (1) qualifies; [1,3] spans 3
    assert list(strict) == [False, False, False, False, True]


def test_default_policy_and_validation():
    pol = load_year(2025).settings.publication
    assert pol.rule("commune") == "model_based" and pol.rule("department") == "suppress"
    with pytest.raises(ValueError, match="model_based"):
        PublicationPolicy(levels={"department": "model_based"})


def test_policy_in_a_year_file_is_checked(tmp_path):
    import shutil

    from sipas.base.config import paths
    root = tmp_path / "root"
    shutil.copytree(load_year(2025).paths.params, root / "params")
    f = root / "params" / "settings.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("commune: model_based", "commune: publish"), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        YearConfig(2025, paths(root))
    assert "publication" in str(e.value)


def _table():
    return pd.DataFrame({
        "unit_id": ["xa-ban-bo", "xa-pa-u", "xa-mu-ca", "so-y-te", "so-y-te", "province"],
        "estimate": [0.80, 0.70, np.nan, 0.90, 0.60, 0.82],
        "ci_low": [0.7, 0.4, np.nan, 0.85, 0.3, 0.8], "ci_high": [0.9, 0.9, np.nan, 0.95, 0.9, 0.84],
        "flag": ["", "suppress", "", "", "suppress", ""],
        "estimate_sae": [0.79, 0.76, np.nan, np.nan, np.nan, np.nan],
        "ci_low_sae": [0.7, 0.7, np.nan, np.nan, np.nan, np.nan],
        "ci_high_sae": [0.85, 0.82, np.nan, np.nan, np.nan, np.nan],
    })


def test_apply_policy():
    cfg = load_year(2025)
    out = apply_policy(_table(), cfg)
    assert list(out["publication"]) == ["direct", "model_based", "suppressed", "direct", "suppressed", "direct"]
    assert out["published"].tolist()[:2] == [0.80, 0.76]
    assert np.isnan(out["published"].iloc[4]) and out["published_low"].iloc[1] == 0.7
    note = policy_footnote(out["publication"])
    assert "mô hình" in note and "trống" in note and "tham khảo" not in note


def test_caution_policy(monkeypatch):
    cfg = load_year(2025)
    pol = PublicationPolicy(default="caution", levels={"commune": "caution"})
    monkeypatch.setattr(cfg, "settings", cfg.settings.model_copy(update={"publication": pol}))
    out = apply_policy(_table(), cfg)
    assert list(out["publication"]) == ["direct", "caution", "suppressed", "direct", "caution", "direct"]
    assert out["published"].iloc[1] == 0.70
    assert "tham khảo" in policy_footnote(out["publication"])
