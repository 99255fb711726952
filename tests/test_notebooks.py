"""The notebooks run as they are, with their default parameters (nbval, lax mode).

nbval executes every cell of notebooks/*.ipynb in a fresh kernel; a cell that raises
fails the test. The kernel finds the demo project through SIPAS_ROOT.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .demo_project import REPO


def test_notebooks_committed_without_outputs():
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, path.name


def test_parameters_cell_holds_literals_only():
    import ast

    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(cells) == 1, f"{path.name}: exactly one cell tagged 'parameters'"
        tree = ast.parse("".join(cells[0]["source"]))
        for node in tree.body:
            assert isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant), \
                f"{path.name}: parameters cell must assign literals only"


def test_notebooks_execute_with_defaults_nbval(demo):
    env = {**os.environ, "SIPAS_ROOT": str(demo)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider",
         str(REPO / "notebooks")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
