"""What the report notebooks call: a year's tables, shaped for reading.

Notebooks stay thin: each cell asks :class:`Report` for a frame, a sentence or a chart
and shows it. Everything here is plain pandas and testable without Jupyter.

Speed: a year's tables, its configuration and the columns of the microdata that the
annexes quote (comments, profile) are read once per process and kept
(:func:`load_year_data`), keyed on the files' modification times, so a warm kernel
that renders one unit after another pays for the reading once.

Statistics columns are optional. When ``indices`` carries ``ci_low``/``ci_high`` the
tables show the interval under each figure; a non-empty ``flag`` marks the figure with
an asterisk and a footnote; ``tests`` (``outputs/<year>/tables/tests.csv``) decides the
wording "có ý nghĩa thống kê" (see :meth:`Report.tests`). Without them the annexes show
point estimates and never claim significance.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from sipas.base import formats as fmt
from sipas.base.codebook import YearConfig
from sipas.base.config import Paths
from sipas.base.config import paths as default_paths
from sipas.estimation.indices import PROVINCE_ID, group_id

AGGREGATION_TEXT = {
    "unit_mean": "trung bình cộng (không trọng số) chỉ số của các đơn vị",
    "respondent_weighted": "tính trên toàn bộ người trả lời, có trọng số thiết kế",
}
TABLE_NAMES = ("indices", "sample", "profile", "expectations", "tests", "ranks", "perceptions")
STAT_COLUMNS = ("se", "ci_low", "ci_high", "ci_method", "deff", "n_eff", "df", "flag")
CI_METHOD_TEXT = {"logit": "khoảng tin cậy logit", "beta": "khoảng tin cậy Korn–Graubard",
                  "wald": "khoảng tin cậy Wald", "mean": "khoảng tin cậy Wald"}
FLAG_MARK = "*"  # a flag the package does not know
FLAG_MARKS = {"review": "†", "suppress": "‡"}  # sipas.estimation.indices.reliability_flag codes
SUPPRESS = "suppress"
_ASSETS = Path(__file__).parent / "assets"


# ----------------------------------------------------------------- loading


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return -1


def _read(path: Path) -> pd.DataFrame | None:
    if path.with_suffix(".parquet").is_file():
        return pd.read_parquet(path.with_suffix(".parquet"))
    if path.with_suffix(".csv").is_file():
        return pd.read_csv(path.with_suffix(".csv"), keep_default_na=True)
    return None


@dataclass(frozen=True)
class YearData:
    cfg: YearConfig
    tables: dict[str, pd.DataFrame | None]
    responses: pd.DataFrame | None


@lru_cache(maxsize=16)
def _load(year: int, root: str, stamp: tuple) -> YearData:
    p = Paths(Path(root))
    cfg = YearConfig(year, p)
    tables = {name: _read(p.tables(year) / name) for name in TABLE_NAMES}
    if tables["indices"] is None:
        from sipas.base.errors import SipasError

        raise SipasError("result table not found", file=p.tables(year) / "indices.parquet",
                         hint=f"run `sipas estimate --year {year}`")
    responses = None
    if p.responses(year).is_file():
        import pyarrow.parquet as pq

        names = set(pq.read_schema(p.responses(year)).names)
        wanted = ["respondent_id", "unit_id", "weight", "comment"] + [v.id for v in cfg.methodology.profile] \
            + cfg.methodology.criterion_ids
        responses = pd.read_parquet(p.responses(year), columns=[c for c in wanted if c in names])
    return YearData(cfg, tables, responses)


def load_year_data(year: int, p: Paths) -> YearData:
    """The year's configuration, tables and quoted microdata, read once per process."""
    stamp = tuple(_mtime(p.tables(year) / f"{n}.parquet") for n in TABLE_NAMES) + \
        tuple(_mtime(p.tables(year) / f"{n}.csv") for n in ("tests", "ranks")) + (_mtime(p.responses(year)),)
    return _load(int(year), str(p.root), stamp)


def years_with_tables(p: Paths) -> list[int]:
    base = p.outputs()
    if not base.is_dir():
        return []
    return sorted(int(d.name) for d in base.iterdir()
                  if d.name.isdigit() and (d / "tables" / "indices.parquet").is_file())


# ------------------------------------------------------------------ helpers


def is_flagged(value) -> bool:
    """A reliability flag that says something (not empty, not NaN, not 'ok')."""
    if value is None or value is pd.NA:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().lower()
    return text not in ("", "nan", "none", "ok", "false", "0", "reliable")


def flag_codes(value) -> list[str]:
    return [p.strip().lower() for p in re.split(r"[;,|]", str(value)) if p.strip()] if is_flagged(value) else []


def flag_mark(value) -> str:
    """The footnote mark of a reliability flag: † review, ‡ suppress, * anything else."""
    return "".join(FLAG_MARKS.get(c, FLAG_MARK) for c in flag_codes(value))


def is_suppressed(value) -> bool:
    return SUPPRESS in flag_codes(value)


def ci_text(lo, hi, digits: int = 1) -> str:
    """An interval in Vietnamese style: ``85,1–90,4``."""
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return ""
    return f"{fmt.number(100 * lo, digits)}–{fmt.number(100 * hi, digits)}"


def lc(label: str) -> str:
    """A label inside a sentence: first letter lower-cased unless the first word is an
    acronym (``Các sở, ban, ngành`` -> ``các sở, ban, ngành``; ``UBND các huyện`` stays)."""
    first = label.split(" ", 1)[0]
    if len(first) > 1 and first.isupper():
        return label
    return label[:1].lower() + label[1:]


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", str(text)).lower()


_PERSONAL = [
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[thư điện tử đã ẩn]"),
    (re.compile(r"(?<!\d)(\+?84|0)[\s.-]?\d{2,3}([\s.-]?\d{3}){2}\d?(?!\d)"), "[số điện thoại đã ẩn]"),
    (re.compile(r"(?<!\d)\d{9}(\d{3})?(?!\d)"), "[số giấy tờ đã ẩn]"),
]


def redact(text: str) -> str:
    """Mask what looks like personal data in a citizen's free text (e-mail, phone, ID numbers)."""
    for rx, repl in _PERSONAL:
        text = rx.sub(repl, text)
    return text


@lru_cache(maxsize=4)
def _themes_from(path: str) -> tuple:
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    out = []
    for t in data["themes"]:
        kws = [_fold(k) for k in t["keywords"]]
        rx = re.compile(r"(?<!\w)(" + "|".join(re.escape(k) for k in sorted(kws, key=len, reverse=True)) + r")(?!\w)")
        out.append((t["id"], unicodedata.normalize("NFC", t["label"]), rx))
    return tuple(out)


def comment_themes_spec(p: Paths) -> tuple:
    """(id, label, regex) per theme: ``params/comment_themes.yaml`` if present, else the package's."""
    own = p.params / "comment_themes.yaml"
    return _themes_from(str(own if own.is_file() else _ASSETS / "comment_themes.yaml"))


class _Lookup:
    """Positions of the first ``indices`` row of each (unit_id, item_id) and the columns
    :class:`Report` reads from it, as numpy arrays."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        keys = zip(frame["unit_id"].tolist(), frame["item_id"].tolist())
        self.pos: dict = {}
        for i, key in enumerate(keys):
            self.pos.setdefault(key, i)
        col = (lambda c: frame[c].to_numpy() if c in frame.columns else None)
        self.estimate = frame["estimate"].to_numpy(dtype=float, na_value=np.nan)
        self.ci_low, self.ci_high, self.flag = col("ci_low"), col("ci_high"), col("flag")
        self.has_intervals = self.ci_low is not None and self.ci_high is not None and \
            bool(frame["ci_low"].notna().any())
        # the reliability codes in use, sorted (empty: no figure is flagged)
        flags = set(self.flag.tolist()) if self.flag is not None else set()
        self.has_flags = any(is_flagged(v) for v in flags)
        self.flag_codes = sorted({c for v in flags for c in flag_codes(v)})


# ------------------------------------------------------------------- report


class Report:
    """A year's results, read from ``outputs/<year>/tables/``."""

    def __init__(self, year: int, root: str | Path | None = None):
        self.paths: Paths = default_paths(root or None)
        data = load_year_data(int(year), self.paths)
        self.cfg = data.cfg
        self.year = int(year)
        self.method = self.cfg.methodology
        self.indices = data.tables["indices"]
        self.sample = data.tables["sample"]
        self.profile = data.tables["profile"]
        self.expectations = data.tables["expectations"]
        self.perceptions = data.tables.get("perceptions")
        self._tests_raw = data.tables["tests"]
        self._ranks = data.tables["ranks"]
        self.responses = data.responses

    # ------------------------------------------------------------ lookups

    @property
    def province(self) -> str:
        return self.cfg.settings.province

    @property
    def aggregation(self) -> str:
        return self.cfg.settings.province_aggregation

    @property
    def aggregation_text(self) -> str:
        return AGGREGATION_TEXT[self.aggregation]

    @property
    def alpha(self) -> float:
        return 1 - self.cfg.settings.confidence_level

    @property
    def level_text(self) -> str:
        return f"{fmt.number(100 * self.cfg.settings.confidence_level)}%"

    def unit(self, unit_id: str):
        return self.cfg.registry.unit(unit_id)

    def type_label(self, unit_type: str, plural: bool = False) -> str:
        t = self.cfg.registry.unit_type(unit_type)
        return t.label_plural if plural else t.label

    @property
    def unit_types(self) -> list[str]:
        present = {u.type for u in self.cfg.units}
        return [t.id for t in self.cfg.registry.unit_types if t.id in present]

    @cached_property
    def _by_key(self) -> _Lookup:
        return _Lookup(self.indices)

    def _key(self) -> _Lookup:
        """(unit_id, item_id) -> first row of ``indices``: plain dict and arrays, since the
        annexes look up hundreds of single figures (rebuilt if ``indices`` is replaced)."""
        k = self._by_key
        if k.frame is not self.indices:
            self.__dict__.pop("_by_key", None)
            k = self._by_key
        return k

    def row(self, scope: str, item_id: str = "sipas") -> pd.Series | None:
        pos = self._key().pos.get((scope, item_id))
        return None if pos is None else self.indices.iloc[pos]

    def value(self, scope: str, item_id: str = "sipas") -> float:
        k = self._key()
        pos = k.pos.get((scope, item_id))
        return float(k.estimate[pos]) if pos is not None else float("nan")

    def interval(self, scope: str, item_id: str = "sipas") -> tuple[float, float] | None:
        k = self._key()
        pos = k.pos.get((scope, item_id))
        if pos is None or not k.has_intervals:
            return None
        lo, hi = k.ci_low[pos], k.ci_high[pos]
        if pd.isna(lo) or pd.isna(hi):
            return None
        return float(lo), float(hi)

    def flagged(self, scope: str, item_id: str = "sipas") -> bool:
        return bool(self.flag(scope, item_id))

    def flag(self, scope: str, item_id: str = "sipas") -> str:
        """The reliability flag of a figure ('' when none)."""
        k = self._key()
        pos = k.pos.get((scope, item_id))
        if pos is None or k.flag is None or not is_flagged(k.flag[pos]):
            return ""
        return str(k.flag[pos])

    @property
    def has_intervals(self) -> bool:
        return {"ci_low", "ci_high"} <= set(self.indices.columns) and self.indices["ci_low"].notna().any()

    @property
    def has_flags(self) -> bool:
        return self._key().has_flags

    @property
    def ci_method_text(self) -> str:
        """'khoảng tin cậy logit' (the most used method), naming any other one used for a few cells."""
        if "ci_method" not in self.indices.columns or not self.indices["ci_method"].notna().any():
            return "khoảng tin cậy"
        counts = self.indices["ci_method"].dropna().astype(str).value_counts()
        main = CI_METHOD_TEXT.get(counts.index[0], f"khoảng tin cậy ({counts.index[0]})")
        others = [CI_METHOD_TEXT.get(m, m).replace("khoảng tin cậy ", "") for m in counts.index[1:]]
        return main + (f" (một số ô: {', '.join(others)})" if others else "")

    @property
    def top_items(self) -> list[tuple[str, str]]:
        """(id, label) of the components of the index: aspects if any, else elements."""
        short = self.method.short_labels()
        tops = self.method.aspects or self.method.elements
        return [(x.id, short[x.id]) for x in tops]

    def unit_ids(self, unit_type: str | None = None) -> list[str]:
        return [u.id for u in self.cfg.units if unit_type is None or u.type == unit_type]

    # ------------------------------------------------------------- frames

    def ranking(self, unit_type: str) -> pd.DataFrame:
        """Units of one type ranked by SIPAS (ties share the better rank); with the SIPAS
        interval (``ci_low``, ``ci_high``), ``flag`` and rank interval when available.
        Computed once per report and type (a copy each call: callers may add columns)."""
        memo = self.__dict__.setdefault("_rankings", {})
        hit = memo.get(unit_type)
        if hit is None or hit[0] is not self.indices or hit[1] is not self._ranks:
            hit = memo[unit_type] = (self.indices, self._ranks, self._ranking(unit_type))
        return hit[2].copy()

    def _ranking(self, unit_type: str) -> pd.DataFrame:
        ids = self.unit_ids(unit_type)
        idx = self.indices[self.indices.unit_id.isin(ids)]
        wide = idx.pivot_table(index=["unit_id", "unit_name"], columns="item_id", values="estimate",
                               sort=False).reset_index()
        wide.columns.name = None
        sip = idx[idx.item_id == "sipas"].set_index("unit_id")
        wide["n"] = wide["unit_id"].map(sip["n"])
        for col in ("ci_low", "ci_high", "flag"):
            if col in sip.columns:
                wide[col] = wide["unit_id"].map(sip[col])
        wide = wide.sort_values(["sipas", "unit_id"], ascending=[False, True], kind="mergesort")
        wide.insert(0, "rank", wide["sipas"].rank(method="min", ascending=False).astype(int))
        ranks = self.rank_intervals()
        if ranks is not None:
            wide = wide.merge(ranks, on="unit_id", how="left")
        return wide.reset_index(drop=True)

    def rank_intervals(self) -> pd.DataFrame | None:
        """``unit_id, rank_low, rank_high`` from the ``ranks`` table, if the statistics wrote one."""
        r = self._ranks
        if r is None or "unit_id" not in r:
            return None
        if "item_id" in r:  # sipas.estimation.ranks writes every index; the ranking is by the overall one
            r = r[r["item_id"] == "sipas"]
        lo = next((c for c in ("rank_low", "rank_ci_low", "ci_low") if c in r), None)
        hi = next((c for c in ("rank_high", "rank_ci_high", "ci_high") if c in r), None)
        if lo is None or hi is None:
            return None
        return r[["unit_id", lo, hi]].rename(columns={lo: "rank_low", hi: "rank_high"}).drop_duplicates("unit_id")

    def rank_of(self, unit_id: str) -> tuple[int, int]:
        r = self.ranking(self.unit(unit_id).type)
        return int(r.loc[r.unit_id == unit_id, "rank"].iloc[0]), len(r)

    def items(self) -> list[tuple[str, str]]:
        """(id, label) of the elements, aspects and the index, top-down display order."""
        return [(e.id, e.label) for e in self.method.elements] + \
            [(a.id, a.label) for a in self.method.aspects] + [("sipas", self.method.index_label)]

    def element_profile(self, unit_id: str) -> pd.DataFrame:
        """Element (and SIPAS) indices of a unit beside its peer group and the province,
        with the unit's interval and flag when available."""
        scopes = {"unit": unit_id, "group": group_id(self.unit(unit_id).type), "province": PROVINCE_ID}
        rows = []
        for item_id, label in self.items():
            rec = {"item_id": item_id, "item_label": label, **{k: self.value(s, item_id) for k, s in scopes.items()}}
            ci = self.interval(unit_id, item_id)
            rec["ci_low"], rec["ci_high"] = ci if ci else (np.nan, np.nan)
            rec["flag"] = self.flag(unit_id, item_id)
            rec["diff_group"] = rec["unit"] - rec["group"]
            rows.append(rec)
        return pd.DataFrame(rows)

    def criteria(self, scope: str) -> pd.DataFrame:
        """Criterion rows of a scope: element label, criterion, estimate, n (+ interval, flag)."""
        idx = self.indices[(self.indices.unit_id == scope) & (self.indices.level == "criterion")]
        cols = ["parent_id", "item_id", "item_label", "estimate", "n"] + \
            [c for c in ("ci_low", "ci_high", "flag") if c in idx.columns]
        out = idx[cols].reset_index(drop=True)
        out.insert(1, "element", out["parent_id"].map(self.method.labels()))
        return out

    def scope_levels(self, scopes: list[str]) -> pd.DataFrame:
        """Element and SIPAS indices for several scopes side by side (rows = items)."""
        return pd.DataFrame([{"item_id": i, "item_label": lab, **{s: self.value(s, i) for s in scopes}}
                             for i, lab in self.items()])

    def scope_name(self, scope: str) -> str:
        rows = self.indices[self.indices.unit_id == scope]
        return str(rows["unit_name"].iloc[0]) if len(rows) else scope

    def profile_of(self, scope: str, with_province: bool = False) -> pd.DataFrame:
        prof = self.profile[self.profile.unit_id == scope].reset_index(drop=True)
        if with_province:
            prov = self.profile[self.profile.unit_id == PROVINCE_ID].set_index(["variable", "category"])["share"]
            prof["province_share"] = [prov.get((v, c), np.nan) for v, c in zip(prof.variable, prof.category)]
        return prof

    def expectations_of(self, scope: str, with_province: bool = False) -> pd.DataFrame:
        e = self.expectations[self.expectations.unit_id == scope]
        e = e.sort_values(["share", "item_id"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
        if with_province:
            prov = self.expectations[self.expectations.unit_id == PROVINCE_ID].set_index("item_id")["share"]
            e["province_share"] = e["item_id"].map(prov)
        return e

    @property
    def expectation_top(self) -> str:
        """What counts for an expectation item: "chọn" (multiple choice) or the labels of
        the rated categories that count (“Rất nhiều”)."""
        exp = self.method.expectations
        if exp is None or not exp.rated:
            return ""
        return " / ".join(f"“{c.label}”" for c in exp.categories if c.code in exp.top)

    def perceptions_of(self, scope: str, with_province: bool = False) -> pd.DataFrame:
        """Answers to the perception topics of a scope, by category (empty when the
        methodology has none)."""
        p = self.perceptions
        if p is None or not len(p):
            return pd.DataFrame(columns=["variable", "variable_label", "category", "category_label",
                                         "positive", "n", "share"])
        out = p[p.unit_id == scope].reset_index(drop=True)
        if with_province:
            prov = p[p.unit_id == PROVINCE_ID].set_index(["variable", "category"])["share"]
            out["province_share"] = [prov.get((v, c), np.nan) for v, c in zip(out.variable, out.category)]
        return out

    def perception_index(self, scope: str) -> pd.DataFrame:
        """"Chỉ số đánh giá" of each topic that has positive categories: the share of
        positive answers among the valid ones (``estimate``), with the province's beside."""
        rows = []
        prov = self.perceptions_of(PROVINCE_ID)
        pairs = [(scope, self.perceptions_of(scope))] + ([(PROVINCE_ID, prov)] if scope != PROVINCE_ID else [])
        for scope_, frame in pairs:
            for var, g in frame.groupby("variable", sort=False):
                if not g.positive.astype(bool).any():
                    continue
                total = int(g.n.sum())
                rows.append({"scope": scope_, "variable": var, "variable_label": g.variable_label.iloc[0],
                             "positive_labels": ", ".join(g.category_label[g.positive.astype(bool)]),
                             "n": total, "estimate": g.n[g.positive.astype(bool)].sum() / total if total else np.nan})
        if not rows:
            return pd.DataFrame(columns=["variable", "variable_label", "positive_labels", "n", "estimate", "province"])
        t = pd.DataFrame(rows)
        out = t[t.scope == scope].drop(columns="scope").reset_index(drop=True)
        out["province"] = out.variable.map(t[t.scope == PROVINCE_ID].set_index("variable")["estimate"])
        return out

    def sample_of(self, unit_id: str) -> pd.Series:
        return self.sample[self.sample.unit_id == unit_id].iloc[0]

    # ------------------------------------------------------- other years

    @cached_property
    def previous(self) -> Report | None:
        """The previous year's report, when its tables exist."""
        prev = self.cfg.registry.previous_year
        if prev is None or not (self.paths.tables(prev) / "indices.parquet").is_file():
            return None
        return Report(prev, self.paths.root)

    def trend(self, scope: str, items: list[str] | None = None) -> pd.DataFrame:
        """``year, item_id, item_label, estimate`` for every year up to this one that has tables."""
        items = items or ["sipas"]
        rows = []
        for y in years_with_tables(self.paths):
            if y > self.year:
                continue
            rep = self if y == self.year else Report(y, self.paths.root)
            labels = dict(rep.items())
            for i in items:
                v = rep.value(scope, i)
                if not math.isnan(v):
                    rows.append({"year": y, "item_id": i, "item_label": labels.get(i, i), "estimate": v})
        return pd.DataFrame(rows, columns=["year", "item_id", "item_label", "estimate"])

    def change(self, scope: str, item_id: str = "sipas") -> dict | None:
        """This year against the previous one: previous, current, difference and the test
        (``significant`` is None when there is no test table)."""
        prev = self.previous
        if prev is None:
            return None
        before, now = prev.value(scope, item_id), self.value(scope, item_id)
        if math.isnan(before) or math.isnan(now):
            return None
        t = self.test("change", scope, item_id)
        return {"previous": before, "current": now, "diff": now - before, "previous_year": prev.year,
                "significant": None if t is None else t["significant"],
                "p_adjusted": None if t is None else t.get("p_adjusted")}

    def changes(self, unit_type: str | None = None) -> pd.DataFrame:
        """Every unit (of a type) present in both years, with the change of its SIPAS."""
        rows = []
        for uid in self.unit_ids(unit_type):
            c = self.change(uid)
            if c is not None:
                rows.append({"unit_id": uid, "unit_name": self.unit(uid).name, **c})
        cols = ["unit_id", "unit_name", "previous", "current", "diff", "previous_year", "significant", "p_adjusted"]
        df = pd.DataFrame(rows, columns=cols)
        return df.sort_values(["diff", "unit_id"], ascending=[False, True], kind="mergesort").reset_index(drop=True)

    # -------------------------------------------------------------- tests

    @cached_property
    def tests(self) -> pd.DataFrame | None:
        """The statistics' test table, normalised to the columns
        ``kind`` (change / peer / groups), ``unit_id``, ``item_id``, ``variable``,
        ``difference``, ``p_value``, ``p_adjusted``, ``significant``.

        Read tolerantly: the kind comes from a ``test``/``kind``/``family`` column (values
        naming a year change, the peer group, or a Rao–Scott test of respondent groups);
        ``significant`` from a ``significant``/``reject`` column, else adjusted p < 1 − level.
        """
        t = self._tests_raw
        if t is None or not len(t):
            return None
        t = t.copy()
        kind_col = next((c for c in ("test", "kind", "family", "comparison", "type") if c in t), None)
        if kind_col is None:
            return None

        def kind(v: str) -> str:
            v = str(v).lower()
            if any(k in v for k in ("chisq", "rao", "scott", "respondent", "profile", "association")):
                return "groups"
            if any(k in v for k in ("change", "year", "prev", "trend", "annual")):
                return "change"
            if any(k in v for k in ("peer", "rest", "group", "vs", "other")):
                return "peer"
            return v

        out = pd.DataFrame({"kind": t[kind_col].map({v: kind(v) for v in set(t[kind_col].tolist())})})
        out["unit_id"] = t["unit_id"] if "unit_id" in t else (t["scope"] if "scope" in t else PROVINCE_ID)
        out["item_id"] = t["item_id"] if "item_id" in t else "sipas"
        var = next((c for c in ("variable", "by", "row", "profile") if c in t), None)
        if var:
            out["variable"] = t[var].fillna("")
        elif "family" in t:  # sipas.estimation.significance: family "association/<variable>"
            fam = t["family"].fillna("").astype(str)
            out["variable"] = np.where(out["kind"] == "groups", fam.str.split("/", n=1).str[-1], "")
        else:
            out["variable"] = ""
        diff = next((c for c in ("difference", "diff", "estimate") if c in t), None)
        out["difference"] = t[diff] if diff else np.nan
        out["p_value"] = t["p_value"] if "p_value" in t else (t["p"] if "p" in t else np.nan)
        padj = next((c for c in ("p_adjusted", "p_adj", "p_value_adjusted", "p_holm", "p_bh", "p_value_adj") if c in t), None)
        out["p_adjusted"] = t[padj] if padj else out["p_value"]
        sig = next((c for c in ("significant", "reject", "sig") if c in t), None)
        if sig:
            yes = {v: str(v).strip().lower() in ("true", "1", "yes", "1.0") for v in set(t[sig].tolist())}
            out["significant"] = t[sig].map(yes)
        else:
            out["significant"] = out["p_adjusted"].astype(float) < self.alpha
        return out

    def test(self, kind: str, scope: str, item_id: str = "sipas", variable: str | None = None) -> dict | None:
        t = self.tests
        if t is None:
            return None
        memo = self.__dict__.get("_test_pos")
        if memo is None or memo[0] is not t:   # first row of each (kind, scope, item) and (kind, scope, variable)
            by_item: dict = {}
            by_var: dict = {}
            for i, (k, u, it, v) in enumerate(zip(t["kind"].tolist(), t["unit_id"].tolist(),
                                                   t["item_id"].tolist(), t["variable"].tolist())):
                by_item.setdefault((k, u, it), i)
                by_var.setdefault((k, u, v), i)
            memo = self.__dict__["_test_pos"] = (t, by_item, by_var)
        pos = memo[2].get((kind, scope, variable)) if variable is not None else memo[1].get((kind, scope, item_id))
        return t.iloc[pos].to_dict() if pos is not None else None

    # ------------------------------------------------- respondent groups

    def group_differences(self, scope: str = PROVINCE_ID) -> pd.DataFrame:
        """Design-weighted share of respondents "satisfied overall" (their own index at
        least 50%, :func:`sipas.estimation.significance.satisfied_overall`) by category of each
        profile question, for a unit or the province; with the Rao–Scott test's adjusted
        p-value and verdict when the test table has them."""
        df = self.responses
        cols = ["variable", "variable_label", "category", "category_label", "n", "rate", "p_adjusted", "significant"]
        if df is None:
            return pd.DataFrame(columns=cols)
        return _group_rates(self, scope).copy()

    # ---------------------------------------------------------- comments

    def _comments_frame(self, scope: str) -> pd.DataFrame:
        """A scope's non-empty comments in a stable order (kept per report: read-only)."""
        memo = self.__dict__.setdefault("_comments", {})
        hit = memo.get(scope)
        if hit is None or hit[0] is not self.responses:
            hit = memo[scope] = (self.responses, self._comments_of(scope))
        return hit[1]

    def _comments_of(self, scope: str) -> pd.DataFrame:
        df = self.responses
        if df is None or "comment" not in df:
            return pd.DataFrame(columns=["respondent_id", "unit_id", "comment"])
        sub = df if scope == PROVINCE_ID else df[df.unit_id == scope]
        sub = sub[sub.comment.notna() & (sub.comment.astype(str).str.strip() != "")]
        return sub[["respondent_id", "unit_id", "comment"]].sort_values(["unit_id", "respondent_id"], kind="mergesort")

    def comments(self, unit_id: str, k: int = 5) -> list[str]:
        """Up to ``k`` non-empty open comments of a unit (or the province), in a stable
        order, one per theme first so that the quotes are varied; personal data masked."""
        sub = self._comments_frame(unit_id)
        texts = [redact(str(c).strip()) for c in sub["comment"]]
        chosen: list[str] = []
        for _tid, _label, rx in comment_themes_spec(self.paths):
            for t in texts:
                if rx.search(_fold(t)) and t not in chosen:
                    chosen.append(t)
                    break
            if len(chosen) >= k:
                break
        for t in texts:
            if len(chosen) >= k:
                break
            if t not in chosen:
                chosen.append(t)
        return chosen[:k]

    def comment_themes(self, scope: str) -> pd.DataFrame:
        """Per theme: comments that mention it (``n``) and their share of all comments."""
        sub = self._comments_frame(scope)
        folded = [_fold(c) for c in sub["comment"]]
        total = len(folded)
        rows = []
        for tid, label, rx in comment_themes_spec(self.paths):
            n = sum(1 for c in folded if rx.search(c))
            rows.append({"theme_id": tid, "theme": label, "n": n, "share": n / total if total else np.nan})
        out = pd.DataFrame(rows, columns=["theme_id", "theme", "n", "share"])
        out["order"] = range(len(out))
        out = out.sort_values(["n", "order"], ascending=[False, True], kind="mergesort").drop(columns="order")
        out.attrs["comments"] = total
        out.attrs["respondents"] = int((self.responses.unit_id == scope).sum()) if scope != PROVINCE_ID and \
            self.responses is not None else (len(self.responses) if self.responses is not None else 0)
        return out.reset_index(drop=True)


_GROUP_CACHE: dict[tuple, pd.DataFrame] = {}


def _respondent_scores(rep: Report) -> tuple[np.ndarray, str]:
    """Per respondent: 1/0 "satisfied overall" as the statistics test it
    (:func:`sipas.estimation.significance.satisfied_overall`), else the share of positive answers."""
    key = ("scores", id(rep.responses))
    if key in _GROUP_CACHE:
        return _GROUP_CACHE[key]
    df = rep.responses
    try:
        from sipas.estimation.significance import satisfied_overall

        out = (satisfied_overall(df, rep.cfg).to_numpy(dtype=float), "satisfied")
    except Exception:  # the statistics module absent or changed: a descriptive fallback
        method = rep.method
        crit = [c for c in method.criterion_ids if c in df]
        valid = np.zeros((len(df), len(crit)), dtype=bool)
        pos = np.zeros_like(valid)
        for j, cid in enumerate(crit):
            scale = method.scale_of(cid)
            col = df[cid].astype("Int64")
            valid[:, j] = col.isin(scale.valid_codes).fillna(False).to_numpy(dtype=bool)
            pos[:, j] = col.isin(scale.positive).fillna(False).to_numpy(dtype=bool)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = ((pos & valid).sum(1) / valid.sum(1), "share")
    _GROUP_CACHE[key] = out
    return out


def _group_rates(rep: Report, scope: str) -> pd.DataFrame:
    """Design-weighted share of respondents satisfied overall, per category of each
    profile question (what the Rao–Scott tests of the statistics compare)."""
    key = (id(rep.responses), rep.year, scope)
    if key in _GROUP_CACHE:
        return _GROUP_CACHE[key]
    df = rep.responses
    score, _kind = _respondent_scores(rep)
    w = df["weight"].to_numpy(dtype=float) if "weight" in df else np.ones(len(df))
    ok = ~np.isnan(score)
    mask = np.ones(len(df), dtype=bool) if scope == PROVINCE_ID else (df["unit_id"] == scope).to_numpy()
    rows = []
    for var in rep.method.profile:
        if var.type != "category" or var.id not in df:
            continue
        codes = df[var.id].astype("string").to_numpy()
        t = rep.test("groups", scope, variable=var.id)
        for cat in var.categories:
            m = mask & (codes == cat.code)
            n = int(m.sum())
            den = w[m & ok].sum()
            rate = float((w * np.where(ok, score, 0))[m & ok].sum() / den) if den > 0 else np.nan
            rows.append({"variable": var.id, "variable_label": var.label, "category": cat.code,
                         "category_label": cat.label, "n": n, "rate": rate,
                         "p_adjusted": None if t is None else t.get("p_adjusted"),
                         "significant": None if t is None else t.get("significant")})
    out = pd.DataFrame(rows, columns=["variable", "variable_label", "category", "category_label", "n", "rate",
                                      "p_adjusted", "significant"])
    if len(_GROUP_CACHE) > 256:
        _GROUP_CACHE.clear()
    _GROUP_CACHE[key] = out
    return out


# -------------------------------------------------------------------- display


def _cell_pct(v, lo=None, hi=None, flag=None, digits: int = 2) -> str:
    mark = flag_mark(flag) if flag is not None else ""
    if mark and is_suppressed(flag):  # not published: the mark says why
        return f'–<sup class="flag" title="Không đủ độ tin cậy để công bố">{mark}</sup>'
    text = fmt.pct(v, digits)
    if mark:
        text += f'<sup class="flag" title="Cần thận trọng khi sử dụng">{mark}</sup>'
    ci = ci_text(lo, hi) if lo is not None else ""
    if ci:
        text += f'<span class="ci">{ci}</span>'
    return text


def table_html(df: pd.DataFrame, columns: dict[str, str], pct: tuple[str, ...] = (),
               num: tuple[str, ...] = (), caption: str | None = None, css: str = "sipas-table",
               ci: dict[str, tuple[str, str]] | None = None, flags: dict[str, str] | None = None,
               group: str | None = None, html_cols: tuple[str, ...] = (), pp: tuple[str, ...] = (),
               note: str | None = None, highlight: tuple[str, str] | None = None) -> str:
    """An escaped HTML table: ``columns`` maps frame columns to Vietnamese headers;
    ``pct`` columns print as 82,66%, ``num`` with thousands dots, ``pp`` as differences in
    percentage points. ``ci`` maps a pct column to its (low, high) columns, shown under
    the figure; ``flags`` maps a pct column to a flag column (asterisk). ``group`` names
    a column whose changes start a band row instead of repeating it on every row.
    ``html_cols`` hold trusted markup built by the package (links); every other value
    is escaped. ``highlight`` = (column, value) marks that row."""
    ci = ci or {}
    flags = flags or {}
    right = set(pct) | set(num) | set(pp)
    head = "".join(f'<th class="num" scope="col">{html.escape(h)}</th>' if c in right
                   else f'<th scope="col">{html.escape(h)}</th>' for c, h in columns.items())
    body = []
    last = object()
    for _, r in df.iterrows():
        if group is not None and r[group] != last:
            last = r[group]
            body.append(f'<tr class="band"><th colspan="{len(columns)}" scope="rowgroup">{html.escape(str(last))}</th></tr>')
        cells = []
        for col in columns:
            v = r[col]
            if col in pct:
                lo, hi = (r.get(ci[col][0]), r.get(ci[col][1])) if col in ci else (None, None)
                fl = r.get(flags[col]) if col in flags else None
                cells.append(f'<td class="num">{_cell_pct(v, lo, hi, fl)}</td>')
            elif col in num:
                cells.append(f'<td class="num">{fmt.number(v)}</td>')
            elif col in pp:
                cells.append(f'<td class="num">{fmt.pp(v).replace(" điểm %", "")}</td>')
            elif col in html_cols:
                cells.append(f"<td>{v}</td>")
            else:
                cells.append(f"<td>{html.escape('' if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))}</td>")
        cls = ' class="hl"' if highlight is not None and r.get(highlight[0]) == highlight[1] else ""
        body.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    foot = f'<p class="table-note">{note}</p>' if note else ""
    return (f'<div class="table-wrap"><table class="{css}">{cap}<thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>{foot}</div>')


def flag_note(rep: Report) -> str:
    """Footnote: the interval legend, and the meaning of each reliability mark in use
    (wording from :func:`sipas.estimation.indices.flag_footnote` when the statistics provide it)."""
    parts = []
    if rep.has_intervals:
        parts.append(f"Số nhỏ dưới mỗi tỷ lệ: {html.escape(rep.ci_method_text)} {rep.level_text} (đơn vị: %).")
    if rep.has_flags:
        used = rep._key().flag_codes
        from sipas.estimation.indices import FLAG_NOTES, flag_footnote

        for code in used:
            if code not in FLAG_NOTES:
                raise ValueError(f"reliability flag {code!r} has no footnote in sipas.estimation.indices.FLAG_NOTES")
            mark = FLAG_MARKS.get(code, FLAG_MARK)
            text = flag_footnote([code]).split(") ", 1)[-1]
            parts.append(f'<span class="flagnote"><sup class="flag">{mark}</sup> {html.escape(text)}</span>')
    return " ".join(parts)


def show(markup: str):
    """Display HTML in a notebook (and so in the rendered annex)."""
    from IPython.display import HTML, display

    display(HTML(markup))


def figure_html(fig, alt: str, caption: str | None = None, dpi: int = 144, width: str = "100%") -> str:
    """A matplotlib figure as an embedded PNG in a ``<figure>``; the figure is closed.

    144 dpi: 1008 pixels across the 7-inch column the charts are drawn for (1.5 device
    pixels per CSS pixel on screen, 144 dpi on paper), sharp in both. zlib level 3 makes
    these flat-coloured PNGs about 7% larger than the default level 6 in about two thirds
    of the time."""
    import base64
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, pil_kwargs={"compress_level": 3})
    w_in = fig.get_figwidth()
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (f'<figure class="chart"><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" '
            f'style="width:{width};max-width:{w_in:.1f}in">{cap}</figure>')


def comments_html(comments: list[str]) -> str:
    """Citizens' free text, escaped: markup in a comment shows as text, never runs."""
    if not comments:
        return "<p><em>Không có ý kiến khác.</em></p>"
    items = "".join(f"<li>“{html.escape(c)}”</li>" for c in comments)
    return f'<ul class="comments">{items}</ul>'


def heading(number: int | str | None, text: str, level: int = 2) -> str:
    label = f"{number}. {text}" if number not in (None, "") else text
    return f"<h{level}>{html.escape(label)}</h{level}>"


def paragraphs(sentences: list[str]) -> str:
    """Trusted sentences (already escaped by :mod:`sipas.publishing.narrative`) as paragraphs."""
    return "".join(f"<p>{s}</p>" for s in sentences if s)
