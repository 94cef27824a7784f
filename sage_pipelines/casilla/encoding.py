"""Which text encoding an uploaded CSV uses.

SAGE's rule: an explicit `encoding` in the YAML wins; otherwise a UTF-8 byte-order mark means
UTF-8 (the mark is skipped); otherwise the file is UTF-8 when every byte of it decodes as UTF-8,
and Latin-1 when not (Latin-1 decodes any byte, so it is the safe fallback of Windows exports).
The check reads the file in chunks, so memory stays bounded however large the upload is.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import BinaryIO, Callable

BOM = codecs.BOM_UTF8
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
    def arrow_name(self) -> str:
        """The name to give pyarrow (it transcodes anything that is not UTF-8)."""
        return "utf8" if self.is_utf8 else self.codec


def _is_utf8(head: bytes, stream: BinaryIO) -> bool:
    """Whether `head` followed by the rest of `stream` is valid UTF-8 (decoded chunk by chunk)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        decoder.decode(head)
        while chunk := stream.read(CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(open_stream: Callable[[], BinaryIO], declared: str | None = None) -> TextEncoding:
    """Decide the encoding of the bytes `open_stream()` yields (read once, in chunks)."""
    with open_stream() as stream:
        head = stream.read(len(BOM))
        has_bom = head == BOM
        if declared:
            codec = codecs.lookup(declared).name
            if codec in ("utf-8", "utf-8-sig"):
                return TextEncoding("utf-8", len(BOM) if has_bom else 0)
            return TextEncoding(codec, 0)
        if has_bom:
            return TextEncoding("utf-8", len(BOM))
        valid = _is_utf8(head, stream)
    return TextEncoding("utf-8" if valid else "latin-1", 0)

