"""engine/atomic.py: files written whole or not at all."""

import json
import os
import stat
from pathlib import Path

import pytest

from colorfuse.engine.atomic import write_atomic, write_json_atomic, write_text_atomic
from colorfuse.errors import ColorfuseError


def test_json_is_written_whole_with_sorted_keys_and_paths_as_text(tmp_path):
    target = tmp_path / "deep" / "report.json"
    write_json_atomic({"b": Path("x/y.jpg"), "a": 1}, target, sort_keys=True)
    assert target.read_text() == '{\n "a": 1,\n "b": "x/y.jpg"\n}\n'
    assert json.loads(target.read_text()) == {"a": 1, "b": "x/y.jpg"}


def test_the_file_gets_the_umask_mode_not_mkstemps_0600(tmp_path):
    umask = os.umask(0o022)
    try:
        path = write_text_atomic("hello", tmp_path / "a.txt")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044  # group and others may read it


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "run.json"
    write_text_atomic("old\n", target)

    def write(temporary):
        Path(temporary).write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, write)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_a_rewrite_replaces_the_runs_own_file(tmp_path):
    target = tmp_path / "cache.json"
    write_json_atomic({"n": 1}, target)
    write_json_atomic({"n": 2}, target)
    assert json.loads(target.read_text()) == {"n": 2}


def test_an_unwritable_folder_is_one_typed_error_naming_the_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ColorfuseError, match=r"file/out\.json: cannot write"):
        write_json_atomic({}, blocker / "out.json")
