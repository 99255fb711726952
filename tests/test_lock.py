"""requirements.lock pins every dependency that pyproject.toml names (runtime, dev and lab
extras), at a version that satisfies pyproject's range; `make setup` installs through it.
After changing a dependency: `make lock`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if m:
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    return [Requirement(r) for r in reqs]


def test_every_declared_dependency_is_pinned_within_its_range():
    pins = _pins()
    assert len(pins) > 50  # the whole resolved set, not only the direct dependencies
    problems = []
    for req in _declared():
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req.name}: not in requirements.lock")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{req.name}: locked {pins[name]} outside {req.specifier}")
    assert not problems, "run `make lock` and commit requirements.lock:\n" + "\n".join(problems)


def test_setup_and_conda_install_through_the_lock():
    assert "-c requirements.lock" in (REPO / "Makefile").read_text(encoding="utf-8")
    assert "-c requirements.lock" in (REPO / "environment.yml").read_text(encoding="utf-8")
