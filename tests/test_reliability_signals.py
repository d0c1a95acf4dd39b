"""#23.5: a stop signal at any moment of a run (model loading, just after the last write) ends in the
summary and 128 + N; a signal inherited as ignored (nohup) stays ignored. Each test failed before its fix."""

import os
import signal
import subprocess
import sys
import time

from click.testing import CliRunner

from colorfuse.cli import cli
from tests.test_cli_colorize import _photo, _save, run
from tests.test_cli_reliability import SLOW_WRITER


def _signal_during_model_loading(monkeypatch, signum):
    import colorfuse.engine.colorizer as colorizer

    loading = colorizer.Colorizer.__init__

    def slow_load(self, *args, **kwargs):
        os.kill(os.getpid(), signum)  # arrives while the model loads
        loading(self, *args, **kwargs)

    monkeypatch.setattr(colorizer.Colorizer, "__init__", slow_load)


def test_signal_during_model_loading_gives_the_summary_and_128_plus_n(tmp_path, model_path, monkeypatch):
    _save(tmp_path / "in" / "a.png", _photo())
    _signal_during_model_loading(monkeypatch, signal.SIGTERM)
    result = run(tmp_path / "in", "--out", tmp_path / "out", "--model", model_path)
    assert result.exit_code == 128 + signal.SIGTERM, result.output
    assert "done 0, skipped 0, failed 0" in result.output and "interrupted by SIGTERM" in result.output
    assert "Aborted!" not in result.output


def test_signal_just_after_the_last_write(tmp_path, model_path, monkeypatch):
    import colorfuse.commands.colorize as colorize

    _save(tmp_path / "in" / "a.png", _photo())
    summary_line = colorize.print_summary

    def signal_first(*args):
        os.kill(os.getpid(), signal.SIGHUP)  # the run is over; the summary is not printed yet
        summary_line(*args)

    monkeypatch.setattr(colorize, "print_summary", signal_first)
    previous = signal.signal(signal.SIGHUP, signal.SIG_DFL)  # not ignored, whatever an earlier test left
    try:
        result = run(tmp_path / "in", "--out", tmp_path / "out", "--model", model_path)
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert result.exit_code == 128 + signal.SIGHUP, result.output
    assert "done 1, skipped 0, failed 0" in result.output and "interrupted by SIGHUP" in result.output


def test_ctrl_c_during_video_model_loading(tmp_path, model_path, monkeypatch):
    for index in range(3):
        _save(tmp_path / "frames" / f"{index:03d}.png", _photo())
    _signal_during_model_loading(monkeypatch, signal.SIGINT)
    result = CliRunner().invoke(cli, ["video", str(tmp_path / "frames"), "--frames", str(tmp_path / "out"),
                                      "--fps", "10", "--model", str(model_path), "--quiet"], catch_exceptions=False)
    assert result.exit_code == 128 + signal.SIGINT, result.output
    assert "interrupted by SIGINT" in result.output and "Aborted!" not in result.output


def test_nohup_keeps_protecting_the_run(tmp_path, model_path):
    """colorfuse replaced an inherited ignored SIGHUP: nohup could not protect a run."""
    for index in range(8):
        _save(tmp_path / "in" / f"{index}.png", _photo(24, 16))
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, "colorize", str(tmp_path / "in"), "--out", str(out),
                                "--model", str(model_path), "--quiet", "--workers", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    deadline = time.monotonic() + 60
    while not (out.is_dir() and any(out.iterdir())):
        assert process.poll() is None and time.monotonic() < deadline, "no write ever started"
        time.sleep(0.01)
    process.send_signal(signal.SIGHUP)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "done 8, skipped 0, failed 0" in stdout
