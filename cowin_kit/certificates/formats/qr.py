"""QR images for the three formats (segno, PNG) and reading QR codes back from images
(zxing-cpp)."""

from __future__ import annotations

import io
import operator
import re
import struct

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


MAX_PIXELS = 40_000_000  # a 48-megapixel phone photo is 8000 x 6000; 40 M is ~7300 x 5500


class ImageTooLarge(ValueError):
    """The picture has more pixels than :data:`MAX_PIXELS`."""


def read_texts(image: bytes, *, max_pixels: int = MAX_PIXELS) -> list[str]:
    """The text of every QR code found in an image of any format Pillow opens (possibly
    none; of an animation, the first frame). Raises :class:`ImageTooLarge` for pictures
    above ``max_pixels``, judged from the header before any pixel is decoded, and
    ValueError when the bytes are not an image Pillow can read."""
    import zxingcpp
    from PIL import Image

    try:
        with Image.open(io.BytesIO(image)) as picture:
            width, height = picture.size
            if width * height > max_pixels:
                raise ImageTooLarge(f"the picture has {width} x {height} pixels, more than "
                                    f"{max_pixels}")
            picture.load()  # the first frame
            results = zxingcpp.read_barcodes(picture, formats=zxingcpp.BarcodeFormat.QRCode)
    except ImageTooLarge:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own cap, checked at open (its warning is an error where warnings are)
        raise ImageTooLarge(str(exc)) from None
    except Exception as exc:  # Pillow's decoders raise assorted errors on damaged files
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
        self.pictures: dict[int, _Picture] = {}  # by quiet zone


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
        count, short = len(blocks), min(map(len, blocks))
        part = bytearray(count * short)
        for j, block in enumerate(blocks):
            part[j::count] = block[:short]
        out += part
        for i in range(short, max(map(len, blocks))):
            out.extend(b[i] for b in blocks if i < len(b))
    return bytes(out)


def _segno_matrix(kind: str, text: str, mask: int) -> tuple[int, bytes]:
    code = QR_BUILDERS[kind](text, mask=mask)
    return len(code.matrix), b"".join(bytes(row) for row in code.matrix)


def _encoded(kind: str, text: str) -> tuple[int, int, bytes] | None:
    """(version, error level, data codewords) of the format's code of ``text``, or None
    where this encoder does not know how (a character outside the mode, too long)."""
    content, error_name, mode_name = _ARGUMENTS[kind](text)
    segments = ([(content, _MODES[mode_name])] if isinstance(content, str)
                else list(content))
    error = _ERRORS[error_name]
    try:
        version, data = _data_codewords(segments, error)
    except (KeyError, ValueError):
        return None
    return version, error, data


def module_matrix(kind: str, text: str, mask: int) -> tuple[int, bytes]:
    """The modules of the format's code of ``text`` with mask pattern ``mask``, exactly as
    ``QR_BUILDERS[kind](text, mask=mask).matrix`` (without quiet zone): (width, bytes of
    width * width cells, row by row, 1 dark and 0 light)."""
    encoded = _encoded(kind, text)
    if encoded is None:  # a character outside the mode, or too long: segno's say
        return _segno_matrix(kind, text, mask)
    version, error, data = encoded
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


def module_rows(kind: str, text: str, mask: int, border: int) -> tuple[int, bytes]:
    """The code of :func:`module_matrix` as a bilevel image at one pixel a module: (side,
    packed rows) with ``side = width + 2 * border`` (the quiet zone), a bit a module, 1 for
    a light one (the PDF's and Pillow's "1" convention), every row padded with light bits
    to whole bytes. Made without the module matrix, from the message's binary digits (see
    :class:`_Picture`) and the layout's template applied as one integer XOR."""
    encoded = _encoded(kind, text)
    if encoded is None:
        return _packed(*module_matrix(kind, text, mask), border)
    version, error, data = encoded
    layout = _LAYOUTS.get((version, error, mask))
    if layout is None or not layout.verified:
        # the layout's first code (compared with segno's there) or one left to segno
        return _packed(*module_matrix(kind, text, mask), border)
    picture = layout.pictures.get(border)
    if picture is None:
        picture = layout.pictures.setdefault(border, _Picture(layout, border))
    message = _final_message(layout, data)
    stream = bin(int.from_bytes(message, "big") | (1 << 8 * len(message)))[3:]
    columns = "".join(map(stream.ljust(picture.stream_length, "0").__getitem__,
                          picture.column_pieces))
    rows = picture.blank + "".join(map(columns.__getitem__, picture.row_slices)) \
        + picture.blank
    # a dark data bit (1) is a black pixel (0): the template holds the light pixels' 1s
    return picture.side, (int(rows, 2) ^ picture.template).to_bytes(picture.size, "big")


class _Picture:
    """A layout drawn with a quiet zone of ``border`` modules (see :func:`module_rows`).

    Every pixel takes its bit of the message stream (0 where no data bit is placed): the
    data bits of one column are placed two apart in the stream (ISO 18004's zigzag runs
    two columns at a time), so a column is a few stride slices of the stream's binary
    digits, and the image's columns one C-level join of a few hundred slices; its rows are
    then stride slices of that (a transposition), one a row. Picking the ~12,000 pixels
    one by one (an itemgetter) costs about twice as much."""

    def __init__(self, layout: _Layout, border: int):
        width = layout.width
        side = width + 2 * border
        padded = -(-side // 8) * 8
        nothing = layout.stream_length - 1  # the stream's end: zeros from here on
        self.stream_length = nothing + width
        self.column_pieces: list[slice] = []
        for x in range(padded):
            column = x - border
            if 0 <= column < width:
                sources = [layout.source[row * width + column] for row in range(width)]
                sources = [None if index == nothing else index for index in sources]
            else:
                sources = [None] * width
            self.column_pieces += _slices(sources, nothing)
        self.row_slices = [slice(row, None, width) for row in range(width)]
        self.blank = "0" * (padded * border)
        template = layout.template_int.to_bytes(width * width, "big")
        light = "".join("0" if cell & 1 else "1" for cell in template)
        self.template = int(_packed_light(width, light, border, padded), 2)
        self.side = side
        self.size = padded * side // 8


def _slices(sources: list[int | None], nothing: int) -> list[slice]:
    """Slices of the stream whose concatenation is the stream's digits at ``sources``
    (None: a 0, taken from the stream's zero end at ``nothing``), runs of equal steps
    merged."""
    pieces = []
    i, count = 0, len(sources)
    while i < count:
        j = i + 1
        if sources[i] is None:
            while j < count and sources[j] is None:
                j += 1
            pieces.append(slice(nothing, nothing + j - i))
        else:
            step = sources[j] - sources[i] if j < count and sources[j] is not None else 0
            if step:
                while j + 1 < count and sources[j + 1] is not None \
                        and sources[j + 1] - sources[j] == step:
                    j += 1
                j += 1
            else:
                step = 1
            stop = sources[j - 1] + step
            pieces.append(slice(sources[i], stop if stop >= 0 else None, step))
        i = j
    return pieces


def _packed_light(width: int, light: str, border: int, padded: int) -> str:
    """Rows of light bits ("1"/"0" per module, row by row) with the quiet zone and the
    padding, as binary digits."""
    blank = "1" * padded
    rows = [blank] * border + [
        ("1" * border + light[start:start + width]).ljust(padded, "1")
        for start in range(0, len(light), width)] + [blank] * border
    return "".join(rows)


def _packed(width: int, cells: bytes, border: int) -> tuple[int, bytes]:
    """:func:`module_rows` from a module matrix."""
    side = width + 2 * border
    padded = -(-side // 8) * 8
    light = "".join("0" if cell & 1 else "1" for cell in cells)
    rows = _packed_light(width, light, border, padded)
    return side, int(rows, 2).to_bytes(padded * side // 8, "big")


_MODES = {"alphanumeric": consts.MODE_ALPHANUMERIC}
_ERRORS = {"l": consts.ERROR_LEVEL_L, "m": consts.ERROR_LEVEL_M, "q": consts.ERROR_LEVEL_Q,
           "h": consts.ERROR_LEVEL_H}
_NOT_ALNUM = 0xFF
# byte -> its value in alphanumeric mode (0-44); other bytes: find() gives -1, % 256 0xFF
_ALNUM_CODES = bytes(consts.ALPHANUMERIC_CHARS.find(bytes([byte])) % 256 for byte in range(256))
# a character pair's 11 bits, by the pair's codes read as 256 * first + second
_PAIR_BITS = [format(45 * (pair >> 8) + (pair & 0xFF), "011b") if pair & 0xFF < 45 else ""
              for pair in range(256 * 45)]
_BITS6 = [format(value, "06b") for value in range(45)]
_BITS_OF_3_DIGITS = {f"{value:03d}": format(value, "010b") for value in range(1000)}
_THREE_CHARACTERS = re.compile("...", re.DOTALL)
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
            pairs = len(codes) // 2  # each pair read as one big-endian 16-bit number
            binary = "".join(map(_PAIR_BITS.__getitem__,
                                 struct.unpack(f">{pairs}H", codes[:2 * pairs])))
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
                                 _THREE_CHARACTERS.findall(text, 0, whole)))
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
    # the bits needed in each band of versions (character count bits differ)
    needs = [sum(4 + _COUNT_BITS[mode][band] + bits for mode, _c, bits, _v in lengths)
             for band in range(3)]
    for version in range(1, 41):
        band = 0 if version < 10 else 1 if version < 27 else 2
        needed = needs[band]
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
    # the pad codewords appended as bytes: shifting the stream once per codeword is
    # quadratic in its length
    pads = capacity // 8 - length // 8
    data = stream.to_bytes(length // 8, "big") + (b"\xec\x11" * (pads // 2 + 1))[:pads]
    return version, data[:capacity // 8]


