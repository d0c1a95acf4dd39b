"""colorfuse.commandkit (#22 item 9): a plugin command built only on the public helpers."""

from __future__ import annotations

import click
import numpy as np
from click.testing import CliRunner
from PIL import Image

from colorfuse import commandkit
from colorfuse.cli import _add_plugin_commands
from colorfuse.engine.colorizer import Colorizer
from colorfuse.plugins import hookimpl


def _group_with_command(register, model_path):
    class Commands:
        @hookimpl
        def register_commands(self, cli):
            @cli.command("quick")
            @click.argument("inputs", nargs=-1)
            @click.option("--out", required=True)
            @commandkit.option_pairs
            def quick(inputs, out, options):
                """Colorize INPUTS into OUT with the test model."""
                jobs = list(commandkit.iter_jobs(inputs, out_dir=out))
                click.echo(f"{len(jobs)} inputs; readable types {sorted(commandkit.file_types().readable)[:2]}")
                colorizer = Colorizer(model_path, device="cpu", options=options)
                summary = commandkit.colorize_collection(colorizer, jobs, out)
                commandkit.print_summary(summary, 0.0)
                raise SystemExit(commandkit.exit_code(summary))

    register(Commands(), "quick-command")
    group = click.Group()
    _add_plugin_commands(group)
    return group


def test_a_plugin_command_built_on_the_kit_colorizes_and_fails_bad_files(register, model_path, tmp_path):
    (tmp_path / "in").mkdir()
    Image.fromarray(np.full((20, 30), 100, np.uint8)).save(tmp_path / "in" / "a.png")
    (tmp_path / "in" / "b.png").write_bytes(b"not a png")
    (tmp_path / "in" / "notes.txt").write_text("not an image type: left out of the scan")
    group = _group_with_command(register, model_path)
    result = CliRunner().invoke(group, ["quick", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                                        "--option", "saturation=1.2"])
    assert result.exit_code == 1, result.output
    assert "2 inputs" in result.output and "done 1, skipped 0, failed 1" in result.output
    assert "b.png" in result.output and (tmp_path / "out" / "a.png").exists()


def test_the_kit_option_flag_checks_declarations(register, model_path, tmp_path):
    group = _group_with_command(register, model_path)
    result = CliRunner().invoke(group, ["quick", str(tmp_path), "--out", str(tmp_path / "out"),
                                        "--option", "saturaton=1.2"])
    assert result.exit_code != 0 and "saturation" in result.output  # the nearest declared name
    assert not (tmp_path / "out").exists()
