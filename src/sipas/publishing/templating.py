"""The Jinja2 environment of the page templates (``templates/``, autoescape on) and the
house macros of ``macros.html.j2``.

Apart from :mod:`sipas.publishing.markup` (which builds the pages' parts with them) so
that the processes that only wrap an executed notebook into a page
(:mod:`sipas.publishing.render`, in every batch worker) import Jinja2 and nothing of
pandas, SciPy or the estimation code: about half a second of CPU per worker start.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

_TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES),
                              autoescape=jinja2.select_autoescape(["html", "j2"]),
                              keep_trailing_newline=True)


@lru_cache(maxsize=1)
def macros():
    """The macros of ``macros.html.j2`` as callables returning Markup."""
    return env().get_template("macros.html.j2").module


__all__ = ["env", "macros"]
