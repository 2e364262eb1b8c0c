"""Allow ``python -m evaltool``."""

from evaltool.cli import main

main()
