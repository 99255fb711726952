"""Seeded demo survey data: the raw file an analyst would receive from the field.

``write_demo_data(year)`` writes ``data/raw/<year>/phieu-khao-sat-<year>.csv`` (UTF-8 with
BOM, the format of docs/data-contract.md) and ``data/raw/<year>/_demo_key.json``, the list
of bad records injected on purpose (kind, questionnaire id, row); under a household
design (``design.households``) also the sampling frame file it names. The work is done by
:func:`generate`, a pure function of (registry, methodology, fields, settings, spec, seed)
that writes nothing; the knobs are in ``params/demo.yaml``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from sipas.base.codebook import YearConfig
from sipas.base.config import Paths
from sipas.base.config import paths as default_paths

from .generate import DemoSurvey, generate, sample_sizes, strip_accents
from .households import FRAME_HEADER
from .spec import DemoSpec, load_demo_spec

__all__ = ["DemoSpec", "DemoSurvey", "demo_survey", "generate", "load_demo_spec", "sample_sizes",
           "strip_accents", "to_csv_bytes", "write_demo_data", "write_national_demo"]


def demo_survey(year: int, seed: int | None = None, *, root: str | os.PathLike | None = None,
                paths: Paths | None = None) -> DemoSurvey:
    """Generate (in memory) the demo survey of ``year`` from the project's params."""
    p = paths or default_paths(root)
    cfg = YearConfig(year, p)
    spec = load_demo_spec(p)
    return generate(cfg.registry, cfg.methodology, cfg.fields, cfg.settings, spec, seed)


def to_csv_bytes(survey: DemoSurvey, line_terminator: str = "\r\n") -> bytes:
    """The survey as CSV bytes: UTF-8 with BOM, comma separated, minimal quoting."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=line_terminator, quoting=csv.QUOTE_MINIMAL)
    w.writerow(survey.header)
    w.writerows(survey.rows)
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_demo_data(year: int, seed: int | None = None, *, root: str | os.PathLike | None = None,
                    paths: Paths | None = None) -> list[Path]:
    """Write the demo raw survey file of ``year`` and its key; return their paths.

    Same (params, year, seed) -> byte-identical files. ``seed`` defaults to
    ``params/demo.yaml: seed``.
    """
    p = paths or default_paths(root)
    spec = load_demo_spec(p)
    cfg = YearConfig(year, p)
    survey = generate(cfg.registry, cfg.methodology, cfg.fields, cfg.settings, spec, seed)
    out = p.raw(year)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / spec.output.file.format(year=year)
    key_path = out / spec.output.key_file.format(year=year)
    survey.key["file"] = csv_path.name
    _write_atomic(csv_path, to_csv_bytes(survey, spec.output.line_terminator))
    _write_atomic(key_path, (json.dumps(survey.key, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    written = [csv_path, key_path]
    if survey.frame is not None:   # household design: where each adult was drawn
        frame = DemoSurvey(year, FRAME_HEADER, survey.frame)
        cfg.frame_path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(cfg.frame_path, to_csv_bytes(frame, spec.output.line_terminator))
        written.append(cfg.frame_path)
    return written


def write_national_demo(year: int = 2025, **kwargs) -> list[Path]:
    """Many provinces, one project folder each (see :mod:`sipas.demo.national`)."""
    from .national import write_national_demo as _write

    return _write(year, **kwargs)
