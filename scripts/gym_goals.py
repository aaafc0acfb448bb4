"""Goal recipes for the shipped Gymnasium boards: `goal: {function: "gym_goals:NAME", …}` in a board's
`simulation.gymnasium`. The host calls NAME(env, seed, **the other keys) right after the episode's reset (and
warm-up), and the returned observation is the goal image; the truth values are read from the environment as
it is then. The host resets the environment with the same seed afterwards, so the episode starts where the
reset puts it."""
import numpy as np


def carracing_track_ahead(env, seed, tiles=40):
    """CarRacing: the car put down on the track `tiles` tiles (3.5 units each) ahead of the start, facing along
    it, once the camera's zoom has settled: the view of a track position ahead."""
    from gymnasium.envs.box2d.car_dynamics import Car

    u = env.unwrapped
    _, angle, x, y = u.track[int(tiles) % len(u.track)]
    u.car.destroy()
    u.car = Car(u.world, angle, x, y)
    u.t = max(u.t, 1.0)
    obs, *_ = env.step(np.zeros(3, dtype=np.float32))
    return obs
