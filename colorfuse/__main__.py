"""``python -m colorfuse`` runs the CLI."""

from colorfuse.cli import main

main()
