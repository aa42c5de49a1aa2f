"""Split a stream of bytes into JSON Lines, and lines into windows, in bounded memory.

Lines end at ``\\n`` (a trailing ``\\r`` is left to the JSON parser, which ignores it as
whitespace). Each line comes with the byte offset just past it, so a later invocation
can resume at a line boundary with a ranged GET. A line longer than the limit is never
held in memory: it is skipped to its end and reported as too long.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Line:
    number: int  # 1-based, blank lines included
    data: bytes | None  # None when the line is longer than the limit
    size: int  # bytes, without the newline


@dataclass
class Window:
    """Consecutive non-blank lines, read and run together, and where the window ends."""

    lines: list[Line] = field(default_factory=list)
    end_offset: int = 0  # byte offset just past the window (its trailing blank lines too)
    next_line: int = 1  # number of the first line after the window
    size: int = 0


def split_lines(
    chunks: Iterable[bytes], start_offset: int, first_line: int, max_line_bytes: int
) -> Iterator[tuple[Line, int]]:
    """``(line, offset just past it)`` for each line of ``chunks``, read from ``start_offset``."""
    offset = start_offset  # where the current line starts
    number = first_line
    pending = bytearray()
    size = 0
    for chunk in chunks:
        position = 0
        while True:
            newline = chunk.find(b"\n", position)
            piece = chunk[position:] if newline < 0 else chunk[position:newline]
            size += len(piece)
            if size <= max_line_bytes:
                pending += piece
            else:
                pending.clear()  # too long: keep counting its bytes, stop holding them
            if newline < 0:
                break
            yield _line(number, pending, size, max_line_bytes, offset == 0), offset + size + 1
            offset += size + 1
            number += 1
            pending.clear()
            size = 0
            position = newline + 1
    if size:
        yield _line(number, pending, size, max_line_bytes, offset == 0), offset + size


def windows(
    lines: Iterable[tuple[Line, int]], first_line: int, max_records: int, max_bytes: int
) -> Iterator[Window]:
    """Groups of up to ``max_records`` non-blank lines and about ``max_bytes`` bytes."""
    window = Window(next_line=first_line)
    touched = False
    for line, end in lines:
        window.end_offset, window.next_line = end, line.number + 1
        touched = True
        if line.data is not None and not line.data.strip():
            continue  # blank: counted for numbering, not a record
        window.lines.append(line)
        window.size += line.size
        if len(window.lines) >= max_records or window.size >= max_bytes:
            yield window
            window = Window(end_offset=end, next_line=line.number + 1)
            touched = False
    if touched:
        yield window


def _line(number: int, pending: bytearray, size: int, limit: int, first: bool) -> Line:
    data = bytes(pending) if size <= limit else None
    if first and data is not None and data.startswith(_BOM):
        data = data[len(_BOM) :]
    return Line(number, data, size)
