"""Which text encoding an uploaded CSV uses.

SAGE's rule: an explicit `encoding` in the YAML wins; otherwise a UTF-8 byte-order mark means
UTF-8 (the mark is skipped) and a UTF-16 or UTF-32 mark means that encoding (Excel's "Unicode
text" export); otherwise the file is UTF-8 when every byte of it decodes as UTF-8, and Latin-1
when not (Latin-1 decodes any byte, so it is the safe fallback of Windows exports). The check
reads the file in chunks, so memory stays bounded however large the upload is.

A declared single-byte encoding is not trusted blindly: a file declared Latin-1 whose bytes are
UTF-8 with accents would read `Año` as `AÃ±o` without any error, so `utf8_text` tells the
reader, which refuses it.
"""

from __future__ import annotations

import codecs
import itertools
from dataclasses import dataclass
from typing import BinaryIO, Callable

BOM = codecs.BOM_UTF8
# Longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
WIDE_BOMS = {codecs.BOM_UTF32_LE: "utf-32", codecs.BOM_UTF32_BE: "utf-32",
             codecs.BOM_UTF16_LE: "utf-16", codecs.BOM_UTF16_BE: "utf-16"}
CHUNK = 1 << 20


@dataclass(frozen=True)
class TextEncoding:
    """A decided encoding: the Python codec name and how many leading bytes to skip (a BOM)."""

    codec: str
    skip: int = 0

    @property
    def is_utf8(self) -> bool:
        return self.codec in ("utf-8", "utf-8-sig")

    @property
    def is_wide(self) -> bool:
        """UTF-16 / UTF-32: the codec reads (and drops) the byte-order mark itself."""
        return self.codec.startswith(("utf-16", "utf-32"))

    @property
    def arrow_name(self) -> str:
        """The name to give pyarrow (it transcodes anything that is not UTF-8)."""
        return "utf8" if self.is_utf8 else self.codec


def _utf8_scan(head: bytes, stream: BinaryIO) -> tuple[bool, bool]:
    """(whether `head` and the rest of `stream` are valid UTF-8, whether any byte is not ASCII),
    decoded chunk by chunk."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    non_ascii = False
    try:
        for chunk in itertools.chain([head], iter(lambda: stream.read(CHUNK), b"")):
            non_ascii = non_ascii or not chunk.isascii()
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False, non_ascii
    return True, non_ascii


def detect_encoding(open_stream: Callable[[], BinaryIO], declared: str | None = None) -> TextEncoding:
    """Decide the encoding of the bytes `open_stream()` yields (read once, in chunks)."""
    with open_stream() as stream:
        head = stream.read(4)
        has_bom = head.startswith(BOM)
        if declared:
            codec = codecs.lookup(declared).name
            if codec in ("utf-8", "utf-8-sig"):
                return TextEncoding("utf-8", len(BOM) if has_bom else 0)
            return TextEncoding(codec, 0)
        if has_bom:
            return TextEncoding("utf-8", len(BOM))
        for mark, codec in WIDE_BOMS.items():
            if head.startswith(mark):
                return TextEncoding(codec, 0)
        valid, _ = _utf8_scan(head, stream)
    return TextEncoding("utf-8" if valid else "latin-1", 0)


def utf8_text(open_stream: Callable[[], BinaryIO]) -> bool:
    """Whether the bytes are UTF-8 holding at least one non-ASCII character (read in chunks):
    what a file declared in a single-byte encoding must not be."""
    with open_stream() as stream:
        valid, non_ascii = _utf8_scan(b"", stream)
    return valid and non_ascii
