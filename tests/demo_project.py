"""A throw-away copy of the project (params, notebooks) with the demo year built in it.

Built once per test session through the real command line (``sipas demo-data``,
``sipas validate``, ``sipas estimate``), so the tests exercise what a user runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIPAS = [sys.executable, "-m", "sipas.cli"]


def sipas(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "SIPAS_ROOT": str(root)}
    proc = subprocess.run([*SIPAS, *args], cwd=root, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"sipas {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def copy_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for folder in ("params", "notebooks"):
        shutil.copytree(REPO / folder, root / folder, dirs_exist_ok=True)
    return root


def build(root: Path, years: tuple[int, ...] = (2023,)) -> Path:
    """Demo data, intake and tables for ``years`` under ``root``."""
    copy_project(root)
    for year in years:
        sipas(root, "demo-data", "--year", str(year))
        sipas(root, "validate", "--year", str(year))
        sipas(root, "estimate", "--year", str(year))
    return root
