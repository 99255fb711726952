"""outputs/<year>/manifest.json: the text written by Manifest.save is exactly what
json.dumps(manifest.to_dict(), ensure_ascii=False, indent=1, sort_keys=True) writes (the
reference), although each entry's text is made once and reused across saves."""

from __future__ import annotations

import json

from sipas.running.manifest import Manifest


def reference(m: Manifest) -> str:
    return json.dumps(m.to_dict(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def entry(i: int, **extra) -> dict:
    return {"id": f"annex:xã-{i:03d}", "kind": "annex", "name": f"xã-{i:03d}", "key": f"{i:064x}",
            "inputs": {"tables": "ab" * 32, "code": "cd" * 32}, "parameters": {"unit_id": f"xã-{i}", "year": 2025},
            "outputs": [{"path": f"units/xã-{i}.html", "sha256": "ef" * 32, "bytes": 1000 + i}],
            "status": "ok", "error": "", "seconds": 1.25 + i / 7, "timings": {}, "nested": [[], {}, [1, [2.5]]],
            "text": "Phường \"Đông\" \\ tab\t line\nnext", **extra}


def test_save_writes_the_reference_text_across_puts_replacements_and_drops(tmp_path):
    path = tmp_path / "manifest.json"
    m = Manifest(path, 2025)
    m.save()  # no artefacts yet: an empty list
    assert path.read_text(encoding="utf-8") == reference(m)
    assert json.loads(path.read_text(encoding="utf-8"))["artefacts"] == []
    m.meta.update(aaa_first={"x": [1, 2]}, run={"when": "2026-12-07", "rebuilt": ["a", "b"]}, versions={})
    for i in (5, 1, 3):
        m.put(entry(i))
        m.save()
        assert path.read_text(encoding="utf-8") == reference(m)
    m.put(entry(3, status="failed", error="Kernel died"))  # a rebuilt step replaces its entry
    m.drop("annex:xã-001")
    m.save()
    text = path.read_text(encoding="utf-8")
    assert text == reference(m)
    arts = json.loads(text)["artefacts"]
    assert [a["id"] for a in arts] == ["annex:xã-003", "annex:xã-005"]
    assert arts[0]["error"] == "Kernel died"


def test_a_loaded_manifest_saves_back_to_the_same_bytes(tmp_path):
    path = tmp_path / "manifest.json"
    m = Manifest(path, 2023)
    m.meta["data"] = {"sha256": "00" * 32}
    for i in range(4):
        m.put(entry(i))
    m.save()
    first = path.read_bytes()
    again = Manifest.load(path, 2023)
    assert again.entries.keys() == m.entries.keys()
    again.save()
    assert path.read_bytes() == first
