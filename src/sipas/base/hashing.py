"""Content hashes (SHA-256) of bytes, files, JSON-able objects and data frames: the
building blocks of the run's dependency keys (:mod:`sipas.running.cache`) and of the
estimation frame's hash (:func:`sipas.base.microdata.estimation_hash`)."""

from __future__ import annotations

import hashlib
import json
import os


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def maybe_file_sha(path: str | os.PathLike) -> str | None:
    try:
        return file_sha(path)
    except OSError:
        return None


def json_hash(obj) -> str:
    return sha256_bytes(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))


def frame_hash(df) -> str:
    """Content hash of a data frame (column names, dtypes and values; not the index)."""
    import pandas as pd

    h = hashlib.sha256()
    h.update(json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()]).encode())
    if len(df):
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


__all__ = ["file_sha", "frame_hash", "json_hash", "maybe_file_sha", "sha256_bytes"]
