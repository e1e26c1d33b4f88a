"""The `flow-artifacts` command line (also `python -m flow_artifacts`)."""

from .main import main

__all__ = ["main"]
