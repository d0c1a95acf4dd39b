"""Colorizing a collection on a Ray cluster with Ray Data (the ``distributed`` extra).

The run is one streaming Ray Data pipeline::

    list (1 task) -> decode (tasks) -> colorize (actor pool, one Colorizer each) -> write (tasks)

Listing is a single zero-CPU task that walks the inputs lazily (``Inputs`` for local and NFS
paths, a folder-by-folder ``pyarrow.fs`` walk for URIs such as ``s3://``) and plans each file
with the single-machine run's ``planning.Planner``, so the driver never holds the file list and
files that ``--skip-existing`` skips are read only to check that their output is complete. Its rows stream out in small blocks (see ``LIST_BLOCK_BYTES``) that are cut
to ``batch_size`` rows, so decoding and inference start while listing goes on. Each actor loads
the model once (one onnxruntime session). Reading, layout, naming, formats, atomic writes and
error messages are those of the single-machine run; per-file failures become outcome rows.

Modules: :mod:`.cluster` (importing Ray, joining a cluster, sizing the actor pool),
:mod:`.listing` (lazy listing and planning, reading local or remote inputs) and :mod:`.pipeline`
(the Ray Data stages and :func:`colorize_on_ray`). None imports Ray at module level.
"""

from colorfuse.engine.distributed.cluster import (
    INSTALL_HINT,
    MIN_RAY,
    WorkerPlan,
    check_address,
    connect,
    import_ray,
    plan_workers,
)
from colorfuse.engine.distributed.pipeline import build_dataset, colorize_on_ray, write_failures

__all__ = ["INSTALL_HINT", "MIN_RAY", "WorkerPlan", "build_dataset", "check_address", "colorize_on_ray", "connect",
           "import_ray", "plan_workers", "write_failures"]
