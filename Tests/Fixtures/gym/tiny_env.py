"""Tiny Gymnasium environments for the bridge's tests: a dot on a 40×30 gray image, moved by a Box velocity
(`CerebellumTiny-v0`) or by five Discrete actions (`CerebellumTinyDiscrete-v0`). Deterministic from the reset
seed, fast, no dependencies beyond gymnasium and numpy. `misbehave` makes the environment fail on purpose at
step `at`: "die" exits the host at once, "hang" sleeps for a minute, "raise" raises inside step."""
import os
import time

import gymnasium as gym
import numpy as np


class TinyDot(gym.Env):
    metadata = {"render_modes": ["rgb_array"]}
    width, height = 40, 30

    def __init__(self, discrete=False, misbehave=None, at=3, render_mode=None):
        self.discrete = discrete
        self.misbehave, self.at = misbehave, at
        self.render_mode = render_mode
        self.action_space = gym.spaces.Discrete(5) if discrete else gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = gym.spaces.Box(0, 255, (self.height, self.width, 1), np.uint8)
        self.pos = np.zeros(2)
        self.steps = 0

    def image(self):
        img = np.full((self.height, self.width, 1), 40, np.uint8)
        x, y = int(round(self.pos[0])), int(round(self.pos[1]))
        img[max(0, y - 1):y + 2, max(0, x - 1):x + 2, 0] = 230
        return img

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = self.np_random.uniform([5, 5], [self.width - 5, self.height - 5])
        self.steps = 0
        return self.image(), {}

    def step(self, action):
        self.steps += 1
        if self.misbehave and self.steps >= self.at:
            if self.misbehave == "die":
                os._exit(3)
            if self.misbehave == "hang":
                time.sleep(60)
            if self.misbehave == "raise":
                raise RuntimeError("the tiny environment failed on purpose")
        if self.discrete:
            move = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)][int(action)]
        else:
            move = np.clip(np.asarray(action, dtype=float), -1, 1)
        self.pos = np.clip(self.pos + np.asarray(move, dtype=float), [1, 1], [self.width - 2, self.height - 2])
        return self.image(), -0.01, False, False, {}

    def render(self):
        return np.repeat(self.image(), 3, axis=2)


gym.register("CerebellumTiny-v0", entry_point=TinyDot, max_episode_steps=40)
gym.register("CerebellumTinyDiscrete-v0", entry_point=TinyDot, kwargs={"discrete": True}, max_episode_steps=40)


def goal_right(env, seed, dx=6.0):
    """The goal: the start moved `dx` px right (a reset to a goal state, then its observation)."""
    u = env.unwrapped
    u.pos = np.clip(u.pos + [dx, 0], [1, 1], [u.width - 2, u.height - 2])
    return u.image()
