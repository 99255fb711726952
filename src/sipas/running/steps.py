"""The steps of a run, declared as data, and the one place that decides, records and reports them.

A :class:`Step` is an artefact: its id in the manifest, the *inputs* it depends on (each
a hash: :mod:`sipas.running.cache`; its *key* is their hash), its notebook parameters,
and how it is built: ``build()`` returns the files it wrote, or ``build`` is None for a
step the workers build (an annex and its PDF: :class:`sipas.running.executor.AnnexTask`).
A :class:`Ledger` holds a manifest and the folder its paths are relative to; for every
step it says why it must be rebuilt (:meth:`Ledger.decide`: new, forced, failed before,
which input changed, or its files changed on disk; None: up to date), records the build
in the manifest (:meth:`Ledger.record`) and returns the summary's :class:`Outcome`.
:meth:`Ledger.build` does the three for a step the driver builds.

The graph is layered; a step's inputs are hashed when the layer before it is done:

=====  =============================================  ===================================
layer  steps (manifest ids)                           built by
=====  =============================================  ===================================
1      ``tables``                                     the driver (or a Dask worker)
2      ``annex:<name>``, ``pdf:<name>``               the workers (warm kernels)
2      ``workbook``, ``docx``, ``docx-pdf``           a driver thread, meanwhile
3      ``index`` (the year's front door)              the driver
4      ``trends``                                     the workers; in ``outputs/manifest.json``
4      ``site`` (``outputs/index.html``)              the driver; in ``outputs/manifest.json``
=====  =============================================  ===================================
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sipas.running import cache
from sipas.running.manifest import Manifest, now
from sipas.running.summary import Outcome


def rel(path: Path | str, base: Path) -> str:
    return Path(path).resolve().relative_to(base.resolve()).as_posix()


@dataclass
class Step:
    """One artefact of a run: manifest id, kind (the summary's step), name, inputs, builder."""

    id: str
    kind: str
    name: str
    inputs: dict
    build: Callable[[], list] | None = None  # None: built by the workers
    parameters: dict = field(default_factory=dict)
    fatal: tuple = ()  # exceptions of build() that stop the run (else: the step failed)

    @property
    def key(self) -> str:
        return cache.key_of(self.inputs)


class Ledger:
    """A manifest, the folder its paths are relative to, and ``--force``."""

    def __init__(self, manifest: Manifest, base: Path, year: int, force: bool):
        self.manifest, self.base, self.year, self.force = manifest, base, year, force

    def _intact(self, entry: dict) -> bool:
        return all(cache.maybe_file_sha(self.base / o["path"]) == o["sha256"] for o in entry.get("outputs", []))

    def decide(self, step: Step) -> str | None:
        """Why ``step`` must be rebuilt, or None when it is up to date."""
        entry = self.manifest.get(step.id)
        if self.force:
            return "forced (--force)"
        if entry is None:
            return "new (no previous build)"
        if entry.get("status") != "ok":
            return f"previous build {entry.get('status', 'unknown')}"
        if entry.get("key") != step.key:
            return cache.describe(cache.changed(entry.get("inputs"), step.inputs)) or "inputs changed"
        if not self._intact(entry):
            return "output missing or changed on disk"
        return None

    def fresh(self, step: Step) -> Outcome:
        return Outcome(self.year, step.kind, step.name, True, False, "up to date")

    def files(self, files) -> list[dict]:
        """Manifest entries (path relative to the ledger's folder, sha256, bytes) of ``files``."""
        return [{"path": rel(f, self.base), "sha256": cache.file_sha(f), "bytes": Path(f).stat().st_size}
                for f in sorted(files, key=str)]

    def record(self, step: Step, reason: str, outputs: list[dict], seconds: float, status: str = "ok",
               error: str = "", **extra) -> Outcome:
        """Write the step's manifest entry (``outputs`` as :meth:`files` gives them) and save."""
        entry = {"id": step.id, "kind": step.kind, "name": step.name, "key": step.key, "inputs": step.inputs,
                 "parameters": step.parameters, "built_at": now(), "outputs": outputs, "status": status,
                 "error": error, "seconds": round(seconds, 3), **extra}
        self.manifest.put(entry)
        self.manifest.save()
        return Outcome(self.year, step.kind, step.name, status == "ok", True, reason, entry["seconds"], error, status)

    def keep_previous(self, ids: list[str], error: str, **attempt) -> bool:
        """faults (issue 16): the build of the steps ``ids`` failed but left their previous
        files in place (a kernel died twice). Their entries keep describing those files
        (previous key and hashes: the next run rebuilds them when their inputs changed),
        with the failed attempt noted; False when ``ids[0]`` had no previous build to keep."""
        for step_id in ids:
            entry = self.manifest.get(step_id)
            if entry is not None and entry.get("status") == "ok":
                self.manifest.put({**entry, "last_attempt": {"at": now(), "status": "failed", "error": error,
                                                             **attempt}})
        self.manifest.save()
        entry = self.manifest.get(ids[0])
        return entry is not None and entry.get("status") == "ok"

    def build(self, step: Step) -> Outcome:
        """Decide, build (on the driver) and record ``step``; its exception (unless
        ``step.fatal``: the run stops) is the step's error in the summary and the manifest."""
        reason = self.decide(step)
        if reason is None:
            return self.fresh(step)
        t0 = time.perf_counter()
        try:
            outputs, status, error = self.files(step.build()), "ok", ""
        except step.fatal:
            raise
        except Exception as exc:  # noqa: BLE001 - reported, the other steps go on
            outputs, status, error = [], "failed", f"{type(exc).__name__}: {exc}"
        return self.record(step, reason, outputs, time.perf_counter() - t0, status, error)
