"""sensor_msgs/msg/Image in CDR, decoded by hand (an independent reading of what Cerebellum encodes):
used by scripts/mcap-readback.py and scripts/live-view-check.py."""
import struct


def decode_image(data):
    """The image's fields from its CDR bytes (little-endian encapsulation); raises ValueError when they
    do not fit together."""
    if data[:2] != b"\x00\x01":
        raise ValueError(f"CDR encapsulation {data[:2].hex()} is not little-endian CDR")
    body = data[4:]
    pos = 0

    def align(n):
        nonlocal pos
        pos += (-pos) % n

    def u32():
        nonlocal pos
        align(4)
        (v,) = struct.unpack_from("<I", body, pos)
        pos += 4
        return v

    def string():
        nonlocal pos
        n = u32()
        s = body[pos:pos + n - 1].decode()
        pos += n
        return s

    sec, nsec = u32(), u32()
    frame_id = string()
    height, width = u32(), u32()
    encoding = string()
    big_endian = body[pos]
    pos += 1
    step = u32()
    n = u32()
    pixels = body[pos:pos + n]
    if len(pixels) != n or n != step * height:
        raise ValueError(f"{n} data bytes, {len(pixels)} present, step {step} × height {height}")
    return dict(stamp=sec + nsec * 1e-9, frame_id=frame_id, height=height, width=width, encoding=encoding,
                big_endian=big_endian, step=step, pixels=pixels)
