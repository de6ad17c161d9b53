"""Reading what the kit renders into PDFs: the text (with pdftotext) and the labels it is
expected to hold."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from typing import Any

from cowin_kit.testing.environment import need_tool

__all__ = ["label", "nfc", "pdf_text", "pixels"]

BIDI_MARKS = dict.fromkeys([0x200E, 0x200F, *range(0x202A, 0x202F)])


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def pdf_text(data: bytes) -> str:
    """The PDF's text in NFC, without bidi marks and with runs of spaces as one."""
    need_tool("pdftotext", "poppler-utils")
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data,
                          capture_output=True, check=True)
    text = done.stdout.decode("utf-8").translate(BIDI_MARKS)
    return nfc(re.sub(r"[ \t]+", " ", text))


def label(app, locale, msgid):
    """``msgid`` translated into ``locale`` by the app's catalogs."""
    from flask_babel import force_locale

    from cowin_kit.core.i18n import gettext

    with app.test_request_context(), force_locale(locale):
        return nfc(gettext(msgid))


def pixels(data: bytes, tmp_path, name: str) -> Any:
    """The first page of a PDF as a grey PIL image at 50 dpi (pdftoppm), to compare pages."""
    from PIL import Image

    need_tool("pdftoppm", "poppler-utils")
    (tmp_path / f"{name}.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-singlefile", str(tmp_path / f"{name}.pdf"),
                    str(tmp_path / name)], check=True)
    return Image.open(tmp_path / f"{name}.png").convert("L")
