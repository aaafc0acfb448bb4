#!/usr/bin/env python3
"""Cerebellum's Gymnasium host: runs one Gymnasium environment for a `simulation: {world: gymnasium}` board.

`cerebellum` starts it as a child process with a connected stream socket on file descriptor 3 and speaks the
protocol of docs/gym-bridge.md (version 1): every message is a little-endian u32 payload length, then the
payload, whose first byte is its type. The host answers HELLO with READY (the spaces), RESET and STEP with
OBSERVATION, and anything it cannot do with ERROR (one line, also printed on standard error). It exits when the
socket closes or on CLOSE. It never decides anything: the controller maps its channels to the action space.
"""
import importlib
import json
import os
import socket
import struct
import sys

VERSION = 1
HELLO, RESET, STEP, CLOSE = 0x01, 0x02, 0x03, 0x04
READY, OBSERVATION, ERROR = 0x81, 0x82, 0xFF
TERMINATED, TRUNCATED, GOAL = 1, 2, 4
MAX_MESSAGE = 64 << 20


class HostError(Exception):
    """A failure the controller is told about in one line."""


def recv_exact(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def send(sock, kind, body=b""):
    sock.sendall(struct.pack("<IB", len(body) + 1, kind) + body)


def send_error(sock, message):
    print(f"gym host: {message}", file=sys.stderr, flush=True)
    send(sock, ERROR, message.encode("utf-8", "replace")[:4000])


def resolve(root, path):
    """The value at an attribute path such as `unwrapped.car.hull.position[1]` or `unwrapped.agent.pos[2]`."""
    value = root
    for part in path.split("."):
        name, _, index = part.partition("[")
        if name:
            value = getattr(value, name)
        while index:
            i, _, rest = index.partition("]")
            value = value[int(i)]
            index = rest.lstrip("[")
    return float(value)


class Host:
    def __init__(self, config):
        try:
            import numpy as np
            import gymnasium as gym
        except ImportError as e:
            raise HostError(f"{e.name} is not installed: run `make deps-gym` (pip install gymnasium==1.4.0 …)")
        self.np, self.gym = np, gym
        for d in config.get("python_path", []):
            sys.path.insert(0, d)
        for module in config.get("imports", []):
            try:
                importlib.import_module(module)
            except ImportError as e:
                raise HostError(f"cannot import {module} ({e}): is it installed? (`make deps-gym` installs the shipped worlds' packages)")
        self.source = config.get("observation", "observation")
        kwargs = dict(config.get("kwargs", {}))
        if self.source == "render":
            kwargs.setdefault("render_mode", "rgb_array")
        try:
            self.env = gym.make(config["env"], **kwargs)
        except Exception as e:
            hint = ""
            if isinstance(e, (ImportError, gym.error.DependencyNotInstalled)):
                hint = " (`make deps-gym` installs the shipped worlds' packages)"
            raise HostError(f"gymnasium.make({config['env']!r}) failed: {type(e).__name__}: {e}{hint}")
        self.key = config.get("observation_key")
        self.truth = list(config.get("truth", []))
        self.warmup = config.get("warmup") or {}
        self.goal = config.get("goal") or {}
        self.goal_function = None
        if "function" in self.goal:
            module, _, name = self.goal["function"].partition(":")
            try:
                self.goal_function = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError) as e:
                raise HostError(f"goal function {self.goal['function']}: {e}")

    def ready(self):
        """READY's body after the version: the action space, the step limit, the truth count, a description."""
        space = self.env.action_space
        if isinstance(space, self.gym.spaces.Discrete):
            body = struct.pack("<BHq", 1, int(space.n), int(space.start))
        elif isinstance(space, self.gym.spaces.Box) and len(space.shape) == 1:
            n = int(space.shape[0])
            low = [float(v) for v in space.low]
            high = [float(v) for v in space.high]
            body = struct.pack(f"<BH{n}d{n}d", 0, n, *low, *high)
        else:
            raise HostError(f"the action space {space} is neither a vector Box nor Discrete")
        spec = self.env.spec
        steps = int(spec.max_episode_steps or 0) if spec else 0
        text = f"{spec.id if spec else '?'} on gymnasium {self.gym.__version__}"
        return body + struct.pack("<IB", steps, len(self.truth)) + text.encode()

    def image(self, obs):
        np = self.np
        if self.source == "render":
            obs = self.env.render()
        elif self.key is not None:
            obs = obs[self.key]
        img = np.asarray(obs)
        if img.dtype != np.uint8:
            if np.issubdtype(img.dtype, np.floating) and img.size and float(img.max()) <= 1.0:
                img = img * 255.0
            img = np.clip(img, 0, 255).astype(np.uint8)
        if img.ndim == 2:
            img = img[:, :, None]
        if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
            raise HostError(f"the observation is {img.shape}, not an H×W×C image (C 1, 3 or 4); set observation: render")
        return np.ascontiguousarray(img[:, :, :3] if img.shape[2] == 4 else img)

    def observation(self, obs, reward=0.0, flags=0):
        img = self.image(obs)
        values = []
        for path in self.truth:
            try:
                values.append(resolve(self.env, path))
            except Exception as e:
                raise HostError(f"truth {path}: {type(e).__name__}: {e}")
        h, w, c = img.shape
        head = struct.pack("<BdHHBB", flags, float(reward), h, w, c, len(values))
        return head + struct.pack(f"<{len(values)}d", *values) + img.tobytes()

    def hold(self, obs, recipe):
        """Applies `recipe`'s action for its steps (a warm-up or the built-in goal recipe)."""
        steps = int(recipe.get("steps", 0))
        if steps <= 0:
            return obs
        action = self.action(recipe.get("action"))
        for _ in range(steps):
            obs, _, terminated, truncated, _ = self.env.step(action)
            if terminated or truncated:
                break
        return obs

    def action(self, values):
        space = self.env.action_space
        if values is None:
            if isinstance(space, self.gym.spaces.Box):
                return self.np.clip(self.np.zeros(space.shape, dtype=space.dtype), space.low, space.high)
            return int(space.start)
        if isinstance(space, self.gym.spaces.Discrete):
            return int(values)
        return self.np.asarray(values, dtype=space.dtype)

    def reset(self, seed, want_goal):
        replies = []
        if want_goal:
            obs, _ = self.env.reset(seed=seed)
            obs = self.hold(obs, self.warmup)
            if self.goal_function is not None:
                args = {k: v for k, v in self.goal.items() if k != "function"}
                obs = self.goal_function(self.env, seed, **args)
            else:
                obs = self.hold(obs, self.goal)
            replies.append(self.observation(obs, flags=GOAL))
        obs, _ = self.env.reset(seed=seed)
        obs = self.hold(obs, self.warmup)
        replies.append(self.observation(obs))
        return replies

    def step(self, body):
        kind = body[0]
        space = self.env.action_space
        if kind == 1:
            (value,) = struct.unpack_from("<q", body, 1)
            action = int(value)
        else:
            (n,) = struct.unpack_from("<H", body, 1)
            action = self.np.frombuffer(body, dtype="<f4", count=n, offset=3).astype(space.dtype)
        obs, reward, terminated, truncated, _ = self.env.step(action)
        flags = (TERMINATED if terminated else 0) | (TRUNCATED if truncated else 0)
        return self.observation(obs, reward, flags)


def serve(sock):
    host = None
    while True:
        head = recv_exact(sock, 4)
        if head is None:
            return 0
        (length,) = struct.unpack("<I", head)
        if length < 1 or length > MAX_MESSAGE:
            send_error(sock, f"message length {length} out of range")
            return 2
        payload = recv_exact(sock, length)
        if payload is None:
            return 0
        kind, body = payload[0], payload[1:]
        try:
            if kind == HELLO:
                (version,) = struct.unpack_from("<H", body)
                if version != VERSION:
                    raise HostError(f"protocol version {version}; this host speaks {VERSION}")
                host = Host(json.loads(body[2:].decode("utf-8")))
                send(sock, READY, struct.pack("<H", VERSION) + host.ready())
            elif kind == CLOSE:
                return 0
            elif host is None:
                raise HostError("RESET or STEP before HELLO")
            elif kind == RESET:
                seed, flags = struct.unpack_from("<QB", body)
                for reply in host.reset(seed % (1 << 63), bool(flags & 1)):
                    send(sock, OBSERVATION, reply)
            elif kind == STEP:
                send(sock, OBSERVATION, host.step(body))
            else:
                raise HostError(f"unknown message type {kind}")
        except HostError as e:
            send_error(sock, str(e))
            return 1
        except Exception as e:  # the environment's own failure: the controller latches a fault
            send_error(sock, f"{type(e).__name__}: {e}")
            return 1


def main():
    # The controller's standard output is its own (reports, JSON): whatever an environment prints goes to stderr.
    os.dup2(2, 1)
    fd = int(os.environ.get("CEREBELLUM_GYM_FD", "3"))
    sock = socket.socket(fileno=fd)
    try:
        return serve(sock)
    except (BrokenPipeError, ConnectionResetError):
        return 0
    finally:
        sock.close()


if __name__ == "__main__":
    sys.exit(main())
