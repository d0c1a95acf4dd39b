"""Writing benchmark results: JSON, a Markdown table and a small PNG plot, each written atomically."""

from __future__ import annotations

import datetime
from pathlib import Path

from colorfuse.engine.atomic import write_atomic, write_json_atomic, write_text_atomic
from colorfuse.errors import ColorfuseError


def write_json(data: dict, path) -> Path:
    return write_json_atomic(data, path)


def write_text(text: str, path) -> Path:
    return write_text_atomic(text, path)


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
    saved = write_atomic(path, lambda temporary: fig.savefig(temporary, dpi=80, format="png"))
    plt.close(fig)
    return saved
