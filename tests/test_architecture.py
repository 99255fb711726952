"""The package's shape: one subpackage per stage, and a later stage may import an earlier
one, never the reverse (docs/architecture-notes.md). Read from the source with ``ast``, so
that a lazy import inside a function counts as much as one at the top."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sipas"

# stage -> rank; a module may import sipas modules of its own rank or lower
RANK = {"base": 0, "intake": 1, "demo": 1, "estimation": 2, "publishing": 3, "running": 4, "cli": 5}
MAX_LINES = 400


def _stage(module: str) -> str:
    """``sipas.estimation.indices`` -> ``estimation``; ``sipas.cli`` -> ``cli``."""
    parts = module.split(".")
    if len(parts) < 2:
        return "package"
    return parts[1]


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every sipas module a file imports, with its line; relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "sipas"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "sipas":
                continue
            if mod == "sipas":  # from sipas import base -> the named submodules
                found += [(node.lineno, f"sipas.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, mod))
    return found


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_belongs_to_a_stage():
    stray = [str(p.relative_to(SRC)) for p in _modules()
             if _stage(_module_name(p)) not in RANK and _module_name(p) != "sipas"]
    assert not stray, f"modules outside the stage subpackages {sorted(RANK)}: {stray}"


def test_every_stage_says_what_it_owns():
    for stage in RANK:
        init = SRC / stage / "__init__.py"
        if not init.exists():
            continue  # cli is a module
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 80, f"{init.relative_to(SRC)} needs a docstring saying what the stage owns"


def test_a_later_stage_may_import_an_earlier_one_never_the_reverse():
    bad = []
    for path in _modules():
        src_stage = _stage(_module_name(path))
        if src_stage not in RANK:
            continue
        for line, target in _imports(path):
            dst_stage = _stage(target)
            if dst_stage in RANK and RANK[dst_stage] > RANK[src_stage]:
                bad.append(f"{path.relative_to(SRC)}:{line} ({src_stage}) imports {target} ({dst_stage})")
    assert not bad, "imports against the stage order:\n" + "\n".join(bad)


def test_the_import_checker_sees_a_violation(tmp_path, monkeypatch):
    """The checker itself: a base module importing publishing, lazily, is caught."""
    fake = tmp_path / "sipas"
    (fake / "base").mkdir(parents=True)
    (fake / "base" / "x.py").write_text("def f():\n    from sipas.publishing import report\n    from ..running import batch\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", fake)
    found = _imports(fake / "base" / "x.py")
    assert found == [(2, "sipas.publishing"), (3, "sipas.running")]
    assert [RANK[_stage(t)] for _, t in found] == [3, 4]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_over_400_lines(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(SRC)} has {n} lines (at most ~{MAX_LINES}): split it by responsibility"
