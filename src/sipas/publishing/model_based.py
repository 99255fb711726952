"""How the pages show the publication policy, the model-based (small-area) figures and the
bands: the columns beside the direct figures and their footnotes.

Everything comes from the published tables (``indices``: ``estimate_sae``, ``ci_low_sae``,
``ci_high_sae``, ``shrinkage``, ``publication``; ``ranks``: ``band``, ``strict_rank``) and
the settings (``publication``, :class:`sipas.base.codebook.PublicationPolicy`); nothing is
computed here. The model-based column is always headed "Ước lượng theo mô hình" and
explained in the footnote, with the shrinkage factor (the weight of the model) beside it;
where the policy publishes it in place of a direct figure that is not reliable enough,
it carries the mark ᴹ.
"""

from __future__ import annotations

import html

import pandas as pd

from sipas.base import formats as fmt
from sipas.estimation.policy import rule_text
from sipas.estimation.ranks import BANDS
from sipas.estimation.sae import SAE_COLUMNS
from sipas.publishing.markup import with_ci
from sipas.publishing.report import Report, lc

MODEL = "Ước lượng theo mô hình"
SHRINK = "Hệ số co"
COVARIATE_TEXT = {"urban": "phường hay xã", "log_served": "quy mô (số lượt phục vụ)",
                  "former_district": "huyện cũ", "previous": "kết quả năm trước của địa bàn huyện cũ, khi so sánh được"}
TRANSFORM_TEXT = {"arcsine": "thang arcsin căn bậc hai", "logit": "thang logit"}


def shrink_text(v) -> str:
    """The shrinkage factor with two decimals: 0.3315 -> '0,33' (empty when missing)."""
    return "" if v is None or pd.isna(v) else fmt.number(float(v), 2)


def with_model(rep: Report, frame: pd.DataFrame, unit_id: str, key: str = "item_id") -> pd.DataFrame:
    """``frame`` (one row per index of ``unit_id``) with the unit's model-based columns
    (:data:`SAE_COLUMNS`), ``shrink_text`` and ``model_flag`` (``model_based`` where the
    policy publishes the model figure)."""
    cols = rep.unit_columns(unit_id, frame[key].tolist(), [*SAE_COLUMNS, "publication"])
    new = {c: cols[c].astype(float) for c in SAE_COLUMNS}
    new |= _marks(new["shrinkage"], cols["publication"])
    return pd.concat([frame, pd.DataFrame(new, index=frame.index)], axis=1)


def _marks(shrinkage, publication) -> dict[str, list[str]]:
    return {"shrink_text": [shrink_text(v) for v in shrinkage],
            "model_flag": ["model_based" if p == "model_based" else "" for p in publication]}


def ranking_with_model(r: pd.DataFrame) -> pd.DataFrame:
    """A :meth:`Report.ranking` frame (it carries the SIPAS's model columns) with
    ``shrink_text`` and ``model_flag``."""
    return r.assign(**_marks(r["shrinkage"], r["publication"]))


def model_table_args(columns: dict[str, str]) -> dict:
    """The :func:`sipas.publishing.markup.table_html` arguments of the model columns."""
    return {"columns": {**columns, "estimate_sae": MODEL, "shrink_text": SHRINK},
            "ci": {"estimate_sae": ("ci_low_sae", "ci_high_sae")}, "flags": {"estimate_sae": "model_flag"}}


def model_text(rep: Report) -> str:
    """What the model-based column is (plain text, for a footnote and the workbook)."""
    sae = rep.cfg.settings.publication.sae
    covs = ", ".join(COVARIATE_TEXT[c] for c in sae.covariates)
    bench = (" và cân chỉnh để trung bình các đơn vị bằng ước lượng trực tiếp chung của nhóm" if sae.benchmark
             else "")
    return (f"“{MODEL}”: ước lượng cho địa bàn nhỏ (mô hình Fay–Herriot trên {TRANSFORM_TEXT[sae.transform]}), "
            f"không phải ước lượng trực tiếp từ mẫu của riêng đơn vị: kết hợp kết quả khảo sát của đơn vị với đặc "
            f"điểm của đơn vị ({covs}){bench}; số nhỏ dưới là khoảng tin cậy {rep.level_text} theo sai số bình "
            f"phương trung bình Prasad–Rao (chưa tính phần cân chỉnh). “{SHRINK}”: tỷ trọng của mô hình trong "
            "ước lượng (0: chỉ dùng số liệu khảo sát của đơn vị; 1: chỉ dùng mô hình); đơn vị càng ít phiếu, "
            "hệ số co càng lớn. Dấu ᴹ: ước lượng theo mô hình được công bố thay cho ước lượng trực tiếp "
            "không đủ độ tin cậy.")


def band_text(rep: Report) -> str:
    """What a band in the rank column means (plain text)."""
    b = rep.cfg.settings.publication.bands
    return (f"Hạng: đơn vị có khoảng hạng {rep.level_text} trải rộng hơn {fmt.pct(b.wide_share, 0)} số đơn vị "
            f"không được xếp thứ hạng cụ thể mà được xếp vào nhóm: {BANDS['top']} (toàn bộ khoảng hạng nằm trong "
            f"1/{b.groups} số vị trí đầu), {BANDS['bottom']} (trong 1/{b.groups} số vị trí cuối), "
            f"{BANDS['middle']} (các đơn vị còn lại); số nhỏ dưới là khoảng hạng (tùy chọn publication.bands).")


def policy_note(rep: Report, unit_type: str, bands: bool = False) -> str:
    """Footnote markup for the figures of one unit type: which publication policy applies
    and what it means, what the model-based column is (when shown) and, with ``bands``,
    what a band means."""
    label = rep.type_label(unit_type, plural=True)
    parts = [f"{label}: " + lc(rule_text(unit_type, rep.rule(unit_type)))]
    if rep.shows_model(unit_type):
        parts.append(model_text(rep))
    if bands and rep.uses_bands(unit_type):
        parts.append(band_text(rep))
    return " ".join(html.escape(p) for p in parts)


def rank_cell(rep: Report, unit_type: str, rank, low, high, band, strict) -> str:
    """The rank column's cell: the rank with its interval under it, or, for a type that
    uses bands and a unit whose interval is wide, the band with the interval under it."""
    if pd.isna(low):
        return str(rank)
    interval = f"{int(low)}–{int(high)}"
    if rep.uses_bands(unit_type) and isinstance(band, str) and not bool(strict):
        return with_ci(BANDS[band], interval)
    return with_ci(rank, interval)


def place_text(rep: Report, unit_id: str, total: bool = False) -> str:
    """A unit's place as plain text: its rank (``5`` or ``5/38``), or its band where the
    type uses bands and the rank interval is wide (``Nhóm giữa``)."""
    pl = rep.place(unit_id)
    if pl["banded"]:
        return BANDS[pl["band"]]
    return f"{pl['rank']}/{pl['total']}" if total else str(pl["rank"])


__all__ = ["MODEL", "SHRINK", "band_text", "model_table_args", "model_text", "place_text", "policy_note", "rank_cell",
           "ranking_with_model", "shrink_text", "with_model"]
