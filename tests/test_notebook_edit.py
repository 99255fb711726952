"""An analyst edits ``notebooks/unit_annex.ipynb``: an added markdown cell and a seaborn
chart appear in the rendered annex, in the place of their cells, with the page's
contents; analyst-only cells (tag ``note``) and code do not. Rendered the way
``sipas run`` renders (warm kernel, :func:`sipas.publishing.render.notebook_html`)."""

from __future__ import annotations

import json
import re

import pytest

from .annex_project import REPO, published, render_annexes

OTHER = "so-xay-dung"  # a unit the other annex tests do not render

CHART = """import seaborn as sns
import matplotlib.pyplot as plt
crit = rep.criteria(unit_id)
fig, ax = plt.subplots(figsize=(7, 3))
sns.barplot(data=crit, x="estimate", y="item_id", ax=ax, color="#1b4f72")
ax.set_xlabel("Tỷ lệ hài lòng"); ax.set_ylabel("")
plt.show()"""


def _edited(path):
    nb = json.loads((REPO / "notebooks" / "unit_annex.ipynb").read_text(encoding="utf-8"))
    at = next(i for i, c in enumerate(nb["cells"]) if "annex.elements()" in "".join(c["source"])) + 1
    nb["cells"][at:at] = [
        {"cell_type": "markdown", "metadata": {},
         "source": ["## Ghi chú của phòng\n", "\n", "Đoạn văn **thêm** của phòng khảo sát."]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": CHART},
    ]
    path.write_text(json.dumps(nb, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


@pytest.mark.slow
def test_added_markdown_cell_and_seaborn_chart_appear_in_place(demo, tmp_path_factory):
    root = published(demo, tmp_path_factory.getbasetemp())
    from sipas.base.codebook import YearConfig
    from sipas.base.config import paths

    assert OTHER in [u.id for u in YearConfig(2023, paths(root)).units]
    page = root / "outputs" / "2023" / "units" / f"{OTHER}.html"
    render_annexes(root, 2023, [OTHER])
    plain = page.read_text(encoding="utf-8")
    render_annexes(root, 2023, [OTHER], notebook=_edited(root / "notebooks" / "unit_annex_edited.ipynb"))
    html = page.read_text(encoding="utf-8")

    # the markdown: heading (in the contents) and paragraph, between the sections around its cell
    assert re.search(r'<h2 id="ghi-chu-cua-phong">Ghi chú của phòng</h2>', html)
    assert '<li><a href="#ghi-chu-cua-phong">Ghi chú của phòng</a></li>' in html
    assert "<p>Đoạn văn <strong>thêm</strong> của phòng khảo sát.</p>" in html
    before, note, after = (html.index(s) for s in ("Chỉ số theo yếu tố</h2>", "Ghi chú của phòng</h2>",
                                                   "Chỉ số theo tiêu chí</h2>"))
    assert before < note < after
    # the chart: one more embedded image than the unedited annex, right after the markdown
    assert html.count("data:image/png;base64") == plain.count("data:image/png;base64") + 1
    assert html.index("data:image/png;base64", note) < after
    # never code, never the analyst's notes
    assert "sns.barplot" not in html and "Sửa phụ lục" not in html and "Sửa phụ lục" not in plain
