"""The fast module matrix of qr.py is exactly segno's for any text of each format (it only
precomputes what depends on version, error level and mask)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cowin_kit.certificates.formats.qr import QR_BUILDERS, module_matrix

BASE45 = string.digits + string.ascii_uppercase + " $%*+-./:"


def segno_matrix(kind: str, text: str, mask: int) -> tuple[int, bytes]:
    matrix = QR_BUILDERS[kind](text, mask=mask).matrix
    return len(matrix), bytes(cell for row in matrix for cell in row)


def assert_same(kind: str, text: str, mask: int) -> None:
    width, cells = module_matrix(kind, text, mask)
    assert (width, bytes(c & 1 for c in cells)) == segno_matrix(kind, text, mask)


@settings(max_examples=60, deadline=None)
@given(st.text(BASE45, min_size=1, max_size=1800), st.integers(0, 7))
def test_dcc_codes(body, mask):
    assert_same("dcc", "HC1:" + body, mask)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(st.integers(1, 1200), st.integers(0, 7), st.randoms(use_true_random=False))
def test_shc_codes(pairs, mask, rng):  # a JWS as pairs of digits 00-77
    digits = "".join(f"{rng.randint(0, 77):02d}" for _ in range(pairs))
    assert_same("shc", "shc:/" + digits, mask)


@settings(max_examples=60, deadline=None)
@given(st.text(BASE45, min_size=1, max_size=1500), st.integers(0, 7))
def test_vc_codes(body, mask):  # the compressed credential in Base45
    assert_same("vc", "VC1:" + body, mask)


def test_chunked_shc_and_the_largest_dcc():
    assert_same("shc", "shc:/2/3/" + "56" * 600, 2)
    assert_same("dcc", "HC1:" + "6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEMWK4MI6UO" * 40, 2)
