"""Quickstart: run the demo pipeline on the embedded default stack and show what it stored.

The pipeline itself, with its steps, lives in `flow_artifacts/demo.py` so that the
`flow-artifacts demo` command runs the same code; read it there.

    .venv/bin/python examples/quickstart.py
"""

from flow_artifacts.demo import main

if __name__ == "__main__":
    main()
