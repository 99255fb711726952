"""The Dask executor: the same tasks on a local Dask cluster give the same bytes."""

from __future__ import annotations

import json

import pytest

from sipas.running import cache

from .demo_project import sipas
from .test_batch_incremental import project

pytest.importorskip("distributed")

UNITS = "so-tu-phap,tam-duong"


def test_dask_local_cluster_gives_byte_identical_tables_and_annexes(demo, tmp_path):
    local = project(demo, tmp_path / "local")
    dask = project(demo, tmp_path / "dask")
    for root in (local, dask):  # the tables are recomputed by the run itself, on the executor
        for f in (root / "outputs" / "2023" / "tables").iterdir():
            f.unlink()
    sipas(local, "run", "--year", "2023", "--unit", UNITS, "--jobs", "1")
    proc = sipas(dask, "run", "--year", "2023", "--unit", UNITS, "--jobs", "2", "--executor", "dask")
    assert "3 annexes written, 0 failed" in proc.stderr
    m = json.loads((dask / "outputs" / "2023" / "manifest.json").read_text(encoding="utf-8"))
    assert m["run"]["executor"] == "dask"
    rels = [*(f"tables/{n}.{ext}" for n in ("indices", "sample", "profile", "expectations") for ext in ("csv", "parquet")),
            "province.html", "units/so-tu-phap.html", "units/tam-duong.html", "index.html"]
    for rel in rels:
        a, b = local / "outputs" / "2023" / rel, dask / "outputs" / "2023" / rel
        assert cache.file_sha(a) == cache.file_sha(b), rel
    for name in ("province", "so-tu-phap", "tam-duong"):  # executed notebooks: the same but for the root parameter
        a = (local / "outputs" / "2023" / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8")
        b = (dask / "outputs" / "2023" / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8")
        assert a.replace(str(local), "ROOT") == b.replace(str(dask), "ROOT"), name
    # the manifests agree on every input, whichever executor ran them (the source hash aside:
    # in a working tree that others edit, it may move between the two runs)
    ml = json.loads((local / "outputs" / "2023" / "manifest.json").read_text(encoding="utf-8"))

    def inputs(manifest):
        return [(a["id"], {k: v for k, v in a["inputs"].items() if k != "code"}) for a in manifest["artefacts"]]
    assert inputs(ml) == inputs(m)
