"""``colorfuse serve``: run the web page on this machine, safe by default (see :mod:`.security`)."""

from __future__ import annotations

import errno
import ipaddress
import os
import secrets
import shutil
import socket
import tempfile
import webbrowser

import click

INSTALL = "colorfuse serve needs the web extra: pip install -e '.[web]' in the clone"
FOLDER_PREFIX = "colorfuse-serve-"  # then HOST-PID-RANDOM, in the system's temporary folder
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
        import uvicorn  # noqa: F401

        import colorfuse.plugins.builtin.web.app  # noqa: F401 (starlette)
    except ImportError:
        raise click.ClickException(INSTALL) from None
    from colorfuse.engine.signals import signals_interrupt
    from colorfuse.errors import ColorfuseError
    from colorfuse.engine.models import resolve_model

    for spec in models:
        try:
            resolve_model(spec)
        except ColorfuseError as exc:
            raise click.ClickException(str(exc)) from None
    sock = listening_socket(host, port)
    with signals_interrupt() as stop:  # from here a stop signal ends in the cleanup (uvicorn re-raises its own)
        try:
            serve(sock, host, token=None if no_token else secrets.token_urlsafe(24), open_browser=open_browser,
                  library_args=(int(max_upload_mb * 1e6), max_pixels, memory_budget()), models=list(models) or None)
        except KeyboardInterrupt:
            pass
        finally:
            stop.disarm()  # a signal during the cleanup is recorded, never cutting it short
            sock.close()


def serve(sock: socket.socket, host: str, token: str | None, open_browser: bool, library_args: tuple, models) -> None:
    """Run the server on ``sock`` until it stops, in a working folder deleted at the end (and, should this
    process be killed, by the next server: :func:`remove_stale_folders`)."""
    import uvicorn

    from colorfuse.engine.imagefiles import owned_folder, remove_stale_folders
    from colorfuse.plugins.builtin.web.app import create_app
    from colorfuse.plugins.builtin.web.library import Library
    from colorfuse.plugins.builtin.web.logs import background_logging
    from colorfuse.plugins.builtin.web.worker import Worker

    port = sock.getsockname()[1]
    remove_stale_folders(tempfile.gettempdir(), FOLDER_PREFIX)
    folder, owner_lock = owned_folder(tempfile.gettempdir(), FOLDER_PREFIX)
    previous_tempdir, tempfile.tempdir = tempfile.tempdir, str(folder / "tmp")  # ffmpeg probes and the like too
    worker = None
    try:
        (folder / "tmp").mkdir()
        worker = Worker()
        app = create_app(Library(folder, *library_args), worker, token, port, models)
        url = page_url(host, port, token)
        if token is None:
            click.secho("WARNING: --no-token: anyone who can reach this port can use this server, upload files to it "
                        "and run models on this machine.", fg="red", bold=True, err=True)
        if not is_loopback(host):
            click.secho(f"note: listening on {host}: other machines can reach this page.", fg="yellow", err=True)
        click.echo(f"colorfuse serve: open {url}")
        click.echo(f"  files stay in {folder} (deleted when the server stops); Ctrl-C stops it", err=True)
        if open_browser:
            webbrowser.open(url)
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning", access_log=False,
                                               lifespan="off", timeout_graceful_shutdown=SHUTDOWN_GRACE_S))
        with background_logging():
            server.run(sockets=[sock])
    finally:
        if worker is not None:
            worker.close()
        shutil.rmtree(folder, ignore_errors=True)  # the uploads and results (the library's folder) with it
        os.close(owner_lock)
        tempfile.tempdir = previous_tempdir
