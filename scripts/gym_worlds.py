"""Adapters for the shipped Gymnasium boards (boards/gym-*.yaml), in the host's process.

Goal recipes: `goal: {function: "gym_worlds:NAME", …}` in a board's `simulation.gymnasium`. The host calls
NAME(env, seed, **the other keys) right after the episode's reset (and warm-up); the returned observation is
the goal image, and the truth values are read from the environment as it is then. The host resets the
environment with the same seed afterwards, so the episode starts where the reset puts it.

`imports: [gym_worlds]` also makes pyglet (MiniWorld's renderer) render headless, through EGL: no display
or X server is needed."""
import numpy as np

try:
    import pyglet

    pyglet.options["headless"] = True
except ImportError:
    pass


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


def miniworld_other_room(env, seed):
    """MiniWorld: the agent put down at a random free pose in a room other than the start's (drawn from the
    environment's own generator, so the seed decides it), and the first-person view from there."""
    u = env.unwrapped
    start = u.agent.pos
    others = [r for r in u.rooms if not r.point_inside(start)] or list(u.rooms)
    room = others[int(u.np_random.integers(len(others)))]
    u.place_agent(room=room)
    return u.render_obs()
