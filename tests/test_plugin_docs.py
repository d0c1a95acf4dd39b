"""Every hook is documented (docstring and README) and exercised by some test."""

import inspect
import re
from pathlib import Path

from colorfuse.plugins import hookspecs

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted(name for name, value in vars(hookspecs).items()
               if inspect.isfunction(value) and hasattr(value, "colorfuse_spec"))


def test_hooks_found():
    assert {"register_models", "read_image", "write_image", "postprocess_ab", "wrap_runner"} <= set(HOOKS)


def test_every_hook_has_a_docstring():
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert len(doc) > 40, f"hook {name} needs a docstring"


def test_every_hook_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Plugin hooks", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^#### `(\w+)\(", section, re.MULTILINE))
    assert documented == set(HOOKS), f"README hooks {sorted(documented)} != hookspecs {HOOKS}"


def test_every_hook_is_exercised_by_a_test():
    this = Path(__file__).name
    text = "\n".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py") if p.name != this)
    untested = [name for name in HOOKS if not re.search(rf"def {name}\(", text)]
    assert not untested, f"hooks without a test plugin implementing them: {untested}"
