#!/usr/bin/env python3
"""An operator at the serial console, scripted: arms, takes over, records a drive, marks it, and stops the
recording. Prints the console's replies to the recording commands and exits non-zero if one failed.

Without --live the drive is smooth random efforts (a new heading every 1-2 s, sent every 100 ms so the
dead-man never runs out). With --live URL the operator watches the run's live view (foxglove.websocket.v1,
`run --live PORT`) as a person watches the robot: it finds the dot, the middle wall and its door in the
camera's picture and tours the rooms, driving to waypoints spread over the free floor and through the door
to reach the other room, with some wander in its heading, and picks a new waypoint when the dot stops moving.
Usage: console-drive.py PTY SECONDS NAME [SEED] [--live URL]"""
import json
import math
import os
import random
import select
import struct
import sys
import threading
import time

args = [a for a in sys.argv[1:] if a != "--live"]
live_url = sys.argv[sys.argv.index("--live") + 1] if "--live" in sys.argv else None
if live_url:
    args.remove(live_url)
pty, seconds, name = args[0], float(args[1]), args[2]
rng = random.Random(int(args[3]) if len(args) > 3 else 1)
fd = os.open(pty, os.O_RDWR | os.O_NOCTTY)
received = b""


def read_for(wait):
    """Collects what the console says for `wait` seconds."""
    global received
    end = time.monotonic() + wait
    while (left := end - time.monotonic()) > 0:
        r, _, _ = select.select([fd], [], [], left)
        if r:
            received += os.read(fd, 4096)


def say(line, wait=0.3):
    os.write(fd, (line + "\r").encode())
    read_for(wait)


def expect(text):
    for _ in range(50):
        if text.encode() in received:
            return
        read_for(0.1)
    sys.exit("console-drive: %r never came; the console said:\n%s" % (text, received.decode(errors="replace")[-2000:]))


class Watcher:
    """The newest camera picture from the live view, kept by a thread."""

    def __init__(self, url):
        global np
        import numpy as np
        from websockets.sync.client import connect
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from cdr_image import decode_image
        self.decode, self.frame, self.lock = decode_image, None, threading.Lock()
        for _ in range(100):
            try:
                self.ws = connect(url, subprotocols=["foxglove.websocket.v1"], open_timeout=5, max_size=None)
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("console-drive: cannot connect to the live view at " + url)
        self.ws.recv(timeout=5)  # serverInfo
        channels = json.loads(self.ws.recv(timeout=5))["channels"]
        image = next(c for c in channels if c["topic"] == "/camera/image")
        self.ws.send(json.dumps({"op": "subscribe", "subscriptions": [{"id": 1, "channelId": image["id"]}]}))
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                m = self.ws.recv()
            except Exception:
                return
            if isinstance(m, bytes) and m[0] == 1:
                img = self.decode(m[13:])
                with self.lock:
                    self.frame = (img["width"], img["height"], bytes(img["pixels"]))

    def latest(self):
        for _ in range(100):
            with self.lock:
                if self.frame:
                    return self.frame
            time.sleep(0.05)
        sys.exit("console-drive: no picture from the live view")


def picture(frame):
    w, h, px = frame
    return np.frombuffer(px, dtype=np.uint8).reshape(h, w).astype(float)


def find_dot(frame):
    """The dot's centre: the bright pixels' weighted centroid (walls are darker than its peak)."""
    img = picture(frame)
    v = np.where(img > 190, img, 0)
    if v.sum() == 0:
        return None
    ys, xs = np.indices(img.shape)
    return (float((v * (xs + 0.5)).sum() / v.sum()), float((v * (ys + 0.5)).sum() / v.sum()))


def find_rooms(frame):
    """The middle wall's column and its door's centre row, and the free floor: pixels 5 or more from any wall."""
    img = picture(frame)
    h, w = img.shape
    wall = (img >= 100) & (img <= 190)
    wall_x = w // 4 + int(np.argmax(wall[:, w // 4:3 * w // 4].sum(axis=0)))
    door = np.flatnonzero(~wall[:, wall_x])
    door_y = float(door.mean()) if door.size else h / 2
    near = np.zeros_like(wall)
    for dy in range(-4, 5):
        for dx in range(-4, 5):
            near |= np.roll(np.roll(wall, dy, axis=0), dx, axis=1)
    near[:4, :] = near[-4:, :] = near[:, :4] = near[:, -4:] = True
    free = [(i + 0.5, j + 0.5) for j, i in zip(*np.nonzero(~near))]
    return wall_x + 0.5, door_y + 0.5, free


def tour(watcher, seconds):
    """Drives to waypoints over both rooms, through the door, until `seconds` have passed."""
    frame = watcher.latest()
    wall_x, door_y, free = find_rooms(frame)
    print("console-drive: watching the live view: wall at x %.1f, door at y %.1f, %d free floor pixels" % (wall_x, door_y, len(free)))
    legs, reached = [], 0
    last_move, last_pos = time.monotonic(), None
    wander, speed = 0.0, 0.7
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        dot = find_dot(watcher.latest())
        if dot is None:
            say("drive 0 0", 0.1)
            continue
        if not legs:
            goal = rng.choice(free)
            if (goal[0] < wall_x) != (dot[0] < wall_x):
                side = -1 if dot[0] < wall_x else 1
                legs = [(wall_x + 7 * side, door_y), (wall_x - 7 * side, door_y), goal]
            else:
                legs = [goal]
            speed = rng.uniform(0.5, 0.9)
        if last_pos is None or math.hypot(dot[0] - last_pos[0], dot[1] - last_pos[1]) > 1.0:
            last_pos, last_move = dot, time.monotonic()
        elif time.monotonic() - last_move > 1.5:
            legs, last_pos = [], None  # stuck against something: a new waypoint
            continue
        tx, ty = legs[0]
        if math.hypot(tx - dot[0], ty - dot[1]) < 2.5:
            legs.pop(0)
            reached += 1
            continue
        wander = max(-0.6, min(0.6, wander + rng.gauss(0, 0.15)))
        heading = math.atan2(ty - dot[1], tx - dot[0]) + wander
        say("drive %.2f %.2f" % (speed * math.cos(heading), speed * math.sin(heading)), 0.1)
    print("console-drive: reached %d waypoints" % reached)


def wander_randomly(seconds):
    heading, speed, change = 0.0, 0.6, 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if time.monotonic() >= change:
            heading = rng.uniform(-3.14159, 3.14159)
            speed = rng.uniform(0.4, 0.9)
            change = time.monotonic() + rng.uniform(1.0, 2.0)
        say("drive %.2f %.2f" % (speed * math.cos(heading), speed * math.sin(heading)), 0.1)


watcher = Watcher(live_url) if live_url else None
read_for(1.0)
say("arm", 0.5)
say("mode teleop", 0.5)
say("record start " + name, 0.5)
expect("recording to")
tour(watcher, seconds) if watcher else wander_randomly(seconds)
say("stop", 0.3)
say("record mark good scripted drive", 0.3)
expect("marked good")
say("record stop", 1.5)
expect("stopped:")
text = received.decode(errors="replace")
for line in text.replace("\r", "\n").split("\n"):
    if line.startswith(("recording to", "stopped:", "marked")):
        print("console:", line.strip())
os.close(fd)
