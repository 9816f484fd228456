"""``python -m quarterdeck.cli``: the same as the ``quarterdeck`` command."""

from quarterdeck.cli import main

main()
