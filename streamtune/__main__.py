"""``python -m streamtune`` runs the CLI."""

from streamtune.cli import main

main()
