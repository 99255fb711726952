"""The processed microdata of a year, as each consumer reads it.

``sipas validate`` (or ``sipas demo-data``) writes ``data/processed/<year>/responses.parquet``.
The tables are computed from :func:`estimation_frame` (every column but the open comment
and the provenance columns), and the batch keys the tables on the hash of that very
frame (:func:`estimation_hash`), so a corrected comment recomputes no table while any
change the tables can see does. Light on imports: the batch driver calls it before it
decides whether anything is to be computed.
"""

from __future__ import annotations

import pandas as pd

from sipas.base.codebook import YearConfig
from sipas.base.errors import SipasError

# the data contract's provenance columns: where a row was read from and what intake noted
# of it; never estimated
ORIGIN = ["source_file", "source_row", "flags"]


def load_responses(cfg: YearConfig, columns: list[str] | None = None) -> pd.DataFrame:
    """The processed microdata of a year (``sipas validate`` writes it)."""
    path = cfg.paths.responses(cfg.year)
    if not path.is_file():
        raise SipasError("processed survey data not found", file=path,
                         hint=f"run `sipas validate --year {cfg.year}` first "
                              f"(or `sipas demo-data --year {cfg.year}` for demo data)")
    try:
        return pd.read_parquet(path, columns=columns)
    except (OSError, ValueError) as exc:   # pyarrow.ArrowInvalid is a ValueError
        raise damaged(path, exc) from None


def damaged(path, exc: Exception) -> SipasError:
    """The error for a processed file that cannot be read (truncated, overwritten)."""
    return SipasError(f"the processed survey data cannot be read: it is damaged or truncated "
                      f"({type(exc).__name__}: {str(exc)[:120]})", file=path,
                      hint="run `sipas validate --year <year>` again to rebuild it from the raw files")


def estimation_columns(cfg: YearConfig, names: list[str]) -> list[str]:
    """The columns the tables are computed from: every column but the open comment (free
    text, quoted by the annexes, never estimated) and the provenance columns."""
    skip = set(ORIGIN) | ({cfg.methodology.comment.id} if cfg.methodology.comment else set())
    return [c for c in names if c not in skip]


def estimation_frame(cfg: YearConfig) -> pd.DataFrame:
    """The microdata as the tables see it (:func:`estimation_columns`)."""
    import pyarrow.parquet as pq

    path = cfg.paths.responses(cfg.year)
    try:
        names = pq.read_schema(path).names if path.is_file() else None
    except (OSError, ValueError) as exc:
        raise damaged(path, exc) from None
    return load_responses(cfg, estimation_columns(cfg, names) if names else None)


def estimation_hash(cfg: YearConfig, responses: pd.DataFrame | None = None) -> str:
    """Content hash of :func:`estimation_frame` (what the tables step reads); from
    ``responses`` (the whole file, already read) when given: the same columns of it."""
    from sipas.base.hashing import frame_hash

    frame = estimation_frame(cfg) if responses is None else responses[estimation_columns(cfg, list(responses.columns))]
    return frame_hash(frame)


def comparable_previous(cfg: YearConfig) -> YearConfig | None:
    """The previous year, when it used the same methodology and its processed data exists
    (the change tests compare with it)."""
    prev = cfg.registry.previous_year
    if prev is None or not cfg.paths.responses(prev).is_file():
        return None
    prev_cfg = YearConfig(prev, cfg.paths)
    return prev_cfg if prev_cfg.methodology.id == cfg.methodology.id else None
