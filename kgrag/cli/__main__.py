"""``python -m kgrag.cli``: the ``kgrag`` command."""

from kgrag.cli import main

main()
