"""QR images for the three formats (segno, PNG) and reading QR codes back from images
(zxing-cpp)."""

from __future__ import annotations

import io

import segno
from segno import consts

from .codecs import SHC_PREFIX


def _png(code: segno.QRCode, scale: int, border: int) -> bytes:
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=border)
    return out.getvalue()


def dcc_qr(hc1: str, mask: int | None = None) -> segno.QRCode:
    """EU DCC: alphanumeric mode (Base45 is the QR alphanumeric set), error correction Q.
    ``mask`` fixes the mask pattern: any gives a valid code, and skipping segno's search
    of the best of eight saves ~80 ms (what the PDF certificates do)."""
    return segno.make(hc1, error="q", mode="alphanumeric", micro=False, boost_error=False,
                      mask=mask)


def shc_qr(text: str, mask: int | None = None) -> segno.QRCode:
    """SMART Health Card: a byte segment 'shc:/' (with any chunk prefix) and a numeric
    segment for the digits, error correction L as the spec recommends; one segment in
    byte mode would make the code far larger."""
    head_length = len(SHC_PREFIX)
    if text[head_length:head_length + 1].isdigit() and "/" in text[head_length:]:
        head_length = text.rindex("/") + 1  # chunked: shc:/i/n/
    head, digits = text[:head_length], text[head_length:]
    segments = [(head, consts.MODE_BYTE), (digits, consts.MODE_NUMERIC)]
    return segno.make(segments, error="l", micro=False, boost_error=False, mask=mask)


def vc_qr(text: str, mask: int | None = None) -> segno.QRCode:
    return segno.make(text, error="m", mode="alphanumeric", micro=False, boost_error=False,
                      mask=mask)


QR_BUILDERS = {"dcc": dcc_qr, "shc": shc_qr, "vc": vc_qr}


def dcc_png(hc1: str, *, scale: int = 4, border: int = 4) -> bytes:
    return _png(dcc_qr(hc1), scale, border)


def shc_png(text: str, *, scale: int = 4, border: int = 4) -> bytes:
    return _png(shc_qr(text), scale, border)


def vc_png(text: str, *, scale: int = 4, border: int = 4) -> bytes:
    return _png(vc_qr(text), scale, border)


def read_texts(image: bytes) -> list[str]:
    """The text of every QR code found in a PNG/JPEG/... image (possibly none); raises
    ValueError when the bytes are not an image Pillow can read."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image)) as picture:
            picture.load()
            results = zxingcpp.read_barcodes(picture, formats=zxingcpp.BarcodeFormat.QRCode)
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"not a readable image: {exc}") from None
    return [result.text for result in results if result.valid]
