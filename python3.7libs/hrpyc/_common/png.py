"""Both sides: PNG images with the standard library alone (zlib, struct): the demo's viewport writes them
(`encode`), and `hrpyc mcp` reads what a viewport capture wrote to tell a real picture from a blank one
(`blank`) before it reports success - a capture can come back black or empty when the viewport drew
nothing (a minimised window, a lost GL context), and a black picture reported as a capture misleads.
"""

from __future__ import annotations

import struct
import zlib
from typing import Iterable, List, NamedTuple, Optional, Tuple, Union

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PIXELS = 64 << 20  # what `read` decodes at most: a 8K x 8K picture
BLACK = 8  # of 255: no colour sample brighter than this is a black picture
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type: samples per pixel
_COLOURS = {0: 1, 2: 3, 3: 1, 4: 1, 6: 3}  # ... of which colour (not alpha)


class Image(NamedTuple):
    """A decoded PNG: 8-bit samples, `channels` per pixel, one bytes object per row (a palette's indices
    for colour type 3, with `palette` its RGB triples)."""

    width: int
    height: int
    colour_type: int
    rows: List[bytes]
    palette: bytes


def encode(width: int, height: int, rows: Iterable[Union[bytes, bytearray]]) -> bytes:
    """An 8-bit RGB PNG of `height` rows, each `width * 3` bytes, unfiltered and deflated."""
    raw = b"".join(b"\x00" + bytes(row) for row in rows)
    if len(raw) != height * (1 + width * 3):
        raise ValueError(
            "{} rows of {} RGB pixels make {} bytes, not {}".format(height, width, height * (1 + width * 3), len(raw))
        )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def read(data: bytes) -> Image:
    """Decode a PNG (any colour type; 8 or 16 bits, 16 kept as their high byte; not interlaced);
    ValueError, one line, for anything else."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG")
    header, palette, packed, at = b"", b"", [], len(SIGNATURE)
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        body = data[at + 8 : at + 8 + length]
        at += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            packed.append(body)
        elif kind == b"IEND":
            break
    if len(header) != 13:
        raise ValueError("a PNG without its header")
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if colour_type not in _CHANNELS or depth not in (8, 16) or interlace:
        raise ValueError(
            "a PNG of a kind this check does not read (colour type {}, {} bits{})".format(
                colour_type, depth, ", interlaced" if interlace else ""
            )
        )
    if not width or not height or width * height > MAX_PIXELS:
        raise ValueError("a PNG of {} x {} pixels".format(width, height))
    step = _CHANNELS[colour_type] * depth // 8  # bytes per pixel
    stride = width * step
    try:
        raw = zlib.decompressobj().decompress(b"".join(packed), height * (stride + 1))
    except zlib.error as exc:
        raise ValueError("a damaged PNG: {}".format(exc)) from None
    if len(raw) < height * (stride + 1):
        raise ValueError("a PNG cut short: {} of {} rows".format(len(raw) // (stride + 1), height))
    rows, previous = [], bytes(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        previous = _unfilter(line[0], bytearray(line[1:]), previous, step)
        rows.append(previous if depth == 8 else previous[0::2])
    return Image(width, height, colour_type, rows, palette)


def _unfilter(kind: int, line: bytearray, above: bytes, step: int) -> bytes:
    """One row of samples from its filtered bytes and the row above (PNG's five filters)."""
    if kind == 0:
        return bytes(line)
    if kind == 2:  # Up
        return bytes((a + b) & 0xFF for a, b in zip(line, above))
    if kind not in (1, 3, 4):
        raise ValueError("a damaged PNG: filter {}".format(kind))
    for i in range(len(line)):
        left = line[i - step] if i >= step else 0
        if kind == 1:  # Sub
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:  # Average
            line[i] = (line[i] + ((left + above[i]) >> 1)) & 0xFF
        else:  # Paeth
            up, corner = above[i], above[i - step] if i >= step else 0
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
    return bytes(line)


def blank(data: bytes) -> Optional[str]:
    """Why `data` is no picture - empty, not a PNG, every pixel one colour, black - or None when it shows
    something."""
    if not data:
        return "the file is empty"
    try:
        image = read(data)
    except ValueError as exc:
        return str(exc)
    first = image.rows[0][: len(image.rows[0]) // image.width]
    row = first * image.width
    if all(line == row for line in image.rows):
        return "every pixel is the same colour ({})".format(", ".join(str(v) for v in _colour(image, first)))
    if _brightest(image) <= BLACK:
        return "it is black (no colour brighter than {} of 255)".format(BLACK)
    return None


def _colour(image: Image, pixel: bytes) -> Tuple[int, ...]:
    if image.colour_type == 3:
        return tuple(image.palette[pixel[0] * 3 : pixel[0] * 3 + 3])
    return tuple(pixel[: _COLOURS[image.colour_type]])


def _brightest(image: Image) -> int:
    """The largest colour sample (alpha left out; a palette's colours looked up)."""
    step, colours = _CHANNELS[image.colour_type], _COLOURS[image.colour_type]
    if image.colour_type == 3:
        used = set().union(*(set(row) for row in image.rows))
        return max(max(image.palette[i * 3 : i * 3 + 3] or b"\x00") for i in used)
    return max(max(row[c::step]) for row in image.rows for c in range(colours))
