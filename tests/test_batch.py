"""The executor in-process: warm-kernel isolation, errors, timeouts, PDF hand-off, and
that a warm kernel gives the same bytes as a fresh one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from sipas.running import kernel as kernels
from sipas.running.executor import AnnexTask, run_task

from .annex_project import annex_tasks, assert_warm_annex_is_fresh


def _nb(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("label = 'x'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, str(path))
    return path


def _task(tmp: Path, nb: Path, name: str, **kw) -> AnnexTask:
    return AnnexTask(year=2023, name=name, notebook=str(nb), parameters={"label": name},
                     html=str(tmp / "out" / f"{name}.html"), executed=str(tmp / "out" / f"{name}.ipynb"),
                     log=str(tmp / "logs" / f"{name}.log"), title=name, **kw)


LEAKY = """
import os, random, sys, warnings
import matplotlib, matplotlib.pyplot as plt, numpy as np, pandas as pd
import sipas.base.formats
leaked_variable = 42
matplotlib.rcParams["lines.linewidth"] = 7.5
matplotlib.rcParams["font.size"] = 23
pd.set_option("display.max_rows", 3)
np.random.seed(1); random.seed(1)
os.environ["SIPAS_LEAK"] = "1"
os.chdir("/")
sys.path.append("/leak")
warnings.simplefilter("error")
sipas.base.formats.pct = lambda *a, **k: "LEAK"
fig = plt.figure()
from IPython import get_ipython
get_ipython().run_line_magic("config", "InlineBackend.figure_formats = ['svg']")
"""

CHECK = """
import os, random, sys, warnings
import matplotlib, matplotlib.pyplot as plt, numpy as np, pandas as pd
import sipas.base.formats
assert "leaked_variable" not in globals(), "variable leaked"
assert matplotlib.rcParams["lines.linewidth"] != 7.5, "rcParam leaked"
assert matplotlib.rcParams["font.size"] != 23, "rcParam leaked"
assert pd.get_option("display.max_rows") != 3, "pandas option leaked"
assert os.environ.get("SIPAS_LEAK") is None, "environment leaked"
assert os.getcwd() != "/", "working folder leaked"
assert "/leak" not in sys.path, "sys.path leaked"
assert sipas.base.formats.pct(0.5) != "LEAK", "monkeypatch leaked"
assert plt.get_fignums() == [], "open figure leaked"
from IPython import get_ipython
from matplotlib_inline.backend_inline import InlineBackend
assert "svg" not in InlineBackend.instance().figure_formats, "inline backend config leaked"
state = (np.random.rand(), random.random(), len(warnings.filters))
print(repr(state))
"""


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """A fresh warm kernel for this module (in the test process's thread)."""
    kernels.drop_kernel()
    yield tmp_path_factory.mktemp("warm")
    kernels.shutdown_kernels()


def _stdout(executed: str) -> str:
    nb = json.loads(Path(executed).read_text(encoding="utf-8"))
    return "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))


def test_state_does_not_leak_between_annexes_in_one_warm_kernel(warm):
    clean = _nb(warm / "check.ipynb", CHECK)
    first = run_task(_task(warm, clean, "first"))
    assert first.ok, first.error
    kernel = kernels.STATE.kernel
    leaky = run_task(_task(warm, _nb(warm / "leaky.ipynb", LEAKY), "leaky"))
    assert leaky.ok, leaky.error
    after = run_task(_task(warm, clean, "after"))
    assert after.ok, after.error  # every assertion of CHECK held after LEAKY ran
    assert kernels.STATE.kernel is kernel, "the three annexes ran in the same warm kernel"
    assert kernel.count >= 3
    # same random state and warning filters as the first annex: the kernel was reset, not reused dirty
    assert _stdout(first.outputs["ipynb"]["path"]) == _stdout(after.outputs["ipynb"]["path"])
    # the execution counter restarts at 1 for every annex, as in a fresh kernel
    nb = json.loads(Path(after.outputs["ipynb"]["path"]).read_text(encoding="utf-8"))
    counts = [c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code"]
    assert counts == list(range(1, len(counts) + 1))


STREAMS = [
    "import sys\nprint('a')\nprint('b', flush=True)\nsys.stdout.write('c')\nsys.stdout.flush()",
    "import sys\nprint('err', file=sys.stderr)\nsys.stderr.flush()",
    "from IPython.display import HTML, display\nprint('before')\ndisplay(HTML('<b>x</b>'))\nprint('after')",
    "import threading\nt = threading.Thread(target=lambda: print('thread'))\nt.start(); t.join()",
    "import sys\nsys.stdout.flush(); sys.stderr.flush()",
    "import sys\nprint(getattr(sys.stdout.flush, 'skips_empty', False), getattr(sys.stderr.flush, 'skips_empty', False))",
]


def test_streams_and_displays_arrive_whole_and_in_order_with_empty_flushes_skipped(warm):
    # kernel_state lets a flush with nothing to send return at once (ipykernel 7): what is
    # written still arrives, each stream in its cell and in order with the displays
    res = run_task(_task(warm, _nb(warm / "streams.ipynb", *STREAMS), "streams"))
    assert res.ok, res.error
    nb = json.loads(Path(res.outputs["ipynb"]["path"]).read_text(encoding="utf-8"))
    got = [[(o["output_type"], o.get("name"), "".join(o.get("text", "") or o.get("data", {}).get("text/html", "")))
            for o in c["outputs"]] for c in nb["cells"][2:]]
    stdout, stderr = ("stream", "stdout"), ("stream", "stderr")
    html = ("display_data", None, "<b>x</b>")
    # (as without the shortcut: print(flush=True) sends what was written so far)
    assert got == [[(*stdout, "a\nb\n"), (*stdout, "c")], [(*stderr, "err\n")], [(*stdout, "before\n"), html, (*stdout, "after\n")],
                   [(*stdout, "thread\n")], [], [(*stdout, "True True\n")]]


def test_failing_annex_reports_cell_exception_message_and_writes_a_log(warm):
    bad = _nb(warm / "bad.ipynb", "x = 1", "raise ValueError('dữ liệu hỏng: đơn vị ' + label)")
    res = run_task(_task(warm, bad, "so-hong"))
    assert not res.ok
    assert res.error.startswith("cell 4 [4]: ValueError: dữ liệu hỏng: đơn vị so-hong")
    log = (warm / "logs" / "so-hong.log").read_text(encoding="utf-8")
    assert "FAILED" in log and "ValueError" in log and "raise ValueError" in log and "Traceback" in log
    assert not (warm / "out" / "so-hong.html").exists()
    # a fresh kernel serves the next annex
    ok = run_task(_task(warm, _nb(warm / "ok.ipynb", "print('ok')"), "next"))
    assert ok.ok, ok.error


def test_timeout_stops_the_notebook_and_the_next_one_runs(warm):
    slow = _nb(warm / "slow.ipynb", "import time\ntime.sleep(60)")
    res = run_task(_task(warm, slow, "slow", timeout=3))
    assert not res.ok and "timed out after 3 s" in res.error and res.seconds < 30
    ok = run_task(_task(warm, _nb(warm / "ok2.ipynb", "print('ok')"), "after-timeout"))
    assert ok.ok, ok.error


def test_pdf_step_reports_a_missing_renderer_and_prints_with_chromium(warm, monkeypatch):
    """The PDF of a page goes through sipas.publishing.pdf: without a browser the task says
    why (and writes nothing); with Chromium it writes the A4 PDF, atomically."""
    from sipas.publishing import chromium

    page = warm / "page.html"
    page.write_text("<html><head><title>p</title></head><body><h1>Đơn vị</h1></body></html>", encoding="utf-8")
    task = AnnexTask(2023, "p", "unused.ipynb", {}, str(page), str(warm / "p.ipynb"), str(warm / "logs" / "p.log"),
                     "p", steps=("pdf",), pdf=str(warm / "p.pdf"))
    monkeypatch.setattr(chromium, "_BROWSER", None)  # as in a fresh process: the browser is looked for
    monkeypatch.setenv("SIPAS_CHROMIUM", str(page))  # a file, not a browser
    res = run_task(task)
    assert not res.ok and not (warm / "p.pdf").exists()
    assert res.pdf_unavailable == f"SIPAS_CHROMIUM={page} is not an executable file"
    assert res.error == f"PDF not produced: {res.pdf_unavailable}"
    if not shutil.which("chromium"):
        pytest.skip("no Chromium on this machine")
    monkeypatch.delenv("SIPAS_CHROMIUM")
    res = run_task(task)
    assert res.ok, res.error
    assert (warm / "p.pdf").read_bytes().startswith(b"%PDF") and res.outputs["pdf"]["bytes"] > 1000
    assert not list(warm.glob(".p*.tmp-*"))


def test_warm_kernel_gives_the_same_bytes_as_a_fresh_kernel(demo, tmp_path):
    """An annex executed after two others in a warm kernel == the same annex in a new kernel."""
    task = annex_tasks(demo, 2023, ["so-tu-phap", "tam-duong"])
    kernels.drop_kernel()
    for name in ("province", "so-tu-phap"):
        res = run_task(task(name, tmp_path / "warm"))
        assert res.ok, res.error
    assert_warm_annex_is_fresh(task, "tam-duong", tmp_path)


def test_sipas_processes_skip_the_slow_iri_checker_and_still_validate_notebooks():
    """``skip_slow_optional_imports`` keeps jsonschema from importing rfc3987_syntax (0.9 s),
    and nbformat still validates (and rejects) notebooks; too late, it changes nothing."""
    import subprocess
    import sys

    code = """
import sys
from sipas.running.fastimport import skip_slow_optional_imports
skip_slow_optional_imports()
import nbformat
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
nbformat.validate(nb)
bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")])
bad.cells[0]["cell_type"] = "nonsense"
try:
    nbformat.validate(bad)
except nbformat.ValidationError:
    print("rejected")
print(repr(sys.modules.get("rfc3987_syntax", "absent")))  # None: marked absent, never imported
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["rejected", "None"]
    late = """
import sys, jsonschema
from sipas.running.fastimport import skip_slow_optional_imports
skip_slow_optional_imports()
print("rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is None)
"""
    assert subprocess.run([sys.executable, "-c", late], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_get_the_users_file_permissions_not_the_temporary_files(tmp_path, umask, mode):
    """Atomic writes go through a 0600 temporary file; the published file must end up
    readable as any file the user creates (0666 less the umask): reviewers, web servers."""
    import subprocess
    import sys

    code = f"""
import os, stat, sys
os.umask({umask})
from sipas.base.io import write_table, write_text
import pandas as pd
paths = [write_text(sys.argv[1] + "/a/page.html", "<html></html>"),
         *write_table(pd.DataFrame({{"x": [1]}}), sys.argv[1] + "/t/table")]
print(" ".join(oct(stat.S_IMODE(os.stat(p).st_mode)) for p in paths))
"""
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [oct(mode)] * 3
