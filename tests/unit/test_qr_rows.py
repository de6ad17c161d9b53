"""The QR image rows of qr.module_rows (what the PDF certificate draws) are exactly segno's
module matrix with its quiet zone, for any text of each format, mask and quiet zone: the
fast path (a layout already checked against segno) and the paths left to the matrix (a
layout's first code, a text outside the format's mode)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cowin_kit.certificates.formats import qr
from cowin_kit.certificates.formats.qr import QR_BUILDERS, module_matrix, module_rows

BASE45 = string.digits + string.ascii_uppercase + " $%*+-./:"


def segno_rows(kind: str, text: str, mask: int, border: int) -> tuple[int, bytes]:
    """Packed rows (1 light, rows padded to whole bytes) written out from segno's matrix."""
    matrix = QR_BUILDERS[kind](text, mask=mask).matrix
    side = len(matrix) + 2 * border
    padded = -(-side // 8) * 8
    bits = []
    for y in range(side):
        for x in range(padded):
            row, column = y - border, x - border
            inside = 0 <= row < len(matrix) and 0 <= column < len(matrix)
            bits.append("0" if inside and matrix[row][column] & 1 else "1")
    return side, int("".join(bits), 2).to_bytes(padded * side // 8, "big")


def assert_same(kind: str, text: str, mask: int, border: int) -> None:
    module_matrix(kind, text, mask)  # the layout made and checked against segno first
    expected = segno_rows(kind, text, mask, border)
    assert module_rows(kind, text, mask, border) == expected
    assert qr._packed(*module_matrix(kind, text, mask), border) == expected


@settings(max_examples=40, deadline=None)
@given(st.text(BASE45, min_size=1, max_size=1200), st.integers(0, 7), st.integers(0, 5))
def test_dcc_rows(body, mask, border):
    assert_same("dcc", "HC1:" + body, mask, border)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 900), st.integers(0, 7), st.integers(0, 5), st.randoms(use_true_random=False))
def test_shc_rows(pairs, mask, border, rng):
    digits = "".join(f"{rng.randint(0, 77):02d}" for _ in range(pairs))
    assert_same("shc", "shc:/" + digits, mask, border)


@settings(max_examples=40, deadline=None)
@given(st.text(BASE45, min_size=1, max_size=1200), st.integers(0, 7), st.integers(0, 5))
def test_vc_rows(body, mask, border):
    assert_same("vc", "VC1:" + body, mask, border)


def test_a_layouts_first_code_and_texts_left_to_segno():
    # a new layout's first code goes through the checked matrix, the next ones not
    text = "HC1:" + "Z" * 1500  # a version no other test of this module makes
    assert module_rows("dcc", text, 5, 4) == segno_rows("dcc", text, 5, 4)
    assert module_rows("dcc", text[:-1] + "Y", 5, 4) == segno_rows("dcc", text[:-1] + "Y", 5, 4)
    # outside the alphanumeric set (lower case, non-ASCII): left to segno, which refuses
    for odd in ("HC1:lower case", "HC1:ÄÖ"):
        with pytest.raises(ValueError):
            QR_BUILDERS["dcc"](odd, mask=2)
        with pytest.raises(ValueError):
            module_rows("dcc", odd, 2, 4)
