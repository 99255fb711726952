"""What ``sipas release`` checks besides the manifest's own record
(:func:`sipas.publishing.official.release.stale_reasons`): that the ``sipas`` code and
the year's params are the ones the last run used (the hashes of :mod:`sipas.running.cache`)."""

from __future__ import annotations

import json

from sipas.base.codebook import YearConfig
from sipas.base.config import Paths
from sipas.running import cache


def code_or_params_changed(p: Paths, year: int) -> list[str]:
    path = p.outputs(year) / "manifest.json"
    if not path.is_file():
        return []
    meta = json.loads(path.read_text(encoding="utf-8"))
    out = []
    if meta.get("sipas", {}).get("source_sha256") != cache.source_hash():
        out.append("the sipas code changed since the last run")
    if meta.get("inputs", {}).get("params") != cache.params_hash(YearConfig(year, p)):
        out.append("params changed since the last run")
    return out
