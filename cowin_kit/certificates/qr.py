"""QR images for the three formats (segno, PNG) and reading QR codes back from images
(zxing-cpp)."""

from __future__ import annotations

import io
import operator

import segno
from segno import consts

from .codecs import SHC_PREFIX


def _png(code: segno.QRCode, scale: int, border: int) -> bytes:
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=border)
    return out.getvalue()


def _make(arguments: tuple[object, str, str | None], mask: int | None) -> segno.QRCode:
    content, error, mode = arguments
    return segno.make(content, error=error, mode=mode, micro=False, boost_error=False,
                      mask=mask)


def dcc_qr(hc1: str, mask: int | None = None) -> segno.QRCode:
    """EU DCC: alphanumeric mode (Base45 is the QR alphanumeric set), error correction Q.
    ``mask`` fixes the mask pattern: any gives a valid code, and skipping segno's search
    of the best of eight saves ~80 ms (what the PDF certificates do)."""
    return _make(_dcc_arguments(hc1), mask)


def _dcc_arguments(hc1: str) -> tuple[object, str, str | None]:
    return hc1, "q", "alphanumeric"


def shc_qr(text: str, mask: int | None = None) -> segno.QRCode:
    """SMART Health Card: a byte segment 'shc:/' (with any chunk prefix) and a numeric
    segment for the digits, error correction L as the spec recommends; one segment in
    byte mode would make the code far larger."""
    return _make(_shc_arguments(text), mask)


def _shc_arguments(text: str) -> tuple[object, str, str | None]:
    head_length = len(SHC_PREFIX)
    if text[head_length:head_length + 1].isdigit() and "/" in text[head_length:]:
        head_length = text.rindex("/") + 1  # chunked: shc:/i/n/
    head, digits = text[:head_length], text[head_length:]
    return [(head, consts.MODE_BYTE), (digits, consts.MODE_NUMERIC)], "l", None


def vc_qr(text: str, mask: int | None = None) -> segno.QRCode:
    return _make(_vc_arguments(text), mask)


def _vc_arguments(text: str) -> tuple[object, str, str | None]:
    return text, "m", "alphanumeric"


QR_BUILDERS = {"dcc": dcc_qr, "shc": shc_qr, "vc": vc_qr}
_ARGUMENTS = {"dcc": _dcc_arguments, "shc": _shc_arguments, "vc": _vc_arguments}


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


# --- the module matrix with a fixed mask, fast ------------------------------------------------
#
# segno builds a code in pure Python: the data bits and Reed-Solomon error correction, then a
# matrix of function patterns, the zigzag placement of the bits, the mask and the format and
# version information, cell by cell (~10 ms for a DCC). With the mask fixed, everything but
# the data bits depends only on (version, error level, mask): ``_Layout`` computes that once
# (with segno's own functions) as a template and the order of the data cells, so a code costs
# segno's data encoding, a table-driven Reed-Solomon and one pass over the bits. The first
# code of every layout is compared with segno's own matrix; on any difference (or error)
# that layout is left to segno.


class _Layout:
    def __init__(self, version: int, error: int, mask: int):
        from segno import encoder

        width = encoder.calc_matrix_size(version)
        matrix = encoder.make_matrix(width, width)
        encoder.add_finder_patterns(matrix, width, width)
        encoder.add_alignment_patterns(matrix, width, width)
        order = []  # flat indexes of the data cells, in placement order (ISO 18004 7.7.3)
        for right in range(width - 1, 0, -2):
            if right <= 6:
                right -= 1
            for vertical in range(width):
                for z in (0, 1):
                    column = right - z
                    upwards = ((right & 2) == 0) ^ (column < 6)
                    row = (width - 1 - vertical) if upwards else vertical
                    if matrix[row][column] == 0x2:
                        order.append(row * width + column)
        for index in order:
            matrix[index // width][index % width] = 0
        _mask, matrix = encoder.find_and_apply_best_mask(matrix, width, width, mask)
        encoder.add_format_info(matrix, version, error, mask)
        encoder.add_version_info(matrix, version)
        self.width = width
        template = b"".join(bytes(row) for row in matrix)
        self.template_int = int.from_bytes(template, "big")
        # for each cell, its bit in the message stream (len(order): the stream's 0 end)
        source = [len(order)] * (width * width)
        for position, index in enumerate(order):
            source[index] = position
        self.source = source
        # picks every cell's bit out of the stream in one C-level call (3x map's speed)
        self.pick = operator.itemgetter(*source)
        self.stream_length = len(order) + 1
        self.blocks = [(ec.num_data, ec.num_total - ec.num_data)
                       for ec in consts.ECC[version][error] for _i in range(ec.num_blocks)]
        self.verified: bool | None = None


_LAYOUTS: dict[tuple[int, int, int], _Layout] = {}
_RS_TABLES: dict[int, list[int]] = {}


def _rs_table(length: int) -> list[int]:
    """For each lead coefficient, the generator polynomial times it, as one integer."""
    table = _RS_TABLES.get(length)
    if table is None:
        exp, log, gen = consts.GALIOS_EXP, consts.GALIOS_LOG, consts.GEN_POLY[length]
        table = [0] + [int.from_bytes(bytes(exp[log[coef] + g] for g in gen), "big")
                       for coef in range(1, 256)]
        _RS_TABLES[length] = table
    return table


def _final_message(layout: _Layout, data: bytes) -> bytes:
    """Data and error correction codewords, interleaved (ISO 18004 7.5.2, 7.6)."""
    data_blocks, ec_blocks = [], []
    position = 0
    for num_data, num_ec in layout.blocks:
        block = data[position:position + num_data]
        position += num_data
        table, shift, keep = _rs_table(num_ec), 8 * (num_ec - 1), (1 << 8 * num_ec) - 1
        remainder = 0
        for byte in block:
            remainder = ((remainder << 8) & keep) ^ table[byte ^ (remainder >> shift)]
        data_blocks.append(block)
        ec_blocks.append(remainder.to_bytes(num_ec, "big"))
    out = bytearray()
    for blocks in (data_blocks, ec_blocks):
        count, short = len(blocks), min(len(b) for b in blocks)
        part = bytearray(count * short)
        for j, block in enumerate(blocks):
            part[j::count] = block[:short]
        out += part
        for i in range(short, max(len(b) for b in blocks)):
            out.extend(b[i] for b in blocks if i < len(b))
    return bytes(out)


def _segno_matrix(kind: str, text: str, mask: int) -> tuple[int, bytes]:
    code = QR_BUILDERS[kind](text, mask=mask)
    return len(code.matrix), b"".join(bytes(row) for row in code.matrix)


def module_matrix(kind: str, text: str, mask: int) -> tuple[int, bytes]:
    """The modules of the format's code of ``text`` with mask pattern ``mask``, exactly as
    ``QR_BUILDERS[kind](text, mask=mask).matrix`` (without quiet zone): (width, bytes of
    width * width cells, row by row, 1 dark and 0 light)."""
    content, error_name, mode_name = _ARGUMENTS[kind](text)
    segments = ([(content, _MODES[mode_name])] if isinstance(content, str)
                else list(content))
    error = _ERRORS[error_name]
    try:
        version, data = _data_codewords(segments, error)
    except (KeyError, ValueError):  # a character outside the mode, or too long: segno's say
        return _segno_matrix(kind, text, mask)
    key = (version, error, mask)
    layout = _LAYOUTS.get(key)
    if layout is None:
        layout = _LAYOUTS.setdefault(key, _Layout(version, error, mask))
    if layout.verified is False:
        return _segno_matrix(kind, text, mask)
    message = _final_message(layout, data)
    stream = bin(int.from_bytes(message, "big") | (1 << 8 * len(message)))[3:]
    stream = stream.translate(_STREAM_CELLS).encode("ascii").ljust(layout.stream_length, b"\0")
    cells = bytes(layout.pick(stream))
    cells = (int.from_bytes(cells, "big") ^ layout.template_int).to_bytes(len(cells), "big")
    found = (layout.width, cells)
    if layout.verified is None:
        layout.verified = found == _segno_matrix(kind, text, mask)
        if not layout.verified:
            return _segno_matrix(kind, text, mask)
    return found


_MODES = {"alphanumeric": consts.MODE_ALPHANUMERIC}
_ERRORS = {"l": consts.ERROR_LEVEL_L, "m": consts.ERROR_LEVEL_M, "q": consts.ERROR_LEVEL_Q,
           "h": consts.ERROR_LEVEL_H}
_NOT_ALNUM = 0xFF
# byte -> its value in alphanumeric mode (0-44); other bytes: find() gives -1, % 256 0xFF
_ALNUM_CODES = bytes(consts.ALPHANUMERIC_CHARS.find(bytes([byte])) % 256 for byte in range(256))
_BITS11 = [format(value, "011b") for value in range(45 * 45)]
_BITS6 = [format(value, "06b") for value in range(45)]
_BITS_OF_3_DIGITS = {f"{value:03d}": format(value, "010b") for value in range(1000)}
_STREAM_CELLS = str.maketrans("01", "\x00\x01")
# Character count bits per mode for versions 1-9, 10-26, 27-40 (ISO 18004 table 3).
_COUNT_BITS = {consts.MODE_NUMERIC: (10, 12, 14), consts.MODE_ALPHANUMERIC: (9, 11, 13),
               consts.MODE_BYTE: (8, 16, 16)}


def _data_codewords(segments: list[tuple[str, int]], error: int) -> tuple[int, bytes]:
    """The smallest QR version for ``segments`` (text, mode) at ``error``, and its data
    codewords: each segment's mode, count and data bits, the terminator, padding and pad
    codewords (ISO 18004 7.4), as segno writes them."""
    value, length = 0, 0
    lengths = []
    for text, mode in segments:
        # The data bits are joined as a string of binary digits and parsed once (C-level
        # work): shifting one growing integer per character pair is quadratic.
        if mode == consts.MODE_ALPHANUMERIC:
            codes = text.encode("ascii").translate(_ALNUM_CODES)  # non-ASCII: ValueError
            if _NOT_ALNUM in codes:
                raise KeyError("not alphanumeric")
            binary = "".join(map(_BITS11.__getitem__, map(
                operator.add, map((45).__mul__, codes[0::2]), codes[1::2])))
            if len(codes) % 2:
                binary += _BITS6[codes[-1]]
            value = int(binary, 2) if binary else 0
            bits, count = 11 * (len(codes) // 2) + 6 * (len(codes) % 2), len(codes)
        elif mode == consts.MODE_NUMERIC:
            if not text.isascii() or not text.isdigit():
                raise ValueError("not numeric")
            rest = len(text) % 3
            whole = len(text) - rest
            binary = "".join(map(_BITS_OF_3_DIGITS.__getitem__,
                                 [text[i:i + 3] for i in range(0, whole, 3)]))
            if rest:
                binary += format(int(text[whole:]), f"0{3 * rest + 1}b")
            value = int(binary, 2) if binary else 0
            bits, count = 10 * (len(text) // 3) + (0, 4, 7)[rest], len(text)
        elif mode == consts.MODE_BYTE:
            raw = text.encode("iso-8859-1")
            value = (value << 8 * len(raw)) | int.from_bytes(raw, "big") if raw else value
            bits, count = 8 * len(raw), len(raw)
        else:
            raise ValueError("mode")
        lengths.append((mode, count, bits, value))
        value = 0
    for version in range(1, 41):
        band = 0 if version < 10 else 1 if version < 27 else 2
        needed = sum(4 + _COUNT_BITS[mode][band] + bits for mode, _c, bits, _v in lengths)
        capacity = consts.SYMBOL_CAPACITY[version][error]
        if needed <= capacity:
            break
    else:
        raise ValueError("too long")
    stream = 0
    for mode, count, bits, data in lengths:
        count_bits = _COUNT_BITS[mode][band]
        if count >= 1 << count_bits:
            raise ValueError("too long")
        stream = (((stream << 4 | mode) << count_bits | count) << bits) | data
    length = needed
    terminator = min(capacity - length, 4)
    stream, length = stream << terminator, length + terminator
    padding = 8 - length % 8  # segno adds a whole zero byte when already aligned
    stream, length = stream << padding, length + padding
    for i in range(capacity // 8 - length // 8):
        stream = (stream << 8) | (0xEC, 0x11)[i % 2]
        length += 8
    data = stream.to_bytes(length // 8, "big")[:capacity // 8]
    return version, data


