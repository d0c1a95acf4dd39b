"""Video colorization: ffmpeg pipes in and out, batched frames, temporal-consistency hooks.

Uses the ffmpeg binary of the ``imageio-ffmpeg`` wheel (the ``video`` extra); never a system ffmpeg.
"""

SHOT_THRESHOLD = 0.35  # the shot-cut detector's histogram distance (:mod:`.shots`), for every entry point
