#!/usr/bin/env python3
"""Reads a cerebellum recording with Python's `mcap` package (an independent MCAP implementation):
validates the CRCs and the summary, decodes the sensor_msgs/msg/Image CDR payloads by hand, and
prints totals that the Swift test compares with what it recorded."""
import json
import os
import sys

from mcap.reader import make_reader

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdr_image import decode_image  # noqa: E402


with open(sys.argv[1], "rb") as f:
    reader = make_reader(f, validate_crcs=True)
    # A recording closed by `cerebellum recover` has no summary section: the reader then reads it through.
    summary = reader.get_summary()
    meta = {m.name: m.metadata for m in reader.iter_metadata()} if summary is not None else {}
    images = episodes = commands = 0
    pixel_sum = 0
    action_sum = 0.0
    size = ""
    for schema, channel, message in reader.iter_messages():
        if channel.topic == "/camera/image":
            assert schema.name == "sensor_msgs/msg/Image" and channel.message_encoding == "cdr"
            image = decode_image(message.data)
            assert image["step"] == image["width"]
            w, h, enc, pixels = image["width"], image["height"], image["encoding"], image["pixels"]
            size = "%dx%d %s" % (w, h, enc)
            pixel_sum += sum(pixels)
            images += 1
        elif channel.topic == "/cerebellum/action":
            action_sum += sum(json.loads(message.data)["efforts"][:2])
        elif channel.topic == "/cerebellum/episode":
            if json.loads(message.data)["event"] == "end":
                episodes += 1
        elif channel.topic == "/cerebellum/command":
            json.loads(message.data)["applied"]
            commands += 1
    if summary is not None:
        topics = {c.topic: i for i, c in summary.channels.items()}
        assert summary.statistics.message_count == sum(summary.statistics.channel_message_counts.values())
        assert summary.statistics.channel_message_counts[topics["/camera/image"]] == images

print("images=%d" % images)
print("episodes=%d" % episodes)
print("size=%s" % size)
print("pixel_sum=%d" % pixel_sum)
print("action_sum=%.6f" % action_sum)
print("commands=%d" % commands)
print("board=%s" % meta.get("cerebellum", {}).get("board", "?"))
