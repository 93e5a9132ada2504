"""FSNS records without TensorFlow: tf.train.Example protobuf bytes and TFRecord file framing.

The data stages must not import TensorFlow (seconds of start-up, gigabytes of address space), so
the two formats are written by hand here. Both are small and stable:

- Example  = message { Features features = 1; }
  Features = message { map<string, Feature> feature = 1; }   (a map entry: key = 1, value = 2)
  Feature  = oneof { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; }
  each list: ``repeated <type> value = 1`` (floats and int64s packed).
- TFRecord = per record: uint64 LE length, masked crc32c of those 8 bytes (uint32 LE), the data,
  masked crc32c of the data (uint32 LE).

They are read back here too (read_tfrecords, decode_example), so `eval` reads its records without
TensorFlow.
"""

from __future__ import annotations

import functools
import os
import struct
from pathlib import Path
from typing import Iterator, Mapping, Sequence, Union

import google_crc32c

FeatureValue = Union[Sequence[bytes], Sequence[int], Sequence[float]]

# Wire types: 0 varint, 2 length-delimited, 5 fixed32.
_LEN = 2


_SMALL_VARINTS = [bytes((i,)) for i in range(0x80)]  # ids, tags and short lengths: most varints


def _varint(n: int) -> bytes:
    """Protobuf base-128 varint; negative int64s use their 64-bit two's complement (10 bytes)."""
    if 0 <= n < 0x80:
        return _SMALL_VARINTS[n]
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    return _varint((number << 3) | _LEN) + _varint(len(payload)) + payload


def _bytes_list(values: Sequence[bytes]) -> bytes:
    return b"".join(_field(1, bytes(v)) for v in values)


def _int64_list(values: Sequence[int]) -> bytes:
    # packed: one field holding all varints; an empty list is an empty message
    packed = b"".join(_varint(int(v)) for v in values)
    return _field(1, packed) if values else b""


def _float_list(values: Sequence[float]) -> bytes:
    packed = struct.pack(f"<{len(values)}f", *values)
    return _field(1, packed) if values else b""


def _feature(value: FeatureValue) -> bytes:
    """A Feature message. The list kind follows the Python type of the elements."""
    if isinstance(value, (bytes, str, int, float)):
        raise TypeError("a feature value is a list (e.g. [b'png'] or [42]), not a scalar")
    items = list(value)
    if not items or isinstance(items[0], int):
        if not all(isinstance(v, int) for v in items):
            raise TypeError("an int64 feature holds only ints")
        return _field(3, _int64_list(items))
    if isinstance(items[0], (bytes, bytearray, memoryview)):
        return _field(1, _bytes_list(items))
    if isinstance(items[0], float):
        return _field(2, _float_list(items))
    raise TypeError(f"unsupported feature element type {type(items[0]).__name__}")


def encode_example(features: Mapping[str, FeatureValue]) -> bytes:
    """Serialized tf.train.Example of `features` (name -> list of bytes, ints or floats).

    Entries are written in the mapping's order, so the bytes are reproducible.
    """
    entries = b"".join(_field(1, _key(name) + _field(2, _feature(value))) for name, value in features.items())
    return _field(1, entries)


@functools.lru_cache(maxsize=256)
def _key(name: str) -> bytes:
    return _field(1, name.encode("utf-8"))


def fsns_example(
    png: bytes,
    width: int,
    num_of_views: int,
    padded_ids: Sequence[int],
    unpadded_ids: Sequence[int],
    text: str,
) -> bytes:
    """One FSNS example: exactly the keys the attention OCR input pipeline parses."""
    return encode_example(
        {
            "image/encoded": [png],
            "image/format": [b"png"],
            "image/width": [int(width)],
            "image/orig_width": [int(width) // int(num_of_views)],
            "image/class": [int(i) for i in padded_ids],
            "image/unpadded_class": [int(i) for i in unpadded_ids],
            "image/text": [text.encode("utf-8")],
        }
    )


# --- TFRecord framing -------------------------------------------------------------------

_MASK_DELTA = 0xA282EAD8


def masked_crc32c(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def frame_record(data: bytes) -> bytes:
    """`data` framed as one TFRecord: length, its crc, data, data crc."""
    length = struct.pack("<Q", len(data))
    return b"".join(
        (
            length,
            struct.pack("<I", masked_crc32c(length)),
            data,
            struct.pack("<I", masked_crc32c(data)),
        )
    )


class TFRecordDamage(ValueError):
    """A TFRecord file cut short or failing a CRC; the message says where."""


def read_tfrecords(path: str | os.PathLike) -> Iterator[bytes]:
    """Each record's data of a TFRecord file, in order, its CRCs checked: TFRecordDamage (where,
    as tfrecord_damage says it) at a record cut short or corrupted."""
    with open(Path(path), "rb") as f:
        index = 0
        while True:
            start = f.tell()
            head = f.read(12)
            if not head:
                return
            if len(head) < 12:
                raise TFRecordDamage(f"cut short in record {index + 1}, at byte {start}")
            length_bytes, (length_crc,) = head[:8], struct.unpack("<I", head[8:])
            if masked_crc32c(length_bytes) != length_crc:
                raise TFRecordDamage(f"CRC mismatch in the length of record {index + 1}, at byte {start}")
            (length,) = struct.unpack("<Q", length_bytes)
            data = f.read(length)
            tail = f.read(4)
            if len(data) < length or len(tail) < 4:
                raise TFRecordDamage(f"cut short in record {index + 1}, at byte {start}")
            if masked_crc32c(data) != struct.unpack("<I", tail)[0]:
                raise TFRecordDamage(f"CRC mismatch in record {index + 1}, at byte {start}")
            yield data
            index += 1


def tfrecord_damage(path: str | os.PathLike) -> str | None:
    """What is wrong with a TFRecord file's framing (cut short, a CRC mismatch), or None when
    every record is whole. Reads it record by record."""
    try:
        for _ in read_tfrecords(path):
            pass
    except TFRecordDamage as e:
        return str(e)
    return None


# --- reading Examples back ---------------------------------------------------------------

_VARINT, _I64, _I32 = 0, 1, 5


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it) of the varint at `pos`."""
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("a varint runs past the end of the message")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of each field of a message: an int for varints, the
    bytes for length-delimited and fixed-size fields."""
    pos = 0
    while pos < len(data):
        tag, pos = _read_varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == _VARINT:
            value, pos = _read_varint(data, pos)
        else:
            if wire == _LEN:
                size, pos = _read_varint(data, pos)
            elif wire in (_I64, _I32):
                size = 8 if wire == _I64 else 4
            else:
                raise ValueError(f"unsupported wire type {wire}")
            if pos + size > len(data):
                raise ValueError("a field runs past the end of the message")
            value, pos = data[pos : pos + size], pos + size
        yield number, wire, value


def _int64(n: int) -> int:
    return n - (1 << 64) if n >= 1 << 63 else n


def _payload(number: int, wire: int, value: int | bytes) -> bytes:
    """The bytes of a length-delimited field (a message, a string); ValueError for a field of
    another wire type where the Example format has one (bytes that are not an Example)."""
    if wire != _LEN:
        raise ValueError(f"field {number} has wire type {wire} where a length-delimited one belongs")
    return value


def _decode_feature(data: bytes) -> list:
    """A Feature message -> its list of bytes, ints or floats (packed or not)."""
    values: list = []
    for kind, wire, payload in _fields(data):
        if kind not in (1, 2, 3):
            continue  # not a BytesList, FloatList or Int64List: an unknown field, skipped
        for number, vwire, v in _fields(_payload(kind, wire, payload)):
            if number != 1:
                continue
            if kind == 1:  # BytesList
                values.append(bytes(_payload(number, vwire, v)))
            elif kind == 3:  # Int64List
                if vwire == _LEN:
                    pos = 0
                    while pos < len(v):
                        n, pos = _read_varint(v, pos)
                        values.append(_int64(n))
                elif vwire == _VARINT:
                    values.append(_int64(v))
                else:
                    raise ValueError(f"an int64 list holds a field of wire type {vwire}")
            elif vwire == _I32 or (vwire == _LEN and len(v) % 4 == 0):  # FloatList
                values.extend(struct.unpack(f"<{len(v) // 4}f", v))
            else:
                raise ValueError("a float list holds a field that is not whole floats")
    return values


def decode_example(data: bytes) -> dict[str, list]:
    """A serialized tf.train.Example -> {feature name: list of bytes, ints or floats}, as
    encode_example takes them (the inverse of it). ValueError for bytes that are not one."""
    features: dict[str, list] = {}
    for number, wire, entries in _fields(data):
        if number != 1:
            continue
        for entry_number, entry_wire, entry in _fields(_payload(number, wire, entries)):
            if entry_number != 1:
                continue
            name, value = "", b""
            for part, part_wire, v in _fields(_payload(entry_number, entry_wire, entry)):
                if part == 1:
                    name = _payload(part, part_wire, v).decode("utf-8")
                elif part == 2:
                    value = _payload(part, part_wire, v)
            features[name] = _decode_feature(value)
    return features
