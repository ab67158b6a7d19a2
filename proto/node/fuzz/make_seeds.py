#!/usr/bin/env python3
"""Writes seeds/decoder/: frames made from the README's description of the format (CRC-32 from
zlib, COBS by hand), not by the crate's encoder; tests/frames.rs checks they decode."""
import os
import struct
import zlib


def cobs(data):
    out, block = bytearray(), bytearray()
    for byte in data:
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block = bytearray()
        else:
            block.append(byte)
            if len(block) == 254:
                out.append(255)
                out += block
                block = bytearray()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def frame(kind, body, major=1):
    raw = bytes([0xD5, major, kind]) + bytes(body)
    raw += struct.pack("<I", zlib.crc32(raw))
    return b"\0" + cobs(raw) + b"\0"


hello = [1, 0, 12, *b"pico-kitchen", 5, *b"0.1.0", 0x0F]
readings = [42, 3, 0, 0, 0, 0xBC, 0x41, 1, 0xCD, 0xCC, 0x24, 0x42, 2, 0, 0x50, 0x7D, 0x44]
seeds = {
    "hello": frame(0x01, hello),
    "readings": frame(0x02, readings),
    "status": frame(0x03, [1, 0]),
    "reply": frame(0x04, [7, 1, 0]),
    "command_text": frame(0x81, [1, 0, 5, *b"hello"]),
    "command_rotate": frame(0x81, [7, 1, 0xB4, 1]),
    "command_clear": frame(0x81, [7, 2]),
    "stream_with_noise": b"Booting...\r\n" + frame(0x01, hello) + b"\x55" * 40
    + frame(0x02, readings)[:-5] + frame(0x02, readings),
    "hello_major_2": frame(0x01, [2, 0, *hello[2:]], major=2),
}
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "decoder")
os.makedirs(here, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
