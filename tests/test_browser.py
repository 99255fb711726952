"""Every kind of HTML page, opened in headless Chromium (Debian's): no console error,
no request leaves the machine, key text present, markup in free text stays text, the
ranking table fits a laptop screen; a screenshot of each for people to look at
(``outputs/screenshots/``)."""

from __future__ import annotations

import shutil

import pytest

from sipas.publishing import pdf
from sipas.publishing.report import Report

from .annex_project import DISTRICT, SCREENSHOTS, UNIT, published

pytestmark = pytest.mark.skipif(
    not any(shutil.which(c) for c in pdf.CANDIDATES),
    reason="Chromium is not installed (run scripts/setup-system.sh; `make setup` does it)")

EXTERNAL = """[...document.querySelectorAll('[src],[href],link,script,iframe,object,embed')]
  .map(e => e.getAttribute('src') || e.getAttribute('href') || '')
  .filter(u => /^(https?:|\\/\\/|ftp:|ws)/i.test(u))"""


@pytest.fixture(scope="module")
def root(demo, tmp_path_factory):
    return published(demo, tmp_path_factory.getbasetemp())


def pages(root):
    out = root / "outputs"
    rep = Report(2023, root)
    yield "unit", out / "2023" / "units" / f"{UNIT}.html", [rep.unit(UNIT).name, "Mục lục", "Tóm tắt"]
    yield "district", out / "2023" / "units" / f"{DISTRICT}.html", [rep.unit(DISTRICT).name, "Vị trí trong"]
    yield "province", out / "2023" / "province.html", ["Báo cáo kết quả", "Kiến nghị", rep.province]
    yield "year", out / "2023" / "index.html", ["Tài liệu công bố", "Xếp hạng các sở, ban, ngành"]
    yield "site", out / "index.html", ["Năm 2023", "Năm 2022"]
    if (out / "2023" / "quality.html").is_file():
        yield "quality", out / "2023" / "quality.html", []


@pytest.fixture(scope="module")
def opened(root):
    b = pdf.browser()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    result = {}
    for kind, path, keys in pages(root):
        with b.open(path, width=1100) as tab:
            text = tab.text()
            external = tab.evaluate(EXTERNAL)
            scripts = tab.evaluate("document.querySelectorAll('script').length")
            handlers = tab.evaluate("[...document.querySelectorAll('*')].filter(e => [...e.attributes]"
                                    ".some(a => a.name.startsWith('on'))).length")
            shot = tab.screenshot(SCREENSHOTS / f"2023-{kind}.png")
            result[kind] = dict(log=tab.log, text=text, keys=keys, external=external, scripts=scripts,
                                handlers=handlers, shot=shot)
    return result


def test_pages_load_cleanly_offline(opened):
    for kind, r in opened.items():
        assert r["log"].console_errors == [], (kind, r["log"].console_errors)
        assert r["log"].external_requests == [] and r["log"].blocked == [], (kind, r["log"].requests)
        assert r["external"] == [], (kind, r["external"])
        assert r["scripts"] == 0 and r["handlers"] == 0, kind


def test_key_text_present(opened):
    for kind, r in opened.items():
        for key in r["keys"]:
            assert key in r["text"], (kind, key)


def test_free_text_markup_shows_as_text(opened):
    text = opened["unit"]["text"]
    assert "<script>alert('xss')</script>" in text and "<img src=x onerror=alert(1)>" in text


def test_screenshots_written(opened):
    for kind, r in opened.items():
        assert r["shot"].is_file() and r["shot"].stat().st_size > 10_000, kind


@pytest.mark.parametrize("width", [1280, 900])
def test_tables_fit_a_laptop_screen(root, width):
    b = pdf.browser()
    for path in (root / "outputs" / "2023" / "index.html", root / "outputs" / "2023" / "province.html"):
        with b.open(path, width=width) as tab:
            overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            wide = tab.evaluate("[...document.querySelectorAll('table')].filter(t => "
                                "t.getBoundingClientRect().right > window.innerWidth + 1).length")
            assert overflow <= 0 and wide == 0, (path.name, width, overflow, wide)
