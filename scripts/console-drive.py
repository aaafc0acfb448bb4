#!/usr/bin/env python3
"""An operator at the serial console, scripted: arms, takes over, records a drive of smooth random
efforts (a new heading every 1-2 s, sent every 100 ms so the dead-man never runs out), marks it, and stops
the recording. Prints the console's replies to the recording commands and exits non-zero if one failed.
Usage: console-drive.py PTY SECONDS NAME [SEED]"""
import math
import os
import random
import select
import sys
import time

pty, seconds, name = sys.argv[1], float(sys.argv[2]), sys.argv[3]
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
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


read_for(1.0)
say("arm", 0.5)
say("mode teleop", 0.5)
say("record start " + name, 0.5)
expect("recording to")
heading, speed, change = 0.0, 0.6, 0.0
end = time.monotonic() + seconds
while time.monotonic() < end:
    if time.monotonic() >= change:
        heading = rng.uniform(-3.14159, 3.14159)
        speed = rng.uniform(0.4, 0.9)
        change = time.monotonic() + rng.uniform(1.0, 2.0)
    vx, vy = speed * math.cos(heading), speed * math.sin(heading)
    say("drive %.2f %.2f" % (vx, vy), 0.1)
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
