"""The publication policy: what a report shows for each estimate, by unit type
(``params/settings.yaml``, ``publication``; model :class:`sipas.base.codebook.PublicationPolicy`).

For an estimate the reliability rule (:func:`sipas.estimation.indices.reliability_flag`)
flags ``suppress``, the policy of its unit type decides:

* ``suppress``: nothing is shown (``publication = "suppressed"``);
* ``caution``: the direct estimate is shown with a caution mark (``"caution"``);
* ``model_based``: the small-area estimate (:mod:`sipas.estimation.sae`) is shown,
  marked as model-based (``"model_based"``); where the model gave none, suppressed.

Estimates that pass the rule are shown as they are (``"direct"``). Groups and the province
are always direct. Columns added: ``publication``, ``published``, ``published_low``,
``published_high``; :func:`policy_footnote` gives the Vietnamese footnote of the marks used.
The direct estimate and the model-based one both stay in the tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sipas.base.codebook import YearConfig
from sipas.estimation.indices import FLAG_SUPPRESS

PUBLICATION_COLUMNS = ["publication", "published", "published_low", "published_high"]
MARKS = {"caution": "§", "model_based": "ᴹ"}
NOTES = {
    "caution": ("§ Ước lượng trực tiếp từ mẫu nhỏ, độ tin cậy thấp (cỡ mẫu hiệu dụng dưới 30 hoặc "
                "khoảng tin cậy rộng): chỉ để tham khảo, không dùng để so sánh, xếp hạng."),
    "model_based": ("ᴹ Ước lượng dựa trên mô hình (ước lượng cho địa bàn nhỏ, mô hình Fay–Herriot): "
                    "kết hợp kết quả khảo sát của đơn vị với đặc điểm của đơn vị (phường/xã, quy mô, "
                    "kết quả năm trước của địa bàn huyện cũ), cân chỉnh để trung bình các đơn vị bằng "
                    "ước lượng trực tiếp chung; không phải ước lượng trực tiếp từ mẫu của riêng đơn vị. "
                    "Khoảng tin cậy theo sai số bình phương trung bình Prasad–Rao (chưa tính phần cân chỉnh)."),
    "suppressed": "Ô để trống: ước lượng không đủ độ tin cậy để công bố.",
}


def apply_policy(indices: pd.DataFrame, cfg: YearConfig) -> pd.DataFrame:
    """The index table with :data:`PUBLICATION_COLUMNS` (module doc)."""
    pol = cfg.settings.publication
    out = indices.copy()
    types = {u.id: u.type for u in cfg.units}
    rule = out["unit_id"].map(lambda u: pol.rule(types[u]) if u in types else "direct")
    weak = out["flag"].eq(FLAG_SUPPRESS) & rule.ne("direct")
    has_sae = out["estimate_sae"].notna() if "estimate_sae" in out else pd.Series(False, index=out.index)
    pub = np.where(~weak, "direct",
                   np.where(rule.eq("caution"), "caution",
                            np.where(rule.eq("model_based") & has_sae, "model_based", "suppressed")))
    pub = np.where(out["estimate"].isna(), "suppressed", pub)
    model = pub == "model_based"
    out["publication"] = pub
    for col, direct, sae in (("published", "estimate", "estimate_sae"), ("published_low", "ci_low", "ci_low_sae"),
                             ("published_high", "ci_high", "ci_high_sae")):
        vals = np.where(model, out[sae] if sae in out else np.nan, out[direct])
        out[col] = np.where(pub == "suppressed", np.nan, vals).astype(float)
    return out


RULE_TEXT = {
    "suppress": ("ước lượng trực tiếp không đủ độ tin cậy (cỡ mẫu hiệu dụng dưới 30 hoặc khoảng tin cậy quá "
                 "rộng) không được công bố: ô để trống"),
    "caution": ("ước lượng trực tiếp không đủ độ tin cậy vẫn được công bố, kèm dấu § (chỉ để tham khảo, không "
                "dùng để so sánh, xếp hạng)"),
    "model_based": ("ước lượng trực tiếp không đủ độ tin cậy không được công bố; thay vào đó công bố ước lượng "
                    "theo mô hình (dấu ᴹ)"),
}


def rule_text(unit_type: str, rule: str) -> str:
    """'Chính sách công bố (publication.levels.commune = model_based): …' (plain text)."""
    return f"Chính sách công bố (tùy chọn publication.levels.{unit_type} = {rule}): {RULE_TEXT[rule]}."


def policy_footnote(publication) -> str:
    """Footnote for the marks that occur in a ``publication`` column."""
    used = set(publication)
    return " ".join(NOTES[k] for k in ("caution", "model_based", "suppressed") if k in used)


def mark(publication: str) -> str:
    return MARKS.get(publication, "")


__all__ = ["PUBLICATION_COLUMNS", "MARKS", "NOTES", "RULE_TEXT", "apply_policy", "policy_footnote", "mark",
           "rule_text"]
