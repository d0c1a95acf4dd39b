"""Writing benchmark results: JSON, a Markdown table and a small PNG plot, each written atomically."""

from __future__ import annotations

import datetime
import json
import os
import tempfile
from pathlib import Path

from colorfuse.errors import ColorfuseError


def _atomic(path: Path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def write_json(data: dict, path) -> Path:
    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, default=str)
            handle.write("\n")

    return _atomic(path, write)


def write_text(text: str, path) -> Path:
    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)

    return _atomic(path, write)


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A GitHub Markdown table; None cells print as n/a."""
    def cell(value):
        return "n/a" if value is None else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def machine_line(machine: dict) -> str:
    """One line naming the machine (the load is reported next to each measurement)."""
    gpus = ", ".join(f"{g['name']} (driver {g['driver']})" for g in machine.get("gpus", [])) or "no GPU"
    return (f"{machine['cpu']}, {machine['physical_cores']} physical cores ({machine['logical_cpus']} logical), "
            f"{machine.get('memory_gib')} GiB; {gpus}; onnxruntime {machine['onnxruntime']} "
            f"({', '.join(machine['onnxruntime_providers'])}); torch {machine.get('torch') or 'not installed'}")


def timestamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def figure(width: float = 6.0, height: float = 3.6, columns: int = 1):
    """A matplotlib figure and its axes (``columns`` side by side) on the Agg backend (no display)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ColorfuseError(f"plots need matplotlib: pip install -e '.[eval]' in the clone ({exc})") from exc
    return plt.subplots(1, columns, figsize=(width, height))


def save_figure(fig, path) -> Path:
    """Save as a small PNG (80 dpi) and close the figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    saved = _atomic(path, lambda temporary: fig.savefig(temporary, dpi=80, format="png"))
    plt.close(fig)
    return saved
