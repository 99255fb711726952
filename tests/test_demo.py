"""Tests of the demo survey generator (sipas.demo): determinism, sample sizes, answer codes,
internal consistency, spread of unit indices, the key of injected bad records, Unicode
forms, personal columns, and independence from a particular methodology."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import time
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from sipas.base.codebook import Methodology, YearConfig, load_year
from sipas.base.config import paths as make_paths
from sipas.base.errors import ConfigError
from sipas.demo import demo_survey, generate, load_demo_spec, sample_sizes, to_csv_bytes, write_demo_data
from sipas.demo.generate import unit_sample_sizes

REPO = Path(__file__).resolve().parents[1]
YEARS = (2022, 2023)


def norm(text: str) -> str:
    """The data contract's matching form: NFC, no diacritics (đ -> d), case folded,
    runs of non-alphanumerics as '_'."""
    text = unicodedata.normalize("NFC", text).replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return re.sub(r"[^0-9a-z]+", "_", text.casefold()).strip("_")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A project root with the repository's params and an empty data folder."""
    r = tmp_path_factory.mktemp("demo_root")
    shutil.copytree(REPO / "params", r / "params")
    return r


@pytest.fixture(scope="module")
def written(root) -> dict[int, list[Path]]:
    return {y: write_demo_data(y, root=root) for y in YEARS}


class Survey:
    def __init__(self, root: Path, year: int):
        self.cfg = YearConfig(year, make_paths(root))
        self.path = root / "data" / "raw" / str(year) / f"phieu-khao-sat-{year}.csv"
        self.raw = self.path.read_bytes()
        text = self.raw.decode("utf-8-sig")
        table = list(csv.reader(io.StringIO(text, newline="")))
        self.header, self.rows = table[0], table[1:]
        self.key = json.loads((self.path.parent / "_demo_key.json").read_text(encoding="utf-8"))
        self.col = {h: i for i, h in enumerate(self.header)}
        m = self.cfg.methodology
        self.criteria = m.criterion_ids
        self.crit_cols = [self.col[c.upper()] for c in self.criteria]
        self.unit_by_name = {u.name: u.id for u in self.cfg.units}
        self.bad_rows = {r["row"] for r in self.key["bad_records"]}
        self.nfd_rows = set(self.key["nfd_rows"])
        # answer text -> code, as intake maps it (codes, labels, aliases, accents stripped)
        self.answer_map: list[dict[str, int]] = []
        for c in m.criteria:
            sc = m.scale_of(c)
            mp = {}
            for code in (*sc.values, *sc.missing):
                for t in (str(code.code), code.label, *code.aliases):
                    mp[norm(t)] = code.code
            self.answer_map.append(mp)

    def cell(self, row: int, column: str) -> str:
        """Cell of a file row (header = 1) in NFC."""
        return unicodedata.normalize("NFC", self.rows[row - 2][self.col[column]])

    def unit_of(self, r: list[str]) -> str | None:
        return self.unit_by_name.get(unicodedata.normalize("NFC", r[self.col["Đơn vị"]]))

    def answers(self) -> np.ndarray:
        """Criterion codes (NaN for blank), labels mapped to codes."""
        if getattr(self, "_answers", None) is None:
            self._answers = self._parse_answers()
        return self._answers.copy()

    def _parse_answers(self) -> np.ndarray:
        out = np.full((len(self.rows), len(self.criteria)), np.nan)
        for i, r in enumerate(self.rows):
            for j, c in enumerate(self.crit_cols):
                t = r[c].strip()
                if t:
                    out[i, j] = int(t) if t.isdigit() else self.answer_map[j].get(norm(t), -1)
        return out

    def clean_mask(self) -> np.ndarray:
        return np.array([(i + 2) not in self.bad_rows for i in range(len(self.rows))])

    def unit_sipas(self) -> dict[str, float]:
        a = self.answers()
        ok = self.clean_mask()
        units = np.array([self.unit_of(r) for r in self.rows], dtype=object)
        m = self.cfg.methodology
        out = {}
        for u in self.cfg.units:
            sel = ok & (units == u.id)
            elems = []
            for e in m.elements:
                idx = [self.criteria.index(c.id) for c in e.criteria]
                x = a[sel][:, idx]
                valid = (x >= 1) & (x <= 5)
                elems.append(np.mean(((x >= 4) & valid).sum(0) / valid.sum(0)))
            out[u.id] = float(np.mean(elems))
        return out


@pytest.fixture(scope="module")
def surveys(root, written) -> dict[int, Survey]:
    return {y: Survey(root, y) for y in YEARS}


# ------------------------------------------------------------------ determinism


def test_write_returns_csv_and_key(written):
    for year, paths in written.items():
        assert [p.name for p in paths] == [f"phieu-khao-sat-{year}.csv", "_demo_key.json"]
        assert all(p.is_file() for p in paths)


def test_deterministic_bytes_and_seed_matters(root, written):
    for year in YEARS:
        first = [p.read_bytes() for p in written[year]]
        again = [p.read_bytes() for p in write_demo_data(year, root=root)]
        assert first == again
    other = demo_survey(2023, seed=7, root=root)
    assert to_csv_bytes(other) != written[2023][0].read_bytes()
    assert demo_survey(2023, seed=7, root=root).rows == other.rows


def test_years_differ(surveys):
    assert surveys[2022].rows[:50] != surveys[2023].rows[:50]


# ------------------------------------------------------------------------ format


def test_bom_header_and_columns(surveys):
    for year, s in surveys.items():
        assert s.raw.startswith(b"\xef\xbb\xbf")
        assert s.header[:5] == ["Mã phiếu", "Đơn vị", "Xã, phường, thị trấn", "Điều tra viên", "Ngày phỏng vấn"]
        m = s.cfg.methodology
        for c in m.criterion_ids:
            assert c.upper() in s.col
        for it in m.expectations.items:
            assert it.id.upper() in s.col
        for v in m.profile:
            assert v.label in s.col
        assert m.comment.label in s.col
        for v in s.cfg.fields.personal:
            assert v.label in s.col
        assert all(len(r) == len(s.header) for r in s.rows)


def test_sample_size_per_unit_is_the_formula_plus_listed_extras(surveys):
    for year, s in surveys.items():
        targets = s.cfg.sample_targets
        assert s.key["sample_targets"] == targets
        extra_rows = {r["row"] for r in s.key["bad_records"] if r["extra"]}
        counts = Counter(s.unit_of(r) for i, r in enumerate(s.rows) if (i + 2) not in extra_rows)
        assert None not in counts
        assert dict(counts) == targets
        extra = Counter(r["unit_id"] for r in s.key["bad_records"] if r["extra"] and r["unit_id"])
        assert dict(extra) == s.key["extra_rows_per_unit"]
        total = sum(targets.values()) + len(extra_rows)
        assert len(s.rows) == total == s.key["rows"]
        assert 7000 < len(s.rows) < 8000


def test_answers_use_allowed_codes_except_listed_out_of_range(surveys):
    for s in surveys.values():
        allowed = {1, 2, 3, 4, 5, 98, 99}
        bad = {(r["row"], r["column"]): int(r["value"]) for r in s.key["bad_records"] if r["kind"] == "out_of_range"}
        a = s.answers()
        found = {}
        for i, j in zip(*np.nonzero(~np.isnan(a) & ~np.isin(a, list(allowed)))):
            found[(i + 2, s.criteria[j])] = int(a[i, j])
        assert found == bad
        assert sorted(bad.values()) == [0, 6, 7]
        # labels instead of codes happen, and the key lists them
        labels = s.key["label_answers"]
        assert 20 < len(labels) < 1000
        for lab in labels[:50]:
            assert s.cell(lab["row"], lab["column"].upper()) == unicodedata.normalize("NFC", lab["value"])
            assert not lab["value"].isdigit()


def test_missing_codes_and_not_applicable_feedback(surveys):
    s = surveys[2023]
    a = s.answers()[s.clean_mask()]
    m = s.cfg.methodology
    last = [s.criteria.index(c.id) for c in m.elements[-1].criteria]
    others = [j for j in range(len(s.criteria)) if j not in last]
    assert 0.5 < np.mean(a[:, last] == 99) < 0.75            # most never gave feedback
    assert np.mean(a[:, others] == 99) < 0.01
    assert 0.005 < np.mean(a == 98) < 0.04
    assert 0.002 < np.mean(np.isnan(a)) < 0.03


def test_dates_in_survey_period_except_listed(surveys):
    for s in surveys.values():
        p = s.cfg.registry.survey_period
        listed = {r["row"] for r in s.key["bad_records"] if r["kind"] == "date_outside_period"}
        outside = set()
        for i, r in enumerate(s.rows):
            d = dt.datetime.strptime(r[s.col["Ngày phỏng vấn"]], "%d/%m/%Y").date()
            if not p.start <= d <= p.end:
                outside.add(i + 2)
        assert outside == listed and len(listed) == 2


# ------------------------------------------------------------------- statistics


def cronbach_alpha(x: np.ndarray) -> float:
    k = x.shape[1]
    return k / (k - 1) * (1 - x.var(0, ddof=1).sum() / x.sum(1).var(ddof=1))


def test_cronbach_alpha_per_element(surveys):
    for s in surveys.values():
        a = s.answers()[s.clean_mask()]
        for e in s.cfg.methodology.elements:
            idx = [s.criteria.index(c.id) for c in e.criteria]
            x = a[:, idx]
            x = x[((x >= 1) & (x <= 5)).all(1)]
            assert len(x) > 1000
            alpha = cronbach_alpha(x)
            assert 0.70 <= alpha <= 0.92, (e.id, alpha)


def test_unit_sipas_spread_and_province_mean(surveys):
    for year, s in surveys.items():
        v = np.array(list(s.unit_sipas().values()))
        assert v.min() >= 0.70 and v.max() <= 0.99, (year, v.min(), v.max())
        assert v.max() - v.min() >= 0.10
        assert 0.78 <= v.mean() <= 0.90


def test_unit_sipas_tracks_params_levels(surveys):
    for s in surveys.values():
        got = s.unit_sipas()
        levels = s.key["notes"]["levels"]
        diff = np.array([got[u] - levels[u] for u in got])
        assert np.abs(diff).max() < 0.08
        assert abs(diff.mean()) < 0.02
        assert np.corrcoef(list(got.values()), [levels[u] for u in got])[0, 1] > 0.8


def test_real_changes_between_years_come_from_params(surveys, root):
    spec = load_demo_spec(make_paths(root))
    l22, l23 = surveys[2022].key["notes"]["levels"], surveys[2023].key["notes"]["levels"]
    changes = spec.levels.changes[2023]
    for u in l22:
        assert l23[u] - l22[u] == pytest.approx(changes.get(u, 0.0), abs=1e-3)
    assert any(c >= 0.05 for c in changes.values()) and any(c <= -0.05 for c in changes.values())


def test_satisfaction_depends_on_profile(surveys):
    s = surveys[2023]
    a = s.answers()[s.clean_mask()]
    rows = [r for i, r in enumerate(s.rows) if (i + 2) not in s.bad_rows]
    valid = (a >= 1) & (a <= 5)
    share = ((a >= 4) & valid).sum(1) / np.maximum(valid.sum(1), 1)
    late = np.array([unicodedata.normalize("NFC", r[s.col["Kết quả trễ hẹn"]]) == "Có" for r in rows])
    assert 0.03 < late.mean() < 0.12
    assert share[~late].mean() - share[late].mean() > 0.08
    trips = np.array([int(r[s.col["Số lần đi lại"]]) for r in rows])
    assert share[trips == 1].mean() > share[trips >= 3].mean() + 0.03


def test_districts_sample_dossiers_not_commune_clusters(surveys):
    """2017–2020 method (issue 13): a simple random sample of each unit's completed
    dossiers; the commune is the respondent's address, spread over the unit's communes
    (a cluster sample took 4–6)."""
    s = surveys[2023]
    for i, r in enumerate(s.rows):
        uid = s.unit_of(r)
        if uid is None:
            continue
        u = s.cfg.registry.unit(uid)
        commune = unicodedata.normalize("NFC", r[s.col["Xã, phường, thị trấn"]])
        if u.type == "district":
            assert commune in u.communes
        else:
            assert commune == ""
    for u in s.cfg.units:
        if u.type != "district":
            continue
        cs = Counter(unicodedata.normalize("NFC", r[s.col["Xã, phường, thị trấn"]])
                     for r in s.rows if s.unit_of(r) == u.id)
        assert len(cs) >= min(len(u.communes), 8)
    assert s.cfg.registry.design.sampling == "dossiers"
    assert set(s.cfg.registry.design.psu.values()) == {"respondent_id"}


def test_profile_is_consistent_with_units(surveys):
    s = surveys[2023]
    def labels(unit, column):
        return Counter(unicodedata.normalize("NFC", r[s.col[column]]) for r in s.rows if s.unit_of(r) == unit)
    tp = labels("so-tu-phap", "Lĩnh vực thủ tục hành chính")
    assert set(tp) <= {"Tư pháp, chứng thực", "Hộ tịch", "Lĩnh vực khác"} and tp["Tư pháp, chứng thực"] > 150
    assert labels("so-y-te", "Lĩnh vực thủ tục hành chính").most_common(1)[0][0] == "Y tế"
    khdt = labels("so-khdt", "Đối tượng")
    assert khdt["Tổ chức"] > khdt["Cá nhân"]
    dist = labels("sin-ho", "Đối tượng")
    assert dist["Tổ chức"] < 0.1 * dist["Cá nhân"]
    eth = Counter(unicodedata.normalize("NFC", r[s.col["Dân tộc"]]) for r in s.rows)
    top4 = {k for k, _ in eth.most_common(4)}
    assert top4 == {"Thái", "Mông", "Kinh", "Dao"}
    for name in ("Hà Nhì", "Giáy", "Lự", "Khơ Mú", "Cống", "Mảng", "La Hủ", "Si La"):
        assert eth[name] > 0


def test_expectations_and_comments(surveys):
    for s in surveys.values():
        exp_cols = [s.col[it.id.upper()] for it in s.cfg.methodology.expectations.items]
        ok = s.clean_mask()
        n = np.array([sum(r[c] == "x" for c in exp_cols) for r in s.rows])
        assert set(np.unique(n[ok])) <= {1, 2, 3}
        assert all(r[c] in ("", "x") for r in s.rows for c in exp_cols)
        comments = [r[s.col["Ý kiến khác của người dân, tổ chức"]] for r in s.rows]
        filled = [c for c in comments if c]
        assert 0.08 <= len(filled) / len(comments) <= 0.18
        markup = [i + 2 for i, c in enumerate(comments) if "<" in c]
        assert markup == s.key["markup_comment_rows"] and 1 <= len(markup) <= 2
        assert all("\n" not in c for c in filled)


# ------------------------------------------------------------------- bad records


def test_key_lists_each_bad_record_at_its_row(surveys, root):
    br = load_demo_spec(make_paths(root)).bad_records
    for year, s in surveys.items():
        recs = s.key["bad_records"]
        assert s.key["counts"] == {
            "date_outside_period": br.date_outside_period,
            "duplicate_id": br.duplicate_id_exact + br.duplicate_id_conflict,
            "invalid_profile": br.invalid_profile,
            "nearly_empty": br.nearly_empty,
            "out_of_range": br.out_of_range,
            "straight_line": br.straight_line_groups * br.straight_line_size,
            "unknown_unit": br.unknown_unit,
        }
        ids = Counter(r[0] for r in s.rows)
        assert sum(v - 1 for v in ids.values()) == br.duplicate_id_exact + br.duplicate_id_conflict
        m = s.cfg.methodology
        straight = []
        for rec in recs:
            r = s.rows[rec["row"] - 2]
            assert r[0] == rec["respondent_id"], rec
            kind = rec["kind"]
            if kind == "duplicate_id":
                assert ids[rec["respondent_id"]] == 2
                src = rec["first_row"]
                assert s.rows[src - 2][0] == rec["respondent_id"] and src < rec["row"]
                assert (s.rows[src - 2] == r) == rec["value"].startswith("exact")
            elif kind == "unknown_unit":
                assert s.unit_of(r) is None and r[1] == rec["value"] and rec["unit_id"] is None
            elif kind == "out_of_range":
                assert s.cell(rec["row"], rec["column"].upper()) == rec["value"]
            elif kind == "nearly_empty":
                assert sum(bool(r[c]) for c in s.crit_cols) <= 1
            elif kind == "invalid_profile":
                var = m.profile_var(rec["column"])
                known = {norm(x) for c in var.categories for x in (c.code, c.label, *c.aliases)}
                assert s.cell(rec["row"], var.label) == rec["value"] and norm(rec["value"]) not in known
            elif kind == "straight_line":
                straight.append(rec)
            if rec["unit_id"]:
                assert s.unit_of(r) == rec["unit_id"]
        assert len(straight) == br.straight_line_size and {x["group"] for x in straight} == {1}
        vectors = {tuple(s.rows[x["row"] - 2][c] for c in s.crit_cols) for x in straight}
        interviewers = {s.rows[x["row"] - 2][s.col["Điều tra viên"]] for x in straight}
        assert len(vectors) == 1 and len(interviewers) == 1
        assert len(set(next(iter(vectors))) - {"", "98", "99"}) > 1      # not a constant vector


# --------------------------------------------------------------- Unicode, people


def test_labels_are_nfc_except_listed_nfd_rows(surveys):
    for s in surveys.values():
        nfd = s.nfd_rows
        assert 10 <= len(nfd) <= 100
        for i, r in enumerate(s.rows):
            line = "".join(r)
            if i + 2 in nfd:
                assert not unicodedata.is_normalized("NFC", line)
                assert unicodedata.is_normalized("NFD", line)
            else:
                assert unicodedata.is_normalized("NFC", line), i + 2
        assert all(unicodedata.is_normalized("NFC", h) for h in s.header)
        # profile values are the methodology's labels (after NFC), except the listed ones
        invalid = {(r["row"], r["column"]) for r in s.key["bad_records"] if r["kind"] == "invalid_profile"}
        for v in s.cfg.methodology.profile:
            if v.type != "category":
                continue
            labels = {c.label for c in v.categories}
            for i in range(len(s.rows)):
                if (i + 2, v.id) not in invalid:
                    assert s.cell(i + 2, v.label) in labels


def test_personal_columns_are_plausible(surveys):
    s = surveys[2023]
    rows = [[unicodedata.normalize("NFC", x) for x in r] for r in s.rows]
    names = [r[s.col["Họ và tên"]] for r in rows]
    assert all(len(n.split()) >= 3 for n in names)
    assert len(set(names)) > 0.4 * len(names)
    phones = [r[s.col["Số điện thoại"]] for r in rows]
    assert all(p == "" or re.fullmatch(r"09\d{8}", p) for p in phones)
    assert sum(bool(p) for p in phones) > 0.8 * len(phones)
    ids = [r[s.col["Số CCCD"]] for r in rows]
    assert all(x == "" or re.fullmatch(r"012[0-3]\d{8}", x) for x in ids)
    assert sum(bool(x) for x in ids) > 0.7 * len(ids)
    addr = [r[s.col["Địa chỉ"]] for r in rows if r[s.col["Địa chỉ"]]]
    assert all(a.endswith("tỉnh Lai Châu") for a in addr)
    mails = [r[s.col["Thư điện tử"]] for r in rows if r[s.col["Thư điện tử"]]]
    assert mails and all(re.fullmatch(r"[a-z0-9]+@[a-z0-9.]+", m) for m in mails)


# ------------------------------------------------------- any methodology, speed


def _other_methodology(m: Methodology) -> Methodology:
    """A different questionnaire: two aspects, other ids, a 4-point scale, no element 5."""
    d = m.model_dump()
    d["id"] = "test-method"
    d["scales"]["bon_muc"] = {
        "label": "4 mức",
        "values": [{"code": 1, "label": "Rất kém"}, {"code": 2, "label": "Kém"},
                   {"code": 3, "label": "Tốt"}, {"code": 4, "label": "Rất tốt"}],
        "positive": [3, 4], "negative": [1, 2],
        "missing": [{"code": 9, "label": "Không biết"}],
    }
    d["aspects"] = [{"id": "chinh_sach", "label": "Chính sách"}, {"id": "dich_vu", "label": "Dịch vụ"}]
    d["elements"] = [
        {"id": "p1", "label": "Trách nhiệm giải trình", "aspect": "chinh_sach",
         "criteria": [{"id": f"p1_{k}", "label": f"Tiêu chí {k}", "scale": "bon_muc"} for k in (1, 2, 3)]},
        {"id": "s1", "label": "Tiếp cận", "aspect": "dich_vu",
         "criteria": [{"id": f"s1_{k}", "label": f"Tiêu chí {k}"} for k in (1, 2, 3, 4)]},
        {"id": "s2", "label": "Kết quả", "aspect": "dich_vu",
         "criteria": [{"id": f"s2_{k}", "label": f"Tiêu chí {k}"} for k in (1, 2)]},
    ]
    d["expectations"] = None
    return Methodology.model_validate(d)


def test_other_methodology_needs_no_code_change(root):
    cfg = load_year(2023, root)
    spec = load_demo_spec(make_paths(root))
    m = _other_methodology(cfg.methodology)
    out = generate(cfg.registry, m, cfg.fields, cfg.settings, spec, seed=1)
    hdr = out.header
    for c in m.criterion_ids:
        assert c.upper() in hdr
    assert "C1_1" not in hdr and not any(h.startswith("EXP_") for h in hdr)
    j = hdr.index("P1_1")
    vals = Counter(r[j] for r in out.rows)
    oor = {str(x) for x in spec.bad_records.out_of_range_values}
    assert set(vals) - oor - {"", "rat kem", "kem", "tot", "rat tot", "Rất kém", "Kém", "Tốt", "Rất tốt",
                             "Không biết", "khong biet"} <= {"1", "2", "3", "4", "9"}
    # the last element (s2) is the one with "not applicable"; p1's scale has no 99
    assert vals["9"] > 0 and "99" not in vals
    s2 = hdr.index("S2_1")
    assert 0.5 < np.mean([r[s2] == "99" for r in out.rows]) < 0.75


def test_other_units_need_no_code_change(root):
    """A registry of another shape (commune-level units after 2025, a new unit type, no
    district level): levels not in params are drawn per unit id and stay put across years."""
    cfg = load_year(2023, root)
    spec = load_demo_spec(make_paths(root))
    d = cfg.registry.model_dump()
    d["unit_types"] = [{"id": "department", "label": "Sở", "label_plural": "Các sở"},
                       {"id": "commune", "label": "UBND xã", "label_plural": "UBND các xã, phường"}]
    d["design"]["psu"] = {"department": "respondent_id", "commune": "respondent_id"}
    d["units"] = [{"id": f"xa-{k}", "name": f"Xã Thử {k}", "type": "commune", "served": 900 + 50 * k}
                  for k in range(1, 6)] + [u for u in d["units"] if u["id"] == "so-tu-phap"]
    levels = {}
    for year in (2025, 2026):
        reg = type(cfg.registry).model_validate({**d, "year": year, "survey_period": {
            "start": f"{year}-08-01", "end": f"{year}-10-31"}})
        out = generate(reg, cfg.methodology, cfg.fields, cfg.settings, spec)
        sizes = unit_sample_sizes(reg, cfg.settings, spec, spec.seed)   # communes: params/demo.yaml unit_sample
        assert all(30 <= sizes[f"xa-{k}"] <= 150 for k in range(1, 6))
        assert len(out.rows) == sum(sizes.values()) + sum(
            1 for r in out.key["bad_records"] if r["extra"])
        assert {r[1] for r in out.rows} >= {f"Xã Thử {k}" for k in range(1, 6)}
        assert all(r[2] == "" for r in out.rows)                 # no communes sampled
        levels[year] = out.key["notes"]["levels"]
    assert levels[2025] == levels[2026]
    assert levels[2025]["so-tu-phap"] == pytest.approx(spec.levels.units["so-tu-phap"] + sum(
        c.get("so-tu-phap", 0) for y, c in spec.levels.changes.items() if y > spec.levels.base_year))
    assert len({levels[2025][f"xa-{k}"] for k in range(1, 6)}) == 5


def test_speed_of_one_year(root):
    t = time.perf_counter()
    demo_survey(2023, root=root)
    assert time.perf_counter() - t < 2.0


def test_malformed_spec_names_the_key(tmp_path):
    shutil.copytree(REPO / "params", tmp_path / "params")
    p = tmp_path / "params" / "demo.yaml"
    data = yaml.safe_load(p.read_text(encoding="utf-8"))
    data["latent"]["item_sd"] = -1
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        write_demo_data(2023, root=tmp_path)
    assert "latent.item_sd" in str(err.value) and "demo.yaml" in str(err.value)


def test_cli_demo_data(tmp_path, monkeypatch, capsys):
    from sipas.cli import main

    shutil.copytree(REPO / "params", tmp_path / "params")
    monkeypatch.setenv("SIPAS_ROOT", str(tmp_path))
    main(["demo-data", "--year", "2022", "--seed", "11"])
    out = capsys.readouterr().out
    assert "phieu-khao-sat-2022.csv" in out and "_demo_key.json" in out
    assert (tmp_path / "data" / "raw" / "2022" / "phieu-khao-sat-2022.csv").is_file()
    assert json.loads((tmp_path / "data" / "raw" / "2022" / "_demo_key.json").read_text("utf-8"))["seed"] == 11


def test_sample_sizes_match_year_config(root):
    cfg = load_year(2023, root)
    assert sample_sizes(cfg.registry, cfg.settings) == cfg.sample_targets


def test_national_demo_one_project_per_province(tmp_path):
    from sipas.demo.national import write_national_demo

    shutil.copytree(REPO / "params", tmp_path / "params")
    p = tmp_path / "params" / "demo.yaml"
    data = yaml.safe_load(p.read_text(encoding="utf-8"))
    data["national"]["communes_per_province"] = [3, 4]             # small, for speed
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "nat"
    files = write_national_demo(2025, out=out, provinces=["hue", "lai-chau"], root=tmp_path)
    assert [f.name for f in files] == ["phieu-khao-sat-2025.csv", "_demo_key.json"] * 2
    first = [f.read_bytes() for f in files]
    assert [f.read_bytes() for f in write_national_demo(2025, out=out, provinces=["hue", "lai-chau"],
                                                        root=tmp_path)] == first
    for pid, code, prov in (("hue", "046", "thành phố Huế"), ("lai-chau", "012", "tỉnh Lai Châu")):
        cfg = load_year(2025, out / pid)
        assert cfg.settings.province in prov
        assert {u.type for u in cfg.units} == {"department", "commune"} and 15 <= len(cfg.units) <= 16
        s = Survey(out / pid, 2025)
        extra = {r["row"] for r in s.key["bad_records"] if r["extra"]}
        counts = Counter(s.unit_of(r) for i, r in enumerate(s.rows) if i + 2 not in extra)
        assert dict(counts) == unit_sample_sizes(cfg.registry, cfg.settings, load_demo_spec(cfg.paths),
                                                 load_demo_spec(cfg.paths).seed)
        ids = [r[s.col["Số CCCD"]] for r in s.rows if r[s.col["Số CCCD"]]]
        assert all(x.startswith(code) for x in ids)
        addr = [unicodedata.normalize("NFC", r[s.col["Địa chỉ"]]) for r in s.rows if r[s.col["Địa chỉ"]]]
        assert all(a.endswith(prov) for a in addr)
    with pytest.raises(ConfigError):
        write_national_demo(2025, out=out, provinces=["atlantis"], root=tmp_path)


def test_year_2025_on_the_second_method_if_present(root):
    """When params hold a 2025 registry on another method, the same generator serves it:
    perception topics and rated expectations are written as labels."""
    if not (root / "params" / "units" / "2025.yaml").is_file():
        pytest.skip("no 2025 registry in params")
    cfg = load_year(2025, root)
    out = demo_survey(2025, root=root)
    m = cfg.methodology
    for c in m.criterion_ids:
        assert c.upper() in out.header
    for v in getattr(m, "perceptions", []):
        j = out.header.index(v.label)
        assert {unicodedata.normalize("NFC", r[j]) for r in out.rows} <= {c.label for c in v.categories}
    if m.expectations and getattr(m.expectations, "categories", None):
        labels = {c.label for c in m.expectations.categories} | {""}
        j = out.header.index(m.expectations.items[0].id.upper())
        assert {unicodedata.normalize("NFC", r[j]) for r in out.rows} <= labels
    extra = {r["row"] for r in out.key["bad_records"] if r["extra"]}
    spec = load_demo_spec(cfg.paths)
    assert len(out.rows) - len(extra) == sum(unit_sample_sizes(cfg.registry, cfg.settings, spec, spec.seed).values())


def test_perceptions_linked_to_satisfaction_2025(root):
    """2025 (sipas-2023): harassment and informal payments go with lower satisfaction,
    within the province and across units; the draw is deterministic, and the links
    leave the years on the first method untouched."""
    cfg = load_year(2025, root)
    m = cfg.methodology
    out = demo_survey(2025, root=root)
    assert out.rows == demo_survey(2025, root=root).rows
    col = {h: j for j, h in enumerate(out.header)}
    extra = {r["row"] for r in out.key["bad_records"]}
    rows = [r for i, r in enumerate(out.rows) if i + 2 not in extra]
    crit = [col[c.upper()] for c in m.criterion_ids]
    pos = np.array([np.mean([r[j] in ("4", "5") for j in crit if r[j] in ("1", "2", "3", "4", "5")]) for r in rows])
    units = np.array([unicodedata.normalize("NFC", r[col["Đơn vị"]]) for r in rows])
    for topic in ("q_phien_ha", "q_chi_them"):
        var = next(v for v in m.perceptions if v.id == topic)
        reported = {c.label for c in var.categories if c.code not in var.positive}   # "Có", "Có một số ..."
        yes = np.array([unicodedata.normalize("NFC", r[col[var.label]]) in reported for r in rows])
        assert 0.02 < yes.mean() < 0.12, (topic, yes.mean())
        assert pos[yes].mean() < pos[~yes].mean() - 0.1, topic
        per_unit = {u: (pos[units == u].mean(), yes[units == u].mean()) for u in set(units)}
        a = np.array(list(per_unit.values()))
        assert np.corrcoef(a[:, 0], a[:, 1])[0, 1] < -0.3, topic
    # unit SIPAS in a realistic range, as the first method's years
    sipas = {u: pos[units == u].mean() for u in set(units)}
    assert 0.65 < min(sipas.values()) and max(sipas.values()) < 0.99
    spec = load_demo_spec(make_paths(root))
    other = spec.model_copy(update={"perception_links": {"q_phien_ha": {"co": 3.0}}})
    a = generate(*(lambda c: (c.registry, c.methodology, c.fields, c.settings))(load_year(2023, root)), spec)
    b = generate(*(lambda c: (c.registry, c.methodology, c.fields, c.settings))(load_year(2023, root)), other)
    assert a.rows == b.rows
