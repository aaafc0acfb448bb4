#!/usr/bin/env python3
"""A Foxglove WebSocket client against `cerebellum run --live`: checks what a viewer would get.

Usage: scripts/live-view-check.py ws://127.0.0.1:PORT [--seconds S] [--slow-client]

With the `websockets` package (pinned in the Makefile) it connects with the subprotocol
foxglove.websocket.v1, reads serverInfo and advertise, subscribes to every channel and decodes what
arrives: the CDR sensor_msgs/msg/Image frames (their size against the header), the cerebellum.Command
and cerebellum.Plan JSON messages (their fields, ticks in order), the binary Message Data framing.
It then unsubscribes from the image and checks that images stop, and that a plain HTTP request and a
WebSocket without the subprotocol are refused. --slow-client also opens a raw connection that
subscribes to everything and never reads, while the first client keeps receiving: the server must keep
serving the good one (the slow one is dropped, which the run's summary counts). Exit 0 when all holds.
"""
import argparse
import base64
import json
import os
import socket
import struct
import sys
import time
from urllib.parse import urlparse

from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdr_image import decode_image  # noqa: E402

PROTOCOL = "foxglove.websocket.v1"


def fail(message):
    print(f"FAIL {message}")
    sys.exit(1)


def ok(message):
    print(f"ok   {message}")


def receive_for(ws, seconds, by_sub, counts, last):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            message = ws.recv(timeout=0.5)
        except TimeoutError:
            continue
        if isinstance(message, str):
            op = json.loads(message).get("op")
            if op == "status":
                print(f"     status from the server: {message}")
            continue
        if message[0] != 1:
            fail(f"binary opcode {message[0]}, expected 1 (Message Data)")
        sub, stamp = struct.unpack_from("<IQ", message, 1)
        if sub not in by_sub:
            fail(f"a message for subscription {sub}, which was never made")
        topic, payload = by_sub[sub], message[13:]
        if stamp < last.get(topic, 0):
            fail(f"{topic}: timestamps go back ({stamp} after {last[topic]})")
        last[topic] = stamp
        counts[topic] = counts.get(topic, 0) + 1
        if topic == "/camera/image":
            try:
                image = decode_image(payload)
            except ValueError as e:
                fail(f"image: {e}")
            if image["encoding"] not in ("mono8", "rgb8") or image["width"] * image["height"] == 0:
                fail(f"image: {image['encoding']} {image['width']}×{image['height']}")
            counts["image_size"] = f"{image['width']}x{image['height']} {image['encoding']}"
        elif topic == "/cerebellum/command":
            c = json.loads(payload)
            for key in ("tick", "proposed", "applied", "origin", "state", "faults"):
                if key not in c:
                    fail(f"command: no {key} in {c}")
            if c["tick"] <= counts.get("last_tick", 0):
                fail(f"command: tick {c['tick']} after {counts['last_tick']}")
            counts["last_tick"] = c["tick"]
            counts.setdefault("states", set()).add(c["state"])
        elif topic == "/cerebellum/plan":
            p = json.loads(payload)
            if "tick" not in p or "planned_efforts" not in p:
                fail(f"plan: fields missing in {p}")
            if p["planned_efforts"]:
                counts["plans"] = counts.get("plans", 0) + 1
                if len(p["forecast_goal_distance"]) != len(p["planned_efforts"]):
                    fail("plan: a forecast distance per planned step")


def refused_plain_http(host, port):
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = s.recv(4096).decode(errors="replace")
    s.close()
    return reply.split("\r\n")[0]


def slow_client(host, port):
    """Handshakes, subscribes to every channel, and then never reads."""
    s = socket.create_connection((host, port), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {PROTOCOL}\r\n\r\n").encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += s.recv(1)
    if not reply.startswith(b"HTTP/1.1 101"):
        fail(f"slow client: handshake answered {reply[:40]!r}")
    body = json.dumps({"op": "subscribe", "subscriptions": [{"id": i, "channelId": i} for i in (1, 2, 3)]}).encode()
    mask = os.urandom(4)
    frame = bytes([0x81, 0x80 | len(body)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(body))
    s.sendall(frame)
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--slow-client", action="store_true")
    args = ap.parse_args()
    u = urlparse(args.url)

    error = None
    for _ in range(100):
        try:
            ws = connect(args.url, subprotocols=[PROTOCOL], open_timeout=5, max_size=None)
            break
        except (ConnectionRefusedError, OSError) as e:
            error = e
            time.sleep(0.1)
    else:
        fail(f"cannot connect to {args.url}: {error}")
    if ws.subprotocol != PROTOCOL:
        fail(f"subprotocol {ws.subprotocol}")
    info = json.loads(ws.recv(timeout=5))
    if info.get("op") != "serverInfo" or "name" not in info:
        fail(f"first message {info}")
    ok(f"connected with {PROTOCOL}; serverInfo: {info['name']}")
    advertise = json.loads(ws.recv(timeout=5))
    if advertise.get("op") != "advertise":
        fail(f"second message {advertise}")
    channels = {c["topic"]: c for c in advertise["channels"]}
    for topic, encoding in (("/camera/image", "cdr"), ("/cerebellum/command", "json"), ("/cerebellum/plan", "json")):
        if channels.get(topic, {}).get("encoding") != encoding or not channels[topic].get("schema"):
            fail(f"advertise: {topic} as {encoding} with a schema, got {channels.get(topic)}")
    ok(f"advertised {sorted(channels)}")

    by_sub = {}
    subs = []
    for i, (topic, c) in enumerate(sorted(channels.items())):
        by_sub[100 + i] = topic
        subs.append({"id": 100 + i, "channelId": c["id"]})
    ws.send(json.dumps({"op": "subscribe", "subscriptions": subs}))
    counts, last = {}, {}
    slow = slow_client(u.hostname, u.port) if args.slow_client else None
    receive_for(ws, args.seconds, by_sub, counts, last)
    for topic in channels:
        if counts.get(topic, 0) < 5:
            fail(f"{topic}: {counts.get(topic, 0)} messages in {args.seconds} s")
    if counts.get("plans", 0) < 1:
        fail("no plan message with planned efforts")
    ok(f"received {', '.join(f'{t} {counts[t]}' for t in sorted(channels))} in {args.seconds:.0f} s; "
       f"image {counts['image_size']}, last tick {counts['last_tick']}, states {sorted(counts['states'])}")

    image_sub = next(s for s, t in by_sub.items() if t == "/camera/image")
    ws.send(json.dumps({"op": "unsubscribe", "subscriptionIds": [image_sub]}))
    receive_for(ws, 0.5, by_sub, counts, last)  # what was queued before the unsubscribe
    before = counts["/camera/image"], counts["/cerebellum/command"]
    receive_for(ws, 1.0, by_sub, counts, last)
    if counts["/camera/image"] != before[0] or counts["/cerebellum/command"] <= before[1]:
        fail(f"after unsubscribe: images {before[0]} → {counts['/camera/image']}, commands {before[1]} → {counts['/cerebellum/command']}")
    ok("unsubscribe stops the images, the commands go on")
    ws.send(json.dumps({"op": "subscribe", "subscriptions": [{"id": 999, "channelId": 77}]}))
    status = None
    end = time.monotonic() + 3
    while status is None and time.monotonic() < end:
        m = ws.recv(timeout=3)
        if isinstance(m, str) and json.loads(m).get("op") == "status":
            status = json.loads(m)
    if not status or status.get("level") != 2:
        fail(f"a subscription to an unknown channel: status {status}")
    ok(f"an unknown channel is answered with an error status: {status['message']}")
    ws.close()

    line = refused_plain_http(u.hostname, u.port)
    if not line.startswith("HTTP/1.1 426"):
        fail(f"a plain HTTP request: {line}")
    ok(f"a plain HTTP request is refused: {line}")
    try:
        connect(args.url, open_timeout=5).close()
        fail("a WebSocket without the subprotocol was accepted")
    except InvalidStatus as e:
        ok(f"a WebSocket without {PROTOCOL} is refused ({e.response.status_code})")
    if slow is not None:
        slow.close()
    print("live view: all checks passed")


if __name__ == "__main__":
    main()
