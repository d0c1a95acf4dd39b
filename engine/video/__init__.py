"""Video colorization: ffmpeg pipes in and out, batched frames, temporal-consistency hooks.

Uses the ffmpeg binary of the ``imageio-ffmpeg`` wheel (the ``video`` extra); never a system ffmpeg.
"""
