"""Measuring colorization quality: the figures (``quality``, ``video_metrics``) and the evaluations the
``eval*`` commands, training and the variants' checks run (``photos``, ``front``, ``hints``, ``video``).

Above the engine (it runs models through :class:`~colorfuse.engine.colorizer.Colorizer`), below
training and the commands; never torch. The runtime (``colorfuse.engine``) never imports it.
"""
