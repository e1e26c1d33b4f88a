"""`python -m flow_artifacts` runs the command line."""

from .cli import main

main()
