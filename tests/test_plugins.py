"""Plugin hooks: each one exercised through a test plugin, entry-point discovery, error naming.

Covers the built-ins plugins/builtin/builtin_models.py, plugins/builtin/saturation.py and
plugins/builtin/chroma_upsample.py, and engine/timing.py.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from colorfuse.engine.colorizer import Colorizer
from colorfuse.errors import ImageReadError, PluginError
from colorfuse.engine.imagefiles import read_image, write_image_atomic
from colorfuse.plugins import hookimpl
from colorfuse.plugins.manager import get_plugin_manager


def test_register_models(register, model_path):
    class Models:
        @hookimpl
        def register_models(self, register):
            register("from-plugin", model_path)

    register(Models(), "models-plugin")
    assert Colorizer("from-plugin", device="cpu").model_path == model_path


def test_register_commands(register):
    import click

    from colorfuse.cli import _add_plugin_commands

    class Commands:
        @hookimpl
        def register_commands(self, cli):
            @cli.command("hello")
            def hello():
                click.echo("hello from a plugin")

    register(Commands(), "commands-plugin")
    group = click.Group()
    _add_plugin_commands(group)
    assert CliRunner().invoke(group, ["hello"]).output == "hello from a plugin\n"


def test_read_image_and_write_image(register, tmp_path):
    written = {}

    class FakeFormat:
        @hookimpl
        def read_image(self, path, options):
            return np.full((3, 5), 7, np.uint8) if path.endswith(".fake") else None

        @hookimpl
        def write_image(self, image, path, format, options):
            if format != "fake":
                return None
            written["shape"] = image.shape
            with open(path, "wb") as handle:
                handle.write(b"fake")
            return True

    register(FakeFormat(), "fake-format")
    assert read_image(tmp_path / "x.fake").shape == (3, 5)
    target = write_image_atomic(np.zeros((2, 2, 3), np.uint8), tmp_path / "out.fake", "fake")
    assert target.read_bytes() == b"fake" and written["shape"] == (2, 2, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["out.fake"]  # no temporary file left


def test_a_reader_plugin_always_gets_the_pixel_limit_in_force(register, tmp_path):
    from colorfuse.engine.imagefiles import memory_pixel_limit

    seen = []

    class Reader:
        @hookimpl
        def read_image(self, path, options):
            seen.append(options["max_pixels"])
            return np.zeros((2, 2), np.uint8)

    register(Reader(), "limit-reader")
    caller_options = {"saturation": 1.0}
    read_image(tmp_path / "a.pgmz", caller_options)
    read_image(tmp_path / "b.pgmz", {"max_pixels": 1234})
    assert seen == [memory_pixel_limit()[0], 1234]
    assert caller_options == {"saturation": 1.0}  # the caller's options are not written to


def test_processing_hooks_are_chained_in_order(register, model_path, photo):
    calls = []

    class Processing:
        @hookimpl
        def preprocess_image(self, image, options):
            calls.append("preprocess")
            return np.ascontiguousarray(image[:, ::-1])  # mirror the input

        @hookimpl
        def upsample_chroma(self, ab, small_l, full_l, options):
            calls.append("upsample")
            return np.zeros(full_l.shape + (2,), np.float32)  # replaces the built-in

        @hookimpl
        def postprocess_ab(self, lum, ab, options):
            calls.append("postprocess_ab")
            return ab + np.float32(options["shift"])

        @hookimpl
        def postprocess_image(self, image, options):
            calls.append("postprocess_image")
            return image[:, :, ::-1].copy()

    register(Processing(), "processing")
    result = Colorizer(model_path, device="cpu", options={"shift": 20.0}).colorize(photo)
    assert calls == ["preprocess", "upsample", "postprocess_ab", "postprocess_image"]
    # a = 20 everywhere reddens the picture; BGR swap in postprocess_image moves that to blue.
    assert result[:, :, 2].mean() > result[:, :, 0].mean()


def test_wrap_runner(register, model_path, photo):
    seen = []

    class Wrapper:
        @hookimpl
        def wrap_runner(self, runner, card, options):
            def wrapped(feeds):
                seen.append(sorted(feeds))
                return runner(feeds) * 0  # gray result proves the wrapper's output is used
            return wrapped

    register(Wrapper(), "wrapper")
    result = Colorizer(model_path, device="cpu").colorize(photo)
    assert seen == [["L"]]
    assert np.abs(result[:, :, 0].astype(int) - result[:, :, 1]).max() <= 1


def test_the_colorizer_times_the_model_without_writing_into_options(model_path, photo):
    """#22: the timing plugin wrote into ``options``; the colorizer counts model time itself, plugins wrapping too."""
    colorizer = Colorizer(model_path, device="cpu")
    colorizer.colorize_batch([photo, photo])
    assert colorizer.timing.calls == 1 and colorizer.timing.model_s > 0
    assert "timing" not in colorizer.options and "timing" not in colorizer.settings.options


def test_saturation_and_guided_upsampling(model_path, photo):
    plain = Colorizer(model_path, device="cpu", max_side=16).colorize(photo).astype(int)
    gray = Colorizer(model_path, device="cpu", max_side=16, options={"saturation": 0.0}).colorize(photo).astype(int)
    assert np.abs(gray[:, :, 0] - gray[:, :, 1]).max() <= 1 and plain.std() > gray.std()
    bilinear = Colorizer(model_path, device="cpu", max_side=16, options={"chroma_upsample": "bilinear"})
    assert not np.array_equal(bilinear.colorize(photo), plain)
    with pytest.raises(PluginError, match="chroma_upsample"):
        Colorizer(model_path, device="cpu", max_side=16, options={"chroma_upsample": "magic"}).colorize(photo)


def test_a_failing_plugin_is_named(register, model_path, photo):
    class Broken:
        @hookimpl
        def postprocess_image(self, image, options):
            raise RuntimeError("boom")

    register(Broken(), "broken-plugin")
    with pytest.raises(PluginError, match="'broken-plugin' failed in hook 'postprocess_image'.*boom"):
        Colorizer(model_path, device="cpu").colorize(photo)


def _fake_distribution(tmp_path, body):
    (tmp_path / "demo_plugin.py").write_text(textwrap.dedent(body))
    info = tmp_path / "demo_plugin-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-plugin\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text("[colorfuse]\ndemo = demo_plugin\n")
    return tmp_path


def _run_cli(args, pythonpath, **environment):
    env = {"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin", **environment}
    return subprocess.run([sys.executable, "-m", "colorfuse", *args], capture_output=True, text=True, env=env)


def test_entry_point_plugins_are_loaded_and_listed(tmp_path):
    path = _fake_distribution(tmp_path, """
        from colorfuse.plugins import hookimpl

        @hookimpl
        def postprocess_image(image, options):
            return None
    """)
    result = _run_cli(["plugins", "--json"], path)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["demo"]["hooks"] == ["postprocess_image"] and rows["demo"]["version"] == "1.2.3"
    assert rows["colorfuse.plugins.image_io"]["builtin"] and rows["colorfuse.plugins.image_io"]["version"] == "0.1.0"


def test_entry_point_plugin_that_fails_to_load_is_named_once_and_the_rest_works(tmp_path):
    path = _fake_distribution(tmp_path, "raise ImportError('missing dependency xyz')\n")
    result = _run_cli(["plugins"], path)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "demo" in line]
    assert warnings == ["Warning: plugin 'demo' could not be loaded and is left out: "
                        "ImportError: missing dependency xyz"]
    assert "demo  (entry point 1.2.3, broken: ImportError: missing dependency xyz)" in result.stdout
    assert "colorfuse.plugins.image_io  (built-in)" in result.stdout


def test_entry_point_plugin_that_fails_to_register_is_broken(tmp_path):
    path = _fake_distribution(tmp_path, """
        from colorfuse.plugins import hookimpl

        @hookimpl
        def no_such_hook(image):
            return None
    """)
    rows = {row["name"]: row for row in json.loads(_run_cli(["plugins", "--json"], path).stdout)}
    assert rows["demo"]["status"] == "broken" and "no_such_hook" in rows["demo"]["error"]
    assert rows["demo"]["version"] == "1.2.3"  # the distribution's, broken or not


def test_errors_about_what_a_plugin_could_supply_name_the_broken_plugins(tmp_path):
    path = _fake_distribution(tmp_path, "raise ImportError('needs libfoo')")
    for args, what in ((["models", "info", "fancy-model"], "unknown model 'fancy-model'"),
                       (["colorize", str(tmp_path), "--out", str(tmp_path / "o"), "--option", "fancy=1"],
                        "no plugin declares this option"),
                       (["fancy-command"], "No such command 'fancy-command'")):
        result = _run_cli(args, path)
        assert result.returncode != 0
        line = next(line for line in result.stderr.splitlines() if what in line)
        assert "plugin 'demo' (ImportError: needs libfoo) could not be loaded, and may be what supplies it" in line, args
    (tmp_path / "none").mkdir()
    assert "could not be loaded" not in _run_cli(["models", "info", "fancy-model"], tmp_path / "none").stderr


_QUIET_PLUGIN = """
    from colorfuse.plugins import hookimpl

    @hookimpl
    def postprocess_image(image, options):
        return None
"""


def test_disable_plugin_option_and_environment(tmp_path):
    path = _fake_distribution(tmp_path, _QUIET_PLUGIN)
    result = _run_cli(["--disable-plugin", "demo", "plugins", "--json"], path)
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["demo"]["status"] == "disabled" and rows["demo"]["hooks"] == [] and rows["demo"]["version"] == "1.2.3"
    assert rows["colorfuse.plugins.saturation"]["status"] == "loaded"
    result = _run_cli(["plugins", "--json"], path, COLORFUSE_DISABLE_PLUGINS="demo, saturation")
    status = {row["name"]: row["status"] for row in json.loads(result.stdout)}
    assert status["demo"] == status["colorfuse.plugins.saturation"] == "disabled"
    assert status["colorfuse.plugins.image_io"] == "loaded"


def test_runner_errors_name_the_plugin_that_wrapped_the_runner(register, model_path, photo):
    class Faulty:
        @hookimpl
        def wrap_runner(self, runner, card, options):
            def wrapped(feeds):
                raise ValueError("bad feed")
            return wrapped

    class Passing:
        @hookimpl(tryfirst=True)
        def wrap_runner(self, runner, card, options):
            return lambda feeds: runner(feeds)

    register(Faulty(), "faulty-wrapper")
    register(Passing(), "passing-wrapper")
    with pytest.raises(PluginError, match="'faulty-wrapper' failed in hook 'wrap_runner'.*bad feed"):
        Colorizer(model_path, device="cpu").colorize(photo)


def test_errors_of_the_model_itself_are_not_blamed_on_a_wrapper(register, model_path, photo, monkeypatch):
    class Passing:
        @hookimpl
        def wrap_runner(self, runner, card, options):
            return lambda feeds: runner(feeds)

    register(Passing(), "passing-wrapper")
    colorizer = Colorizer(model_path, device="cpu")
    monkeypatch.setattr(colorizer.model_session, "session", None)  # the engine's own runner now fails
    with pytest.raises(AttributeError):
        colorizer.colorize(photo)


def test_per_file_hook_errors_name_the_file_and_the_plugin(register, tmp_path):
    class BadReader:
        @hookimpl(tryfirst=True)
        def read_image(self, path, options):
            raise OSError("truncated header")

    register(BadReader(), "bad-reader")
    source = tmp_path / "a.jpg"
    source.write_bytes(b"x")
    with pytest.raises(ImageReadError, match=r"a\.jpg: plugin 'bad-reader' failed in hook 'read_image'.*truncated"):
        read_image(source)


def test_a_plugin_command_does_not_replace_an_existing_one(register):
    import click

    from colorfuse.cli import ColorfuseGroup

    class Commands:
        @hookimpl
        def register_commands(self, cli):
            @cli.command("plugins")
            def impostor():
                click.echo("impostor")

            @cli.command("hello")
            def hello():
                click.echo("hello")

    register(Commands(), "clashing-commands")
    group = ColorfuseGroup()
    group.add_command(click.Command("plugins", callback=lambda: click.echo("built-in")))
    assert CliRunner().invoke(group, ["plugins"]).output == (
        "Warning: plugin 'clashing-commands' registers command 'plugins', which already exists; "
        "the existing one is kept\nbuilt-in\n")
    assert CliRunner().invoke(group, ["hello"]).output == "hello\n"


def test_a_plugin_model_does_not_replace_a_built_in_one(register, model_path):
    from colorfuse.errors import PluginWarning
    from colorfuse.engine.models import default_model_name, registered_models, shipped_models

    name = default_model_name()

    class Models:
        @hookimpl(tryfirst=True)
        def register_models(self, register):
            register(name, model_path)

    register(Models(), "clashing-models")
    with pytest.warns(PluginWarning, match=f"plugin 'clashing-models' registers model '{name}', which plugin "
                                           "'colorfuse.plugins.builtin_models' already registers"):
        assert registered_models()[name] == shipped_models()[name]


@pytest.mark.parametrize("marker", [{"wrapper": True}, {"hookwrapper": True}])
def test_pluggy_wrappers_are_refused_at_registration(marker):
    import pluggy

    class Wrapping:
        @hookimpl(**marker)
        def postprocess_image(self, image, options):
            yield

    manager = get_plugin_manager()
    with pytest.raises(pluggy.PluginValidationError, match="plugin 'wrapping': hook 'postprocess_image' is a pluggy"):
        manager.register(Wrapping(), name="wrapping")
    assert manager.get_plugin("wrapping") is None


def test_an_entry_point_plugin_with_a_wrapper_is_broken(tmp_path):
    path = _fake_distribution(tmp_path, """
        from colorfuse.plugins import hookimpl

        @hookimpl(wrapper=True)
        def postprocess_image(image, options):
            return (yield)
    """)
    rows = {row["name"]: row for row in json.loads(_run_cli(["plugins", "--json"], path).stdout)}
    assert rows["demo"]["status"] == "broken" and "pluggy wrapper" in rows["demo"]["error"]


def test_call_order_is_tryfirst_then_last_registered_then_trylast(register):
    from colorfuse.plugins.manager import call_chain

    def recorder(label, **marker):
        class Recorder:
            @hookimpl(**marker)
            def postprocess_image(self, image, options):
                return image + [label]
        return Recorder()

    register(recorder("last", trylast=True), "order-last")
    register(recorder("early"), "order-early")
    register(recorder("later"), "order-later")
    register(recorder("first", tryfirst=True), "order-first")
    assert call_chain("postprocess_image", "image", image=[], options={}) == ["first", "later", "early", "last"]
