"""The official table model: what a province's ranking annex holds, as data, not markup.

:func:`ranking_table` returns one frame for Word, Excel and HTML alike: a row per unit
with its STT (numbered within its group), rank (ties share the better rank), rank
interval, the change of rank since the previous comparable year ("tăng 3 bậc", "giảm 1
bậc", "giữ nguyên"), its SIPAS (a proportion, plus the text "82,66%"), interval, flag
and element indices; and a ``group`` row before each unit type, numbered with Roman
numerals ("I. Các sở, ban, ngành"). :func:`at_or_above` gives the units at or above the
threshold of ``params/official.yaml`` (90 % by default).

"Comparable" means the previous year of the registry used the same methodology (as for
the change tests, :func:`sipas.base.microdata.comparable_previous`) and the unit existed
then with the same type; otherwise the change is empty.
"""

from __future__ import annotations

import pandas as pd

from sipas.base import formats as fmt
from sipas.publishing.report import Report, ci_text, flag_mark, is_suppressed

ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]
COLUMNS = ["kind", "stt", "unit_id", "unit_name", "unit_type", "rank", "rank_low", "rank_high", "rank_interval",
           "previous_rank", "rank_change", "change_text", "sipas", "sipas_text", "ci_low", "ci_high", "ci_text",
           "flag", "mark", "at_or_above", "n"]


def roman(i: int) -> str:
    """1 -> 'I' (group numbers of an annex)."""
    return ROMAN[i - 1]


def pct_text(v) -> str:
    """A percentage with two decimals and a comma: 0.8266 -> '82,66%'."""
    return fmt.pct(None if v is None or pd.isna(v) else float(v), 2)


def change_text(delta) -> str:
    """Rank change in words: positive = moved up (a smaller rank number)."""
    if delta is None or pd.isna(delta):
        return ""
    delta = int(delta)
    if delta > 0:
        return f"tăng {delta} bậc"
    if delta < 0:
        return f"giảm {-delta} bậc"
    return "giữ nguyên"


def comparable_previous(rep: Report) -> Report | None:
    prev = rep.previous
    if prev is None or prev.method.id != rep.method.id:
        return None
    return prev


def _previous_ranks(rep: Report, unit_type: str) -> dict[str, int]:
    prev = comparable_previous(rep)
    if prev is None or unit_type not in prev.unit_types:
        return {}
    r = prev.ranking(unit_type)
    return dict(zip(r.unit_id, r["rank"].astype(int)))


def unit_rows(rep: Report, unit_type: str, threshold: float = 0.90) -> pd.DataFrame:
    """The units of one type, ranked, in the official columns (see the module doc)."""
    r = rep.ranking(unit_type)
    prev = _previous_ranks(rep, unit_type)
    out = pd.DataFrame({"kind": "unit", "stt": range(1, len(r) + 1), "unit_id": r.unit_id, "unit_name": r.unit_name,
                        "unit_type": unit_type, "rank": r["rank"].astype(int)})
    for c in ("rank_low", "rank_high", "ci_low", "ci_high"):
        out[c] = r[c] if c in r else float("nan")
    out["flag"] = r["flag"].fillna("").astype(str) if "flag" in r else ""
    out["rank_interval"] = [f"{int(a)}–{int(b)}" if not pd.isna(a) else "" for a, b in zip(out.rank_low, out.rank_high)]
    out["previous_rank"] = out.unit_id.map(prev).astype("Int64")
    out["rank_change"] = (out["previous_rank"] - out["rank"]).astype("Int64")
    out["change_text"] = [change_text(d) for d in out.rank_change]
    out["sipas"] = r["sipas"].astype(float)
    out["mark"] = [flag_mark(f) if f else "" for f in out.flag]
    out["sipas_text"] = ["–" if is_suppressed(f) else pct_text(v) for v, f in zip(out.sipas, out.flag)]
    out["ci_text"] = ["" if is_suppressed(f) else ci_text(lo, hi) for lo, hi, f in zip(out.ci_low, out.ci_high, out.flag)]
    out["at_or_above"] = (out.sipas >= threshold) & ~out.flag.map(is_suppressed)
    out["n"] = r["n"].astype(int).values
    for k, _ in rep.top_items:
        out[k] = r[k].astype(float).values if k in r else float("nan")
    return out.reset_index(drop=True)


def ranking_table(rep: Report, unit_types: list[str] | None = None, threshold: float = 0.90) -> pd.DataFrame:
    """Group rows ("I. Các sở, ban, ngành") followed by their ranked units, for each
    unit type of the year (all by default), in registry order; a group keeps its numeral
    when shown alone (Phụ lục II starts with "II. UBND các huyện, thành phố")."""
    types = unit_types or rep.unit_types
    parts = []
    for t in types:
        i = rep.unit_types.index(t) + 1  # the numeral of the type among the year's: II stays II alone
        head = {c: None for c in COLUMNS}
        head.update(kind="group", stt=roman(i), unit_name=rep.type_label(t, plural=True), unit_type=t)
        parts.append(pd.DataFrame([head]))
        parts.append(unit_rows(rep, t, threshold))
    return pd.concat(parts, ignore_index=True)


def at_or_above(rep: Report, unit_type: str, threshold: float = 0.90) -> list[str]:
    """Names of the units of a type at or above the threshold, best first."""
    r = unit_rows(rep, unit_type, threshold)
    return list(r.loc[r.at_or_above, "unit_name"])


def threshold_sentence(rep: Report, unit_type: str, threshold: float = 0.90) -> str:
    """'Có 5/16 sở, ban, ngành đạt từ 90,00% trở lên: A, B, …' (or 'không có …')."""
    from sipas.publishing.report import lc

    names = at_or_above(rep, unit_type, threshold)
    total = len(rep.unit_ids(unit_type))
    label = lc(rep.type_label(unit_type, plural=True)).removeprefix("các ")
    t = pct_text(threshold)
    if not names:
        return f"Không có {label} nào đạt chỉ số từ {t} trở lên."
    return f"Có {len(names)}/{total} {label} đạt chỉ số từ {t} trở lên: {', '.join(names)}."


def official_columns(rep: Report, r: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """``r`` (a :meth:`Report.ranking` frame) with ``stt`` and, when the previous year is
    comparable, ``change_text``; and the headers of the added columns beside the unit
    (for the HTML ranking table, :func:`sipas.publishing.annex.ranking_table`)."""
    r = r.copy()
    r.insert(0, "stt", range(1, len(r) + 1))
    prev = comparable_previous(rep)
    if prev is None or not len(r):
        return r, {}
    utype = rep.unit(r.unit_id.iloc[0]).type
    rows = unit_rows(rep, utype).set_index("unit_id")
    r["change_text"] = r.unit_id.map(rows.change_text).fillna("").replace("", "–")
    return r, {"change_text": f"Thay đổi hạng so với năm {prev.year}"}
