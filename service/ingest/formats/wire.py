"""Protobuf's wire format read field by field, so that a push body's parts can be counted and
skipped without being built.

The C decoder builds a whole message or nothing: a 50 MiB `PushRequest` of empty entries is 25
million message objects before the line cap can apply. Walking the fields instead keeps only
offsets; the parts worth reading (a log record, a resource) are sliced out and decoded one at a
time, within a size of their own, and what lies past the cap is only counted.
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5
# What a message is read from: bytes, or the buffer a snappy body was inflated into.
Wire = bytes | bytearray
_GROUPS = (3, 4)  # start/end group: deprecated, never in these messages


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def varint(data: Wire, pos: int, end: int) -> tuple[int, int]:
    """Return the varint at `pos` and the position after it."""
    result = shift = 0
    while pos < end:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            break
    raise WireError("a varint runs past its message or past 10 bytes")


def fields(data: Wire, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield each field of the message in `data[start:end]` as (number, wire type, a, b).

    For a varint, `a` is its value; for any other type `data[a:b]` is its payload.
    """
    pos = start
    while pos < end:
        key, pos = varint(data, pos, end)
        number, kind = key >> 3, key & 7
        if number == 0:
            raise WireError("a field numbered 0")
        if kind == VARINT:
            value, pos = varint(data, pos, end)
            yield number, kind, value, pos
            continue
        if kind == LEN:
            length, pos = varint(data, pos, end)
            size = length
        elif kind == FIXED64:
            size = 8
        elif kind == FIXED32:
            size = 4
        else:
            raise WireError(f"wire type {kind} ({'group' if kind in _GROUPS else 'unknown'})")
        if pos + size > end:
            raise WireError("a field runs past the end of its message")
        yield number, kind, pos, pos + size
        pos += size


def count_field(data: Wire, start: int, end: int, number: int) -> int:
    """Return how many times field `number` (length-delimited) occurs in `data[start:end]`,
    checking the framing."""
    return count_and_last(data, start, end, number, 0)[0]


def count_and_last(
    data: Wire, start: int, end: int, number: int, other: int
) -> tuple[int, tuple[int, int] | None]:
    """Count field `number` in `data[start:end]` as `count_field` does, and return the payload
    span of the last length-delimited field `other` met on the way (None when there is none).

    The hot loop of a hostile body (millions of tiny repeated fields past the cap): the field's
    own one-byte key with a one-byte length takes a fast path, anything else the general one.
    """
    key = number << 3 | LEN
    pos, count = start, 0
    last: tuple[int, int] | None = None
    try:
        while pos < end:
            if data[pos] == key:
                length = data[pos + 1]
                if length < 0x80:
                    pos += 2 + length
                    count += 1
                    continue
            for field_number, kind, a, after in fields(data, pos, end):
                count += field_number == number and kind == LEN
                if field_number == other and kind == LEN:
                    last = (a, after)
                pos = after
                break
    except IndexError:
        raise WireError("a field runs past the end of its message") from None
    if pos != end:
        raise WireError("a field runs past the end of its message")
    return count, last
