"""#13.13: the README's Python example runs verbatim, its licence statements match the files, and its
examples that need the project's ../shared data say so."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _sections() -> dict[str, str]:
    return {part.split("\n", 1)[0].strip(): part for part in README.split("\n## ")[1:]}


def test_python_example_runs_verbatim_with_the_default_model():
    block = re.search(r"```python\n(.*?)```", _sections()["Python API"], re.DOTALL).group(1)
    done = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    from colorfuse.engine.models import default_model_name

    assert done.stdout.startswith(default_model_name() + " ")


def test_licence_file_matches_pyproject_and_the_models_licence_is_stated():
    licence = re.search(r'^license = \{ text = "([^"]+)" \}', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert licence == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    statement = _sections()["Licence"]
    assert "MIT" in statement and "research-only" in statement and "SOURCES.md" in statement


def test_examples_that_need_shared_data_say_so():
    note = _sections()["Command line"].split("\n\n")[1]
    assert "need" in note and "`../shared/...`" in note
    for title, text in _sections().items():
        code = re.findall(r"```.*?```", text, re.DOTALL) + re.findall(r"`colorfuse [^`]*`", text)
        if any("../shared" in snippet for snippet in code):
            assert title in note, f"section {title!r} has examples that need ../shared, and the note misses it"


def test_set_up_works_from_a_clone():
    """#21: every install line installs from the checkout, the quick start says how to get colorfuse on PATH,
    and the default CPU install (the demo's) brings OpenVINO where it has wheels."""
    lines = re.findall(r"^\s*(?:.*&& )?pip install (.*)$", README, re.M)
    assert lines and all(re.match(r"(-U )?-e '\.\[[a-z,]+\]' --config-settings editable_mode=strict", line)
                         for line in lines), lines
    assert "colorfuse[" not in README
    assert "source .venv-demo/bin/activate" in _sections()["Quick start"]
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -q -e '.[cpu]' --config-settings editable_mode=strict" in makefile
    assert "source $(DEMO_VENV)/bin/activate" in makefile
    cpu = re.search(r"^cpu = \[(.*?)\]$", (ROOT / "pyproject.toml").read_text(), re.M | re.S).group(1)
    assert '"onnxruntime>=1.17"' in cpu and "openvino>=2024.0; (sys_platform == 'linux'" in cpu
