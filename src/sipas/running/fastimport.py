"""Start-up cost of sipas's own processes (the command, the batch workers).

``nbformat`` (hence papermill and nbconvert) imports ``jsonschema``, which imports the
optional ``rfc3987_syntax`` at import time to check the ``iri`` and ``iri-reference``
string formats; that module builds about 35 Earley parsers when imported: 0.9 s of
CPU in every process (python-jsonschema/jsonschema#1428), a fifth of a one-annex
re-run on a 2-core machine. No notebook schema uses those formats, so sipas's
processes mark the module absent before anything imports jsonschema, and jsonschema
leaves those two format checks out (its documented behaviour when the optional
dependency is not installed). Called by the command and by the worker processes, not
on ``import sipas``: a library user's process is left as it is.
"""

from __future__ import annotations

import sys

SKIPPED = ("rfc3987_syntax",)


def skip_slow_optional_imports() -> None:
    if "jsonschema" in sys.modules:  # too late to matter, and jsonschema decided already
        return
    for name in SKIPPED:
        sys.modules.setdefault(name, None)  # `import name` now raises ImportError
