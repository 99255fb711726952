"""Text helpers of the demo generator: stable per-id random generators, accent
stripping, slugs and the data contract's matching form of labels."""

from __future__ import annotations

import re
import unicodedata
import zlib

import numpy as np


def _stable_rng(seed: int, *parts: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(":".join(parts).encode("utf-8"))])


def strip_accents(text: str) -> str:
    """'Hài lòng' -> 'Hai long' (đ -> d)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", strip_accents(text).lower()).strip("-")


def _norm_key(text: str) -> str:
    """The data contract's matching form: NFC, no diacritics, case folded, runs of
    non-alphanumerics as '_'."""
    return re.sub(r"[^0-9a-z]+", "_", strip_accents(unicodedata.normalize("NFC", text)).casefold()).strip("_")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
