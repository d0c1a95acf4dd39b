"""``colorfuse serve``: run the web page on this machine, safe by default (see :mod:`.security`)."""

from __future__ import annotations

import errno
import ipaddress
import secrets
import socket
import tempfile
import webbrowser
from pathlib import Path

import click

INSTALL = "colorfuse serve needs the web extra: pip install -e '.[web]' in the clone"
MEMORY_SHARE = 0.5  # of the available memory, for the decoded photos the page keeps


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound and listening on ``host:port`` (port 0: a free one), or a one-line error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        why = "is in use (choose another with --port, or 0 for any free one)" if exc.errno == errno.EADDRINUSE \
            else f"cannot be opened ({exc.strerror or exc})"
        raise click.ClickException(f"{host}:{port} {why}") from None
    sock.listen(128)
    return sock


def page_url(host: str, port: int, token: str | None) -> str:
    """The URL to print: a wildcard bind is shown as 127.0.0.1, an IPv6 address in brackets."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


SHUTDOWN_GRACE_S = 5  # on Ctrl-C or SIGTERM, requests under way (a stalled upload too) get this long


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def memory_budget() -> int:
    from colorfuse.engine.machine import available_memory

    available = available_memory()
    return int(available * MEMORY_SHARE) if available else 4 << 30


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback lets other machines reach the page (token still needed).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port (0: any free one).")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default browser.")
@click.option("--no-token", is_flag=True,
              help="Serve without the token: anyone who can reach the port can use it. Not recommended.")
@click.option("--max-upload-mb", type=click.FloatRange(min=0.001), default=200, show_default=True,
              help="Largest file accepted.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=None,
              help="Refuse images whose header claims more pixels than this "
                   "(default: as many as the available memory holds, at 12 bytes per pixel).")
@click.option("--model", "models", multiple=True, metavar="NAME_OR_PATH",
              help="Offer only this model (a registered name or an .onnx file; repeat for more). Default: every "
                   "registered model.")
def command(host, port, open_browser, no_token, max_upload_mb, max_pixels, models):
    """A local web page to colorize photos (and preview videos) with any model, look and style."""
    try:
        import uvicorn

        from colorfuse.plugins.web.app import create_app
    except ImportError:
        raise click.ClickException(INSTALL) from None
    from colorfuse.commands.colorize import signals_interrupt
    from colorfuse.plugins.web.library import Library
    from colorfuse.plugins.web.worker import Worker

    from colorfuse.engine.errors import ColorfuseError
    from colorfuse.engine.models import resolve_model

    for spec in models:
        try:
            resolve_model(spec)
        except ColorfuseError as exc:
            raise click.ClickException(str(exc)) from None
    sock = listening_socket(host, port)
    port = sock.getsockname()[1]
    token = None if no_token else secrets.token_urlsafe(24)
    folder = Path(tempfile.mkdtemp(prefix="colorfuse-serve-"))
    previous_tempdir, tempfile.tempdir = tempfile.tempdir, str(folder / "tmp")  # ffmpeg probes and the like too
    (folder / "tmp").mkdir()
    worker = Worker()
    library = Library(folder, int(max_upload_mb * 1e6), max_pixels, memory_budget())
    try:
        app = create_app(library, worker, token, port, list(models) or None)
        url = page_url(host, port, token)
        if no_token:
            click.secho("WARNING: --no-token: anyone who can reach this port can use this server, upload files to it "
                        "and run models on this machine.", fg="red", bold=True, err=True)
        if not is_loopback(host):
            click.secho(f"note: listening on {host}: other machines can reach this page.", fg="yellow", err=True)
        click.echo(f"colorfuse serve: open {url}")
        click.echo(f"  files stay in {folder} (deleted when the server stops); Ctrl-C stops it", err=True)
        if open_browser:
            webbrowser.open(url)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                               timeout_graceful_shutdown=SHUTDOWN_GRACE_S))
        with signals_interrupt():  # uvicorn re-raises the signal that stopped it: the cleanup below still runs
            try:
                server.run(sockets=[sock])
            except KeyboardInterrupt:
                pass
    finally:
        sock.close()
        worker.close()
        library.close()
        tempfile.tempdir = previous_tempdir
