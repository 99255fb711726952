"""Where things live. One module knows the project root; everything else asks it.

The root is, in order: the ``SIPAS_ROOT`` environment variable; the nearest folder
above the current directory that holds ``params/settings.yaml``; the checkout this
package was installed from (editable install).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _find_root() -> Path:
    env = os.environ.get("SIPAS_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "params" / "settings.yaml").is_file():
            return folder
    return Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Paths:
    """The project's folders, relative to one root."""

    root: Path

    @property
    def params(self) -> Path:
        return self.root / "params"

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    def raw(self, year: int) -> Path:
        return self.root / "data" / "raw" / str(year)

    def processed(self, year: int) -> Path:
        return self.root / "data" / "processed" / str(year)

    def responses(self, year: int) -> Path:
        """The processed microdata of a year (one row per accepted questionnaire)."""
        return self.processed(year) / "responses.parquet"

    def outputs(self, year: int | None = None) -> Path:
        base = self.root / "outputs"
        return base if year is None else base / str(year)

    def tables(self, year: int) -> Path:
        return self.outputs(year) / "tables"


def paths(root: str | os.PathLike | None = None) -> Paths:
    return Paths(Path(root).resolve() if root else _find_root())
