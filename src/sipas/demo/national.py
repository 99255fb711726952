"""National-scale demo data (issue 6, item 7): many provinces from the same generator.

Each province becomes a self-contained project folder,
``<out>/<province-id>/{params, notebooks, data/raw/<year>}``: its own registry (the departments and
placeholder commune-level units of ``params/demo.yaml: national``), settings naming the
province, the methodology and fields of the source project, and a ``demo.yaml`` whose
seed, CCCD code and level shift are the province's. So ``SIPAS_ROOT=<out>/<id> sipas run``
works on each, and every province folder regenerates byte-identically from its params.
"""

from __future__ import annotations

import os
import shutil
import zlib
from pathlib import Path

import numpy as np
import yaml

from sipas.base.codebook import _read_yaml
from sipas.base.config import Paths
from sipas.base.config import paths as default_paths
from sipas.base.errors import ConfigError

from .spec import National, load_demo_spec


def _dump(path: Path, data: dict, header: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)
    path.write_text(text, encoding="utf-8")


def national_registry(nat: National, province, year: int, seed: int) -> dict:
    """The unit registry (as YAML data) of one province: departments + commune-level units."""
    g = np.random.default_rng([seed, zlib.crc32(f"national:{province.id}".encode())])
    n = int(g.integers(nat.communes_per_province[0], nat.communes_per_province[1] + 1))
    ward = g.random(n) < nat.ward_share
    lo_d, hi_d = nat.served["department"]
    lo_c, hi_c = nat.served["commune"]
    units = [{"id": d.id, "name": d.name, "type": "department", "served": int(g.integers(lo_d, hi_d + 1))}
             for d in nat.departments]
    for k in range(n):
        kind, label = ("phuong", "Phường") if ward[k] else ("xa", "Xã")
        units.append({"id": f"{kind}-{k + 1:03d}", "name": f"{label} số {k + 1:03d}", "type": "commune",
                      "served": int(g.integers(lo_c, hi_c + 1))})
    return {
        "year": year,
        "methodology": nat.methodology,
        "survey_period": {"start": f"{year}-{nat.survey_period['start']}", "end": f"{year}-{nat.survey_period['end']}"},
        "design": {"stratum": "unit_id", "psu": {"department": "respondent_id", "commune": "respondent_id"},
                   "weight": "served_over_sample", "fpc": True, "lonely_psu": "adjust"},
        "unit_types": [
            {"id": "department", "label": "Sở, ban, ngành tỉnh", "label_plural": "Các sở, ban, ngành"},
            {"id": "commune", "label": "UBND xã, phường", "label_plural": "UBND các xã, phường"},
        ],
        "units": units,
    }


def write_national_demo(year: int = 2025, *, out: str | os.PathLike | None = None,
                        provinces: int | list[str] | None = None, seed: int | None = None,
                        root: str | os.PathLike | None = None, paths: Paths | None = None) -> list[Path]:
    """Write one demo project per province under ``out`` (default
    ``data/national/<year>/``) and return the raw files written.

    ``provinces``: all (None), the first k (an int), or a list of province ids.
    """
    from . import write_demo_data

    p = paths or default_paths(root)
    spec = load_demo_spec(p)
    nat = spec.national
    if nat is None:
        raise ConfigError("no 'national' section", file=p.params / "demo.yaml",
                          hint="add the provinces and departments to generate (see the comments in the file)")
    chosen = list(nat.provinces)
    if isinstance(provinces, int):
        chosen = chosen[:provinces]
    elif provinces is not None:
        known = {q.id: q for q in chosen}
        missing = [x for x in provinces if x not in known]
        if missing:
            raise ConfigError(f"unknown province ids {missing}", file=p.params / "demo.yaml", key="national.provinces",
                              hint=f"known: {', '.join(known)}")
        chosen = [known[x] for x in provinces]
    base_seed = spec.seed if seed is None else int(seed)
    base = Path(out) if out else p.root / "data" / "national" / str(year)
    src_demo = _read_yaml(p.params / "demo.yaml")
    src_settings = _read_yaml(p.params / "settings.yaml")
    written: list[Path] = []
    for q in chosen:
        proot = base / q.id
        params = proot / "params"
        if (params / "methodology").exists():
            shutil.rmtree(params / "methodology")
        shutil.copytree(p.params / "methodology", params / "methodology")
        if p.notebooks.is_dir():  # the annex notebooks: each province folder is a whole project
            shutil.rmtree(proot / "notebooks", ignore_errors=True)
            shutil.copytree(p.notebooks, proot / "notebooks", ignore=shutil.ignore_patterns(".*"))
        shutil.copy2(p.params / "fields.yaml", params / "fields.yaml")
        _dump(params / "settings.yaml", {**src_settings, "province": q.name},
              "# Generated by sipas.demo.national for the demo of one province.\n")
        pseed = int(np.random.default_rng([base_seed, zlib.crc32(q.id.encode())]).integers(1, 2**31))
        _dump(params / "units" / f"{year}.yaml", national_registry(nat, q, year, pseed),
              "# Generated by sipas.demo.national: commune-level unit names, counts and `served` are\n"
              "# PLACEHOLDERS for measuring scale, not the province's real list.\n")
        shift = float(np.random.default_rng([pseed, 1]).normal(0.0, nat.province_sd))
        demo = dict(src_demo)
        demo.pop("national", None)
        demo["seed"] = pseed
        lv = dict(demo["levels"])
        lv["default"] = {t: {**d, "mean": round(min(max(d["mean"] + shift, 0.55), 0.97), 4)}
                         for t, d in lv["default"].items()}
        lv["units"], lv["changes"] = {}, {}
        demo["levels"] = lv
        demo["personal"] = {**demo["personal"], "id_number_prefix": q.code,
                            "province_prefix": "thành phố" if q.city else "tỉnh",
                            "email_domains": [d for d in demo["personal"].get("email_domains", ["gmail.com"])
                                              if not d.endswith(".gov.vn")] or ["gmail.com"]}
        demo["bad_records"] = {**demo.get("bad_records", {}), **nat.bad_records}
        _dump(params / "demo.yaml", demo, f"# Generated by sipas.demo.national for {q.name} (seed {pseed}).\n")
        written += write_demo_data(year, paths=default_paths(proot))
    return written
