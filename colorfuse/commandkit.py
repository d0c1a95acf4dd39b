"""What a plugin's command (``register_commands``) can build on: the helpers the built-in commands use.

A stable import path for them, so a command need not reach into colorfuse's modules::

    from colorfuse import commandkit

    @click.command("count")
    @click.argument("inputs", nargs=-1)
    @commandkit.option_pairs
    def count(inputs, options):
        jobs = list(commandkit.iter_jobs(inputs))  # files of the declared types; missing ones carry .error
        ...

- :func:`iter_jobs` collects inputs (files, folders, globs) as ``Job`` s: ``source``, ``relative``,
  ``error`` (a missing input: report it, go on);
- :func:`file_types` and :func:`output_formats`: what the reader and writer plugins declare;
- :data:`option_pairs`: the ``--option KEY=VALUE`` flag, checked against the plugins' declarations
  (a click decorator; the command receives ``options``, a dict of converted values);
- :func:`colorize_collection` runs a colorizer over jobs with the batch engine's guarantees (atomic
  writes, one line per bad file) and returns its ``Summary``; :func:`print_summary` prints it as
  ``colorfuse colorize`` does, and :func:`exit_code` is the exit status it implies (1 when a file failed).
"""

from __future__ import annotations

import click

from colorfuse.commands.parameters import FiniteFloat, OutputFormatChoice, parse_plugin_options
from colorfuse.commands.shared import print_summary, summary_line
from colorfuse.engine.batch import Summary, colorize_collection
from colorfuse.engine.collection import Job, iter_jobs
from colorfuse.errors import OptionError
from colorfuse.plugins.filetypes import file_types, output_formats

__all__ = ["FiniteFloat", "Job", "OutputFormatChoice", "Summary", "colorize_collection", "exit_code", "file_types",
           "iter_jobs", "option_pairs", "output_formats", "parse_plugin_options", "print_summary", "summary_line"]


def _checked_options(ctx, param, pairs) -> dict:
    try:
        return parse_plugin_options(pairs)
    except OptionError as exc:
        raise click.UsageError(str(exc), ctx) from exc


option_pairs = click.option(
    "--option", "options", multiple=True, metavar="KEY=VALUE", callback=_checked_options,
    help="A plugin option (repeatable), checked against the declared ones: colorfuse plugins --options.")


def exit_code(summary: Summary) -> int:
    """The exit status of a run: 1 when any file failed or the run stopped early, else 0."""
    return 1 if summary.failed or summary.stopped else 0
