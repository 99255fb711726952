"""nfc_lines (the CSV reader's NFC, line by line) gives what unicodedata's NFC of the
whole text gives."""

import random
import unicodedata

import pytest

from sipas.intake.normalize import nfc_lines

CASES = [
    "",
    "Mã phiếu,Đơn vị\r\nA1,Sở Tư pháp\r\n",                       # already NFC
    "Ma\u0303 phie\u0302\u0301u\nA1,So\u031b\u0309 Tu\u031b pha\u0301p\n",   # NFD Vietnamese
    "abc\n\u0301x\n",                                                # combining mark after a line break
    "e\u0323\u0302\r\n\u1100\u1161\u11a8\n\U0001d15e\n",              # reordered marks, Hangul, astral
    "\u2126 \u212b \u0958\n",                                         # characters NFC replaces
]


@pytest.mark.parametrize("text", CASES)
def test_nfc_lines_cases(text):
    assert nfc_lines(text) == unicodedata.normalize("NFC", text)


def test_nfc_lines_random_text():
    rng = random.Random(12)
    pool = ([chr(c) for c in range(0x20, 0x250)] + [chr(c) for c in range(0x300, 0x370)]
            + ["\n", "\r\n", "\u1ea1", "\uac00", "\u1161", "\u11a8", "\u0915", "\u093c", "\U0001d165"])
    for _ in range(500):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 120)))
        assert nfc_lines(text) == unicodedata.normalize("NFC", text)


def test_nfc_lines_keeps_nfc_text_as_it_is():
    text = "Sở Tư pháp,Nguyễn Văn Ánh\n" * 100
    assert nfc_lines(text) is text
