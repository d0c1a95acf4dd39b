"""``colorfuse cluster``: Ray cluster mode (the ``distributed`` extra).

``colorfuse cluster info [--ray ADDRESS]`` shows what a ``colorize --ray`` run would use there (the
``colorize --ray`` branch itself is colorfuse/commands/ray_colorize.py).
"""

from __future__ import annotations

import click

from colorfuse.engine.session import DEVICES


@click.group("cluster")
def command():
    """Ray cluster mode: `colorfuse colorize INPUTS --out DIR --ray [ADDRESS]` (needs the distributed extra)."""


@command.command("info")
@click.option("--ray", "address", default="local", show_default=True,
              help="local (start one here), auto (the cluster this node belongs to), or ray://HOST:PORT.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--ray-workers", "workers", type=int, default=None, help="Colorize workers (default: what fits).")
@click.option("--ray-threads", "threads", type=int, default=1, show_default=True,
              help="onnxruntime threads per worker on CPU nodes.")
def info(address, device, workers, threads):
    """Show the cluster's nodes and resources, and the colorize workers a run would start."""
    from colorfuse.engine.distributed import check_address, connect, plan_workers

    with connect(check_address(address)) as ray:
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        resources = ray.cluster_resources()
        click.echo(f"ray {ray.__version__}: {len(nodes)} node(s), {resources.get('CPU', 0):g} CPU, "
                   f"{resources.get('GPU', 0):g} GPU")
        for node in nodes:
            have = node.get("Resources", {})
            click.echo(f"  {node.get('NodeManagerAddress')}: {have.get('CPU', 0):g} CPU, {have.get('GPU', 0):g} GPU")
        click.echo(f"colorize --ray would start {plan_workers(resources, device, workers, threads).describe()}")
