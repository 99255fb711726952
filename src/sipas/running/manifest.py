"""``outputs/<year>/manifest.json``: every artefact of a year, traceable to its inputs.

One entry per build step (``tables``, ``annex:<name>``, ``pdf:<name>``, ``workbook``,
``docx``, ``docx-pdf``, ``index``; in ``outputs/manifest.json``, with ``"year": null``, the
steps across years: ``trends``, ``site``), sorted by id, each with

* ``outputs``: the files it wrote (path relative to the year's folder, sha256, bytes);
* ``key`` and ``inputs``: the hash of every input it depends on (see :mod:`sipas.running.cache`),
  so an unchanged key means an unchanged artefact and a published figure can be traced
  to the data file, the params, the notebook and the code that produced it;
* ``parameters`` (notebook parameters), ``status`` (ok / failed / unavailable),
  ``error``, ``seconds`` (its last build) and ``built_at``.

Top level: the versions of Python, ``sipas`` (version and source hash) and the key
libraries, the data file's hash, and ``run`` (the last run: when, how, what it rebuilt).
Timestamps appear only here (``built_at``, ``run``), never inside the artefacts. The
manifest is rewritten atomically after every finished step, so an interrupted run
keeps what it finished and the next run builds only the rest. Each entry's JSON text is
made once (entries are never changed in place: a step's new entry replaces the old), so a
save costs a join, not an encoding of every entry: with the pure-Python encoder that
``indent`` implies, re-encoding them all after each of a province's ~100 annexes was
quadratic (118 saves: 0.4 s of the driver's CPU, now 0.1 s).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

SCHEMA = 1
_DUMP = {"ensure_ascii": False, "indent": 1, "sort_keys": True}
_SLOT = "\u0000sipas-artefacts\u0000"  # stands for the artefacts' list while the top level is encoded


def _entry_text(entry: dict) -> str:
    """``entry`` as ``json.dumps(manifest, **_DUMP)`` writes it inside the artefacts' list
    (two levels deep: every line indented by two spaces; JSON strings hold no newline)."""
    return "\n".join("  " + line for line in json.dumps(entry, **_DUMP).split("\n"))


def dumps(top: dict, entries: list[str]) -> str:
    """The text of ``json.dumps({**top, "artefacts": [...]}, **_DUMP)``, where ``entries`` are
    the artefacts' texts (:func:`_entry_text`) in order."""
    text = json.dumps({**top, "artefacts": [_SLOT]}, **_DUMP)
    slot = "[\n  " + json.dumps(_SLOT, **_DUMP) + "\n ]"
    assert text.count(slot) == 1
    return text.replace(slot, "[\n" + ",\n".join(entries) + "\n ]" if entries else "[]")


def now() -> str:
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")


class Manifest:
    def __init__(self, path: Path, year: int | None):
        self.path = Path(path)
        self.year = year
        self.entries: dict[str, dict] = {}
        self.meta: dict = {}
        self._texts: dict[str, tuple[dict, str]] = {}  # id -> (the entry, its text)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path, year: int | None) -> Manifest:
        m = cls(path, year)
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.get("schema") == SCHEMA and data.get("year") == year:
                m.entries = {e["id"]: e for e in data.get("artefacts", [])}
                m.meta = {k: v for k, v in data.items() if k not in ("artefacts",)}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass  # no manifest, or an unreadable one: everything is rebuilt
        return m

    def get(self, step_id: str) -> dict | None:
        return self.entries.get(step_id)

    def put(self, entry: dict) -> None:
        with self._lock:
            self.entries[entry["id"]] = entry

    def drop(self, step_id: str) -> None:
        with self._lock:
            self.entries.pop(step_id, None)
            self._texts.pop(step_id, None)

    def _top(self) -> dict:
        return {"schema": SCHEMA, "year": self.year, **{k: v for k, v in sorted(self.meta.items())
                                                        if k not in ("schema", "year")}}

    def to_dict(self) -> dict:
        with self._lock:
            arts = [self.entries[k] for k in sorted(self.entries)]
        return {**self._top(), "artefacts": arts}

    def _text(self, step_id: str) -> str:
        entry = self.entries[step_id]
        made = self._texts.get(step_id)
        if made is None or made[0] is not entry:
            made = self._texts[step_id] = (entry, _entry_text(entry))
        return made[1]

    def save(self) -> None:
        """Write the manifest (the text of ``json.dumps(self.to_dict(), **_DUMP)``) atomically."""
        from sipas.base.io import write_text

        with self._lock:
            text = dumps(self._top(), [self._text(k) for k in sorted(self.entries)])
            write_text(self.path, text + "\n")
