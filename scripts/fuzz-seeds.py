#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (Tests/Fuzz/corpus/<target>/): small valid inputs from
which libFuzzer's mutations start. `make fuzz-seeds` runs it; the corpus is committed.
Usage: fuzz-seeds.py CORPUS_DIR RECORDING.mcap"""
import json, os, shutil, struct, sys, zlib

out, recording = sys.argv[1], sys.argv[2]
def put(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)

# --- model: tiny world models (4×4 frames) in the shipped file's layout, fp32 and int8 tensors.
def safetensors(tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        dtype, shape, values = tensors[name]
        fmt = {"F32": "f", "I8": "b"}[dtype]
        blob = struct.pack("<%d%s" % (len(values), fmt), *values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)

def count(shape):
    n = 1
    for d in shape: n *= d
    return n

def model(encoder, predictor, frame, latent, matrices):
    """`matrices`: (path, weight shape, part) for every conv2d/linear layer."""
    t = {}
    for path, wshape, part in matrices:
        n = wshape[0]
        vals = [((i * 37) % 17 - 8) / 64 for i in range(count(wshape))]
        t["%s.%s.weight" % (part, path)] = ("F32", wshape, vals)
        t["%s.%s.bias" % (part, path)] = ("F32", [n], [0.01 * i for i in range(n)])
        if part == "encoder":
            t["encoder_int8.%s.weight_q" % path] = ("I8", wshape, [int(v * 127) for v in vals])
            t["encoder_int8.%s.weight_scale" % path] = ("F32", [n], [1 / 1016] * n)
            t["encoder_int8.%s.bias" % path] = ("F32", [n], [0.01 * i for i in range(n)])
            t["encoder_int8.%s.input_scale" % path] = ("F32", [1], [1 / 127])
    meta = {"kind": "cerebellum-world-model", "encoder": json.dumps(encoder), "predictor": json.dumps(predictor),
            "latent_size": str(latent), "action_size": "2", "frame_shape": json.dumps(frame),
            "actions": json.dumps([{"lower": -1, "name": "vx", "upper": 1}, {"lower": -1, "name": "vy", "upper": 1}],
                                  separators=(",", ":")),
            "training": json.dumps({"validation": {"one_step_error_p99": 0.01}})}
    return safetensors(t, meta)

relu = {"op": "activation", "function": "relu"}
predictor = [{"op": "linear", "in": 6, "out": 8}, relu, {"op": "linear", "in": 8, "out": 4}]
pm = [("0", [8, 6], "predictor"), ("2", [4, 8], "predictor")]
put("model", "conv-linear.safetensors", model(
    [{"op": "conv2d", "in": 1, "out": 2, "kernel": 3, "stride": 2, "padding": 1}, relu, {"op": "flatten"},
     {"op": "linear", "in": 8, "out": 4}], predictor, [4, 4, 1], 4,
    [("0", [2, 3, 3, 1], "encoder"), ("3", [4, 8], "encoder")] + pm))
put("model", "branches.safetensors", model(
    [{"op": "conv2d", "in": 1, "out": 2, "kernel": 3, "stride": 1, "padding": 1}, relu,
     {"op": "concat", "branches": [
         [{"op": "conv2d", "in": 2, "out": 2, "kernel": 3, "stride": 2, "padding": 1}, relu, {"op": "flatten"},
          {"op": "linear", "in": 8, "out": 2}],
         [{"op": "spatial_softargmax"}, {"op": "linear", "in": 4, "out": 2}]]}],
    predictor, [4, 4, 1], 4,
    [("0", [2, 3, 3, 1], "encoder"), ("2.0.0", [2, 3, 3, 2], "encoder"), ("2.0.3", [2, 8], "encoder"),
     ("2.1.1", [2, 4], "encoder")] + pm))

# --- png: each colour type the decoder reads, and a goal image.
def png(width, height, color, channels, rows):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(bytes([f]) + bytes(r) for f, r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for color, channels in [(0, 1), (4, 2), (2, 3), (6, 4)]:
    rows = [(y % 5, [(x * 16 + y * 8 + c * 50) % 256 for x in range(8) for c in range(channels)]) for y in range(8)]
    put("png", "8x8-color%d.png" % color, png(8, 8, color, channels, rows))
shutil.copy("hil/goal.png", os.path.join(out, "png", "goal.png"))

# --- mcap: a short recording made by `cerebellum record`, its frames made 4×4 (a 64×64 frame is 4 KiB
# that mutations gain nothing from and every run copies).

def cdr_image(stamp_sec, stamp_ns, frame_id, width, height, pixels):
    b = bytearray(b"\x00\x01\x00\x00")
    def align(n):
        while (len(b) - 4) % n: b.append(0)
    def u32(v): align(4); b.extend(struct.pack("<I", v))
    def string(t): u32(len(t) + 1); b.extend(t.encode() + b"\x00")
    u32(stamp_sec); u32(stamp_ns); string(frame_id)
    u32(height); u32(width); string("mono8"); b.append(0); u32(width); u32(len(pixels)); b.extend(pixels)
    return bytes(b)

import io
from mcap.reader import make_reader
from mcap.writer import Writer
reader = make_reader(open(recording, "rb"))
small = io.BytesIO()
w = Writer(small, use_chunking=False, enable_crcs=True)
w.start(profile="", library="cerebellum")
summary = reader.get_summary()
ids = {}
for sid, sc in sorted(summary.schemas.items()):
    ids[sid] = w.register_schema(name=sc.name, encoding=sc.encoding, data=sc.data)
channels = {}
for cid, c in sorted(summary.channels.items()):
    channels[cid] = w.register_channel(topic=c.topic, message_encoding=c.message_encoding, schema_id=ids[c.schema_id])
for m in reader.iter_metadata():
    w.add_metadata(m.name, m.metadata)
for k, (schema, channel, msg) in enumerate(make_reader(open(recording, "rb")).iter_messages()):
    data = msg.data
    if channel.topic == "/camera/image":
        data = cdr_image(0, 1000 * k, "camera", 4, 4, bytes((7 * i + k) % 256 for i in range(16)))
    w.add_message(channel_id=channels[channel.id], log_time=msg.log_time, publish_time=msg.publish_time, data=data, sequence=msg.sequence)
w.finish()
put("mcap", "two-steps-4x4.mcap", small.getvalue())

# --- yaml: the shipped board profiles and calibrations without their comments (mutating comments
# finds nothing; shorter inputs run faster).
import re
def uncommented(text):
    lines = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        line = re.sub(r"\s+#\s.*$", "", line)
        if line.strip() or (lines and lines[-1].strip()):
            lines.append(line)
    return "\n".join(lines).strip() + "\n"
for d in ["boards", "calibration"]:
    for f in sorted(os.listdir(d)):
        if f.endswith(".yaml"):
            put("yaml", "%s-%s" % (d, f), uncommented(open(os.path.join(d, f)).read()).encode())

# --- console: typed commands, sentences, key mode, escape sequences.
def crc16(body):
    c = 0xFFFF
    for b in body.encode():
        c ^= b << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
    return c
def sentence(body): return ("$%s*%04X\r\n" % (body, crc16(body))).encode()
put("console", "typed", b"help\rstatus\rarm\rdrive 0.3 -0.2\rdisarm\rreset\rmode auto\rgoal door\rlimits\r")
put("console", "sentences", sentence("ARM") + sentence("DRIVE,0.1,0.1") + sentence("DISARM") + b"$DRIVE,0.9,0.9*0000\r\n")
put("console", "keys", b"keys\rwwaassdd \x1b[A\x1b[B\x1b[C\x1b[D!q")
import hmac, hashlib
def signed(body, nonce, seq):
    tag = hmac.new(bytes(range(32)), b"cerebellum-console-1" + struct.pack(">QQ", nonce, seq) + body.encode(), hashlib.sha256).hexdigest()[:16].upper()
    return sentence("S,%d,%s,%s" % (seq, tag, body))
put("console", "signed", sentence("SESSION") + signed("ARM", 1, 1) + signed("DRIVE,0.3,-0.2", 1, 2) + signed("DRIVE,0.3,-0.2", 1, 2))
put("console", "editing", b"arx\x7fm\r\x15drive 1 1\x08\x08 0\r\x03estop\r")

# --- websocket: a client's opening request, then masked frames (subscribe, a ping, a fragmented message, close).
def client_frame(opcode, payload, fin=True, mask=b"\x11\x22\x33\x44"):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
request = (b"GET / HTTP/1.1\r\nHost: robot\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           b"Sec-WebSocket-Protocol: foxglove.websocket.v1\r\n\r\n")
subscribe = b'{"op":"subscribe","subscriptions":[{"id":0,"channelId":1},{"id":1,"channelId":3}]}'
put("websocket", "session", request + client_frame(1, subscribe) + client_frame(9, b"hi")
    + client_frame(1, b'{"op":"unsub', fin=False) + client_frame(0, b'scribe","subscriptionIds":[0]}') + client_frame(8, b"\x03\xe8"))
put("websocket", "plain-http", b"GET / HTTP/1.1\r\nHost: robot\r\n\r\n")
