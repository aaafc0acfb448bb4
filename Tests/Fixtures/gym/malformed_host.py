"""A Gymnasium host that breaks the protocol on purpose, for the bridge's tests. It answers HELLO with a valid
READY (a 2-component Box, two truth values) and RESET with valid observations; what it does on STEP is the
HELLO config's "env": "short-image" sends an observation whose image is one byte short, "bad-type" a reply of
an unknown type, "huge" a length header over the limit, "silent" nothing at all (it sleeps), "exit" exits."""
import json, os, socket, struct, sys, time

sock = socket.socket(fileno=3)


def recv_exact(n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    return data


def send(kind, body=b""):
    sock.sendall(struct.pack("<IB", len(body) + 1, kind) + body)


def observation(flags, short=False):
    h, w, c = 30, 40, 1
    pixels = bytes(h * w * c - (1 if short else 0))
    return struct.pack("<BdHHBB", flags, 0.0, h, w, c, 2) + struct.pack("<2d", 1.0, 2.0) + pixels


mode = "short-image"
while True:
    (n,) = struct.unpack("<I", recv_exact(4))
    payload = recv_exact(n)
    kind = payload[0]
    if kind == 1:
        mode = json.loads(payload[3:].decode())["env"]
        send(0x81, struct.pack("<HBH2d2dIB", 1, 0, 2, -1, -1, 1, 1, 0, 2) + b"malformed test host")
    elif kind == 2:
        send(0x82, observation(4))
        send(0x82, observation(0))
    elif kind == 3:
        if mode == "short-image":
            send(0x82, observation(0, short=True))
        elif mode == "bad-type":
            send(0x42, b"?")
        elif mode == "huge":
            sock.sendall(struct.pack("<I", 1 << 30))
        elif mode == "silent":
            time.sleep(60)
        elif mode == "exit":
            os._exit(4)
    else:
        sys.exit(0)
