"""Shared pieces of the ``params/`` schema: the frozen, strict model base and NFC."""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, ConfigDict


def nfc(text: str) -> str:
    """Unicode NFC form: the one form Vietnamese text takes everywhere in the project."""
    return unicodedata.normalize("NFC", text)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
