"""Pictures for the verifiers' image inputs: a QR code in any format Pillow writes (an
animation too) and a huge but tiny-on-disk PNG (a pixel bomb)."""

from __future__ import annotations

import io
import struct
import zlib

__all__ = ["huge_png", "qr_picture"]


def qr_picture(text: str, kind: str = "PNG", *, error: str = "l", scale: int = 4,
               frames: int = 1) -> bytes:
    """``text`` as a QR code saved by Pillow as ``kind`` (TIFF, GIF, WEBP, BMP...);
    ``frames`` > 1 makes an animation whose first frame holds the code (the others are
    blank)."""
    import segno
    from PIL import Image

    png = io.BytesIO()
    segno.make(text, error=error, micro=False).save(png, kind="png", scale=scale)
    code = Image.open(io.BytesIO(png.getvalue())).convert("L")
    out = io.BytesIO()
    if frames > 1:
        blank = [Image.new("L", code.size, 255) for _ in range(frames - 1)]
        code.save(out, format=kind, save_all=True, append_images=blank, duration=100, loop=0)
    else:
        code.save(out, format=kind)
    return out.getvalue()


def huge_png(width: int = 13_000, height: int = 13_000) -> bytes:
    """A valid white 1-bit PNG of ``width`` x ``height`` pixels, a few tens of KB: decoded,
    it needs hundreds of MB."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter type 0, then white pixels
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + \
            struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + \
        chunk(b"IEND", b"")
