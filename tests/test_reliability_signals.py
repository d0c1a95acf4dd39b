"""#23.5: a stop signal at any moment of a run (while the command starts, model loading, just after the last
write) ends in the summary and 128 + N; a signal inherited as ignored (nohup) stays ignored. Each test failed
before its fix."""

import os
import signal
import subprocess
import sys
import time

import pytest
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


def test_a_signal_whose_raise_was_lost_stops_colorize_at_the_next_batch(tmp_path, model_path, monkeypatch):
    """Python drops what a signal handler raises inside a fork callback or a finalizer: the signal is
    recorded but the run went on to the end. Each batch now checks for it."""
    import colorfuse.engine.colorizer as colorizer
    import colorfuse.engine.signals as signals

    for name in "abcd":
        _save(tmp_path / "in" / f"{name}.png", _photo())
    predict = colorizer.Colorizer.predict

    def signal_recorded_but_not_raised(self, items):
        signals._in_charge[0].received = signals._in_charge[0].received or signal.SIGTERM
        return predict(self, items)

    monkeypatch.setattr(colorizer.Colorizer, "predict", signal_recorded_but_not_raised)
    result = run(tmp_path / "in", "--out", tmp_path / "out", "--model", model_path, "--batch-size", "1")
    assert result.exit_code == 128 + signal.SIGTERM, result.output
    assert "interrupted by SIGTERM" in result.output
    written = sorted(p.name for p in (tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else []
    assert written in ([], ["a.png"]) and f"done {len(written)}, skipped 0, failed 0" in result.output


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


@pytest.fixture
def sigterm_fails_the_test():
    """SIGTERM that colorfuse does not take raises in the test instead of killing pytest."""
    def fail(signum, frame):
        raise RuntimeError("SIGTERM reached the test's own handler")

    previous = signal.signal(signal.SIGTERM, fail)
    yield
    signal.signal(signal.SIGTERM, previous)


def _signal_first(monkeypatch, target, name, signum, then_call=True):
    """``target.name`` sends ``signum`` to this process, then (``then_call``) does its work."""
    real = getattr(target, name)

    def signalling(*args, **kwargs):
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler runs within this sleep
        return real(*args, **kwargs) if then_call else None

    monkeypatch.setattr(target, name, signalling)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("moment", ["plugins load", "engine imports", "ray imports", "video's engine imports"])
def test_signal_while_the_command_starts(tmp_path, model_path, monkeypatch, sigterm_fails_the_test, moment, signum):
    """A stop signal while the plugins loaded and the options were parsed, or the engine imported (half a second;
    Ray's import two more), gave "Aborted!" and exit 1, or killed the run without its summary."""
    import colorfuse.cli as cli
    import colorfuse.commands.colorize as colorize
    import colorfuse.commands.video as video
    import colorfuse.engine.distributed as distributed

    _save(tmp_path / "in" / "a.png", _photo())
    if moment == "plugins load":
        monkeypatch.setattr(cli.cli, "plugins_loaded", False)
        _signal_first(monkeypatch, cli, "_add_plugin_commands", signum, then_call=False)  # the commands are there
    target = {"engine imports": colorize, "ray imports": distributed, "video's engine imports": video}.get(moment)
    if target is not None:
        _signal_first(monkeypatch, target, "import_ray" if target is distributed else "run_settings", signum)
    flags = ["--ray"] if moment == "ray imports" else []
    if target is video:
        result = CliRunner().invoke(cli.cli, ["video", str(tmp_path / "in"), "--frames", str(tmp_path / "out"),
                                              "--fps", "10", "--model", str(model_path)], catch_exceptions=False)
    else:
        result = run(tmp_path / "in", "--out", tmp_path / "out", "--model", model_path, *flags)
    name = signal.Signals(signum).name
    assert result.exit_code == 128 + signum and "Aborted!" not in result.output, result.output
    words = f"interrupted by {name}: no partial output" if target is video else f"interrupted by {name}: the 0 outputs"
    assert words in result.output and (target is video or "done 0, skipped 0, failed 0" in result.output)
    assert not (tmp_path / "out").exists()


def test_a_signal_that_comes_back_as_another_error_is_still_the_signal(tmp_path, model_path, monkeypatch):
    """Ctrl-C inside `import onnxruntime` came back as its ImportError: "onnxruntime is not installed", exit 1."""
    import colorfuse.engine.colorizer as colorizer
    from colorfuse.errors import ColorfuseError

    def importing(self, *args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:  # as a C extension's initialization turns it into an ImportError
            raise ColorfuseError("onnxruntime is not installed") from None

    monkeypatch.setattr(colorizer.Colorizer, "__init__", importing)
    _save(tmp_path / "in" / "a.png", _photo())
    result = run(tmp_path / "in", "--out", tmp_path / "out", "--model", model_path)
    assert result.exit_code == 130 and "interrupted by SIGINT" in result.output, result.output
    assert "not installed" not in result.output
