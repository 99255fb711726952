"""The national run (``sipas run --provinces``) and the national front door (issue 16)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import norm

from sipas.base.codebook import load_settings
from sipas.base.config import paths
from sipas.publishing import national

from .demo_project import REPO, sipas

YEAR = 2025
PROVINCES = ("hue", "lai-chau")


def tiny_national(root: Path, provinces=PROVINCES) -> Path:
    """A project whose national demo has 2 departments and 2 communes per province, few
    people served (small samples); returns the folder of province projects."""
    for folder in ("params", "notebooks"):
        shutil.copytree(REPO / folder, root / folder, dirs_exist_ok=True)
    p = root / "params" / "demo.yaml"
    data = yaml.safe_load(p.read_text(encoding="utf-8"))
    nat = data["national"]
    nat.update(communes_per_province=[2, 2], departments=nat["departments"][:2],
               served={"department": [60, 90], "commune": [60, 90]})
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    from sipas.demo.national import write_national_demo

    write_national_demo(YEAR, out=root / "nat", provinces=list(provinces), root=root)
    return root / "nat"


def shas(folder: Path) -> dict[str, str]:
    return {f.relative_to(folder).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(folder.rglob("*")) if f.is_file() and "logs" not in f.parts
            and f.name not in ("manifest.json", ".sipas-run.lock")}


# ---------------------------------------------------------------- rank intervals


@pytest.mark.parametrize("se_logit, separated", [(0.1, True), (0.2, False)])
def test_rank_intervals_follow_the_chance_that_two_provinces_swap(se_logit, separated):
    """Two provinces, logit estimates d apart, each with standard error s on the logit
    scale: they swap with probability Phi(-d / (s sqrt 2)) (0.69 % for s = 0.1, 10.9 % for
    s = 0.2): below 2.5 % the 95 % rank intervals are single places, above it both are 1-2."""
    est = np.array([0.85, 0.80])
    d = np.log(0.85 / 0.15) - np.log(0.80 / 0.20)
    swap = norm.cdf(-d / (se_logit * np.sqrt(2)))
    assert (swap < 0.025) == separated
    se = se_logit * est * (1 - est)        # the interval is drawn on the logit scale
    rank, low, high = national.rank_intervals(est, se, 4000, seed=7)
    assert rank.tolist() == [1, 2]
    assert (low.tolist(), high.tolist()) == (([1, 2], [1, 2]) if separated else ([1, 1], [2, 2]))


def test_ties_share_the_better_rank():
    rank, low, high = national.rank_intervals([0.9, 0.8, 0.9], [1e-4, 1e-4, 1e-4], 200, seed=1)
    assert rank.tolist() == [1, 3, 1] and low.tolist()[1] == high.tolist()[1] == 3


# ------------------------------------------------------------------ front door


@pytest.fixture(scope="module")
def nat_tables(tmp_path_factory) -> Path:
    """Tiny national demo with intake, tables and each province's front door (no kernel)."""
    from sipas.base.codebook import YearConfig
    from sipas.estimation.tables import write_tables
    from sipas.intake import run_intake
    from sipas.publishing.site import write_index

    folder = tiny_national(tmp_path_factory.mktemp("national") / "project")
    for pid in PROVINCES:
        p = paths(folder / pid)
        run_intake(YEAR, paths=p)
        write_tables(YEAR, p)
    write_index(YearConfig(YEAR, paths(folder / "hue")), [])   # only hue has a front door
    return folder


def test_national_front_door_ranks_counts_links_and_honest_wording(nat_tables):
    folder = nat_tables
    root = folder.parent
    settings = load_settings(paths(root))
    files = national.write_national(folder, YEAR, [(q, folder / q) for q in PROVINCES], settings, 0.9)
    first = shas(folder)
    national.write_national(folder, YEAR, [(q, folder / q) for q in PROVINCES], settings, 0.9)
    assert shas(folder) == first                                  # byte-reproducible
    assert {f.relative_to(folder).as_posix() for f in files} >= {
        "index.html", "tong-hop-2025.xlsx", "tables/provinces.csv", "tables/provinces.parquet",
        "tables/units.parquet", "tables/distributions.parquet"}

    # the figures, recomputed from each province's own index table
    expected = {}
    for q in PROVINCES:
        idx = pd.read_parquet(folder / q / "outputs" / "2025" / "tables" / "indices.parquet")
        s = idx[idx.item_id == "sipas"]
        units = s[s.unit_type.isin(["department", "commune"])]
        expected[q] = (float(s[s.unit_id == "province"].published.iloc[0]), int((units.published >= 0.9).sum()),
                       len(units))
    prov = pd.read_parquet(folder / "tables" / "provinces.parquet")
    order = sorted(PROVINCES, key=lambda q: -expected[q][0])
    assert prov.province_id.tolist() == order and prov["rank"].tolist() == [1, 2]
    for r in prov.itertuples():
        assert r.estimate == pytest.approx(expected[r.province_id][0])
        assert (r.n_at_or_above, r.n_units) == expected[r.province_id][1:]
        assert r.rank_low <= r.rank <= r.rank_high and r.band in national.BANDS
    dist = pd.read_parquet(folder / "tables" / "distributions.parquet")
    assert set(zip(dist.province_id, dist.unit_type)) == {(q, t) for q in PROVINCES for t in ("department", "commune")}
    assert (dist.n_units == 2).all() and (dist["min"] <= dist["median"]).all() and (dist["median"] <= dist["max"]).all()
    assert dist.groupby("province_id").n_at_or_above.sum().to_dict() == {q: v[1] for q, v in expected.items()}

    html = (folder / "index.html").read_text(encoding="utf-8")
    assert html == unicodedata.normalize("NFC", html)
    assert "không phải là một mẫu chung của cả nước" in html and "chỉ mang tính tham khảo" in html
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)
    links = re.findall(r'href="([^"#]+)"', html)
    assert links and all((folder / h).is_file() for h in links)
    assert "hue/outputs/2025/index.html" in links and "lai-chau/outputs/2025/index.html" not in links
    # the ranking lists the provinces in rank order
    table = html[html.index("Xếp hạng các tỉnh"):html.index("Chỉ số của các đơn vị trong từng tỉnh")]
    names = [yaml.safe_load((folder / q / "params" / "settings.yaml").read_text("utf-8"))["province"] for q in order]
    assert table.index(f">{names[0]}<") < table.index(f">{names[1]}<")
    from sipas.publishing.excel import read_sheet

    sheet = read_sheet(folder / "tong-hop-2025.xlsx", "Xếp hạng tỉnh")
    assert sheet["Hạng"].tolist() == [1, 2] and sheet["Mã"].tolist() == order


def test_unknown_province_and_empty_folder_are_clear_errors(nat_tables, tmp_path):
    from sipas.base.errors import SipasError
    from sipas.running.national import province_roots

    assert list(province_roots(nat_tables)) == sorted(PROVINCES)
    assert list(province_roots(nat_tables, ["hue"])) == ["hue"]
    with pytest.raises(SipasError, match="unknown province id"):
        province_roots(nat_tables, ["atlantis"])
    with pytest.raises(SipasError, match="no province project"):
        province_roots(tmp_path)
    proc = sipas(nat_tables.parent, "run", "--provinces", str(nat_tables), "--province", "atlantis",
                 "--year", "2025", check=False)
    assert proc.returncode == 2 and "atlantis" in proc.stderr and "Traceback" not in proc.stderr
    for args, says in ((["--province", "hue", "--year", "2025"], "--province needs --provinces"),
                       (["--provinces", str(nat_tables), "--year", "2024,2025"], "one year")):
        proc = sipas(nat_tables.parent, "run", *args, check=False)
        assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------------------- the whole run


def _manifest(folder: Path, pid: str) -> dict:
    return json.loads((folder / pid / "outputs" / "2025" / "manifest.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_national_run_builds_everything_once_filters_and_survives_a_failing_annex(tmp_path):
    folder = tiny_national(tmp_path / "project")
    root = folder.parent

    def run(*args, check=True):
        return sipas(root, "run", "--provinces", str(folder), "--year", "2025", "--jobs", "2", *args, check=check)

    first = run()
    assert "2 provinces; 10 annexes written, 0 failed" in first.stderr, first.stderr
    for pid in PROVINCES:
        m = _manifest(folder, pid)
        annexes = [a for a in m["artefacts"] if a["kind"] == "annex"]
        assert len(annexes) == 5 and all(a["status"] == "ok" for a in annexes)
        assert (folder / pid / "outputs" / "2025" / "units" / "xa-001.html").is_file() or \
            (folder / pid / "outputs" / "2025" / "units" / "phuong-001.html").is_file()
    html = (folder / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'href="([^"#]+)"', html)
    assert {f"{q}/outputs/2025/index.html" for q in PROVINCES} <= set(links)
    assert all((folder / h).is_file() for h in links)
    built = shas(folder)

    again = run()
    assert "0 steps rebuilt" in again.stderr and "10 annexes written, 0 failed" in again.stderr, again.stderr
    assert shas(folder) == built

    only = run("--province", "hue")
    assert "1 provinces; 5 annexes written" in only.stderr and "lai-chau" not in only.stderr.split("summary")[-1]
    assert "index.html: up to date" in only.stderr and shas(folder) == built   # the front door keeps both

    # one unit's annex of hue fails: that one is reported, the others are rebuilt, exit 1
    nb = folder / "hue" / "notebooks" / "unit_annex.ipynb"
    data = json.loads(nb.read_text(encoding="utf-8"))
    victim = next(a["name"] for a in _manifest(folder, "hue")["artefacts"] if a["kind"] == "annex"
                  and a["name"] != "province")
    other = _manifest(folder, "lai-chau")["artefacts"]
    data["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                          "id": "boom", "source": [f"assert unit_id != {victim!r}, 'hỏng'"]})
    nb.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    # and a third province whose field file cannot be read: its intake fails, alone
    shutil.copytree(folder / "lai-chau", folder / "zz-broken", ignore=shutil.ignore_patterns("outputs", "processed"))
    for f in (folder / "zz-broken" / "data" / "raw" / "2025").glob("*.csv"):
        f.write_bytes(b"\x00\x01 not a survey\n")
    bad = run(check=False)
    assert "FAILED zz-broken 2025 intake" in bad.stderr and "Traceback" not in bad.stderr
    assert bad.returncode == 1, bad.stderr
    assert f"FAILED hue 2025 annex {victim}" in bad.stderr and "hỏng" in bad.stderr
    m = _manifest(folder, "hue")
    status = {a["name"]: a["status"] for a in m["artefacts"] if a["kind"] == "annex"}
    assert status.pop(victim) == "failed" and set(status.values()) == {"ok"} and len(status) == 4
    assert _manifest(folder, "lai-chau")["artefacts"] == other      # the other province: untouched
    assert (folder / "index.html").is_file()
