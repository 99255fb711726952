"""The annexes' method note states the year's design, calibration and variance method
(issue 13), read from the registry's ``design:`` block."""

from __future__ import annotations

from types import SimpleNamespace

from sipas.base.codebook import Design, load_registry
from sipas.publishing.narrative import design_note


def note(**kw) -> str:
    design = Design(psu={"district": "respondent_id"}, **kw)
    return design_note(SimpleNamespace(cfg=SimpleNamespace(registry=SimpleNamespace(design=design))))


def test_dossier_design_is_stated():
    text = note(sampling="dossiers")
    assert "mẫu ngẫu nhiên đơn giản phân tầng" in text and "hồ sơ đã giải quyết" in text
    assert "hiệu chỉnh quần thể hữu hạn" in text and "tuyến tính hóa Taylor" in text
    assert "không hiệu chỉnh trọng số theo tổng thể" in text


def test_cluster_design_and_no_fpc():
    text = note(sampling="commune_clusters", fpc=False)
    assert "chọn cụm xã" in text and "không hiệu chỉnh quần thể hữu hạn" in text


def test_demo_years_declare_the_dossier_design():
    for year in (2022, 2023):
        assert load_registry(year).design.sampling == "dossiers"


def test_household_design_of_2025_is_stated():
    from sipas.base.codebook import YearConfig

    cfg = YearConfig(2025)
    text = design_note(SimpleNamespace(cfg=cfg))
    assert cfg.registry.design.households.unit_types == ["commune"]
    assert "thôn, bản" in text and "một người trưởng thành" in text          # the stages
    assert "hiệu chỉnh không trả lời" in text and "raking" in text            # non-response, calibration
    assert "giới tính, nhóm tuổi, dân tộc" in text and "params/margins/2025.yaml" in text
    assert "svyrecvar" in text and "cả hai giai đoạn" in text                 # variance method
    assert "các sở, ban, ngành: mẫu ngẫu nhiên đơn giản phân tầng" in text    # departments: dossiers
    assert "không hiệu chỉnh trọng số theo tổng thể" not in text
