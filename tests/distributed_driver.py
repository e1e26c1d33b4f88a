"""A driver for the kill tests: runs a pipeline on a Dask cluster it connects to, says when a
step has finished and another is submitted, then waits for the run to end.

    python -m tests.distributed_driver <scheduler address> <stack folder>
"""

from __future__ import annotations

import sys

from distributed import Client

import flow_artifacts as fa

from . import distributed_steps as ds


def main(address: str, folder: str) -> None:
    stack = fa.Stack.local(folder, project="dist")
    with Client(address) as client:
        with fa.run(project="dist", stack=stack, executor=fa.DaskExecutor(client)) as run:
            part = ds.load_part(1)
            part.result()
            ds.naps(part, 2.0)
            print(f"running {run.id}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
