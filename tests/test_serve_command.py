"""`colorfuse serve` as a command: a built-in plugin's command, its messages, a real server's start and stop.

Covers plugins/builtin/web/command.py (`colorfuse serve`).
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from colorfuse.cli import cli
from colorfuse.plugins.builtin.web.worker import Worker


class Served:
    """``colorfuse serve ARGS`` in a subprocess, with the URL it printed."""

    def __init__(self, *args, env=None, stderr=subprocess.PIPE):
        self.process = subprocess.Popen([sys.executable, "-m", "colorfuse", "serve", "--port", "0", *args],
                                        stdout=subprocess.PIPE, stderr=stderr, text=True,
                                        env=None if env is None else {**os.environ, **env})
        self.first_line = self.process.stdout.readline()
        found = re.search(r"open (http://\S+)", self.first_line)
        assert found, self.first_line + self.process.stderr.read()
        self.url = found.group(1)
        self.base = self.url.split("?")[0].rstrip("/")

    def get(self, path, headers=None):
        try:
            with urllib.request.urlopen(urllib.request.Request(self.base + path, headers=headers or {}), timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def stop(self, signum=signal.SIGTERM):
        self.process.send_signal(signum)
        self.process.wait(timeout=30)
        return self.process.stderr.read()


def test_serve_is_registered_by_the_web_plugin_through_register_commands():
    rows = json.loads(CliRunner().invoke(cli, ["plugins", "--json"]).output)
    web = next(row for row in rows if row["name"] == "colorfuse.plugins.web")
    assert web["builtin"] and web["hooks"] == ["register_commands"]
    assert "serve" in CliRunner().invoke(cli, ["--help"]).output
    help_text = CliRunner().invoke(cli, ["serve", "--help"]).output
    for option in ("--host", "--port", "--open", "--no-token", "--max-upload-mb", "--max-pixels"):
        assert option in help_text


def test_without_the_web_extra_serve_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn now raises ImportError
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert result.output == "Error: colorfuse serve needs the web extra: pip install -e '.[web]' in the clone\n"


def test_a_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = CliRunner().invoke(cli, ["serve", "--port", str(taken.getsockname()[1])])
    assert result.exit_code == 1 and "is in use (choose another with --port" in result.output


def test_real_server_needs_its_token_and_deletes_its_folder_at_exit():
    served = Served()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{32}", served.url)
        assert served.get("/api/config")[0] == 403
        status, body = served.get("/api/config?" + served.url.split("?")[1])
        assert status == 200 and json.loads(body)["models"]
        assert served.get("/api/config", {"Host": "attacker.example"})[0] == 403
    finally:
        stderr = served.stop()
    folder = re.search(r"files stay in (\S+)", stderr).group(1)
    assert os.path.basename(folder).startswith("colorfuse-serve-") and not os.path.exists(folder)
    assert served.process.returncode == 0


def test_no_token_is_loud_and_still_bound_to_loopback():
    served = Served("--no-token")
    try:
        assert "?token=" not in served.url and served.url.startswith("http://127.0.0.1:")
        assert served.get("/api/config")[0] == 200
    finally:
        stderr = served.stop()
    assert "WARNING: --no-token: anyone who can reach this port can use this server" in stderr


def test_worker_runs_tasks_one_at_a_time_on_one_thread():
    import threading
    import time

    worker, log = Worker(), []

    def task(number):
        log.append(("start", number, threading.get_ident()))
        time.sleep(0.01)
        log.append(("end", number, threading.get_ident()))
        return number

    futures = [worker.submit(task, number) for number in range(4)]
    assert [future.result(timeout=10) for future in futures] == [0, 1, 2, 3]
    worker.close()
    assert [entry[:2] for entry in log] == [(kind, n) for n in range(4) for kind in ("start", "end")]
    assert len({entry[2] for entry in log}) == 1 and log[0][2] != threading.get_ident()
    failing = Worker()
    with pytest.raises(ZeroDivisionError):
        failing.submit(lambda: 1 / 0).result(timeout=10)
    failing.close()
