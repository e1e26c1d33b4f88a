"""A small Kedro project written by the tests, with the files `kedro new` would leave."""

from __future__ import annotations

from pathlib import Path

PACKAGE = "fa_kedro_demo"

NODES = '''
import os
import time
import uuid
from pathlib import Path

import pandas as pd


def make_raw(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": list(range(n))})


def clean(raw: pd.DataFrame, factor: int) -> pd.DataFrame:
    return raw.assign(y=raw["x"] * factor)


def report(clean: pd.DataFrame) -> dict:
    return {"rows": len(clean), "total": int(clean["y"].sum())}


def summarize(raw: pd.DataFrame) -> dict:
    return {"rows": len(raw)}


def compare(first: pd.DataFrame, second: pd.DataFrame) -> dict:
    return {"first": len(first), "second": len(second)}


def seed() -> dict:
    return {"seed": 42}


def split(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return raw[raw["x"] % 2 == 0], raw[raw["x"] % 2 == 1]


def compare_all(raws: dict) -> dict:
    return {str(k): len(v) for k, v in raws.items()}


def explode(clean: pd.DataFrame) -> pd.DataFrame:
    raise ValueError("cannot explode with password=hunter2hunter2")


def rendezvous(group: str, count: int) -> None:
    """Waits until `count` nodes reached `group` (a folder under FA_KEDRO_MEETING), wherever
    they run: those nodes surely run at the same time, so in different worker processes."""
    meeting = Path(os.environ["FA_KEDRO_MEETING"]) / group
    meeting.mkdir(parents=True, exist_ok=True)
    (meeting / uuid.uuid4().hex).touch()
    for _ in range(1200):
        if len(list(meeting.iterdir())) >= count:
            return
        time.sleep(0.05)
    raise TimeoutError(f"{group}: the other node never came")


def clean_together(raw: pd.DataFrame, factor: int) -> pd.DataFrame:
    rendezvous("fan", 2)
    return clean(raw, factor)


def summarize_together(raw: pd.DataFrame) -> dict:
    rendezvous("fan", 2)
    return summarize(raw)


def meet_the_other_run(raw: pd.DataFrame, n: int) -> int:
    rendezvous("runs", 2)
    return n


def summarize_after(raw: pd.DataFrame, met: int) -> dict:
    return summarize(raw)


def interrupt(raw: pd.DataFrame) -> dict:
    raise KeyboardInterrupt  # Ctrl-C in a notebook, mid-node: Kedro calls no closing hook


def die(raw: pd.DataFrame) -> dict:
    os._exit(3)  # the worker process is killed mid-node


def another_run(raw: pd.DataFrame) -> int:
    """Starts a whole second Kedro run while this one is between two nodes: the overlap (with
    `--async` when FA_KEDRO_ASYNC is set)."""
    from kedro.framework.session import KedroSession
    from kedro.runner import SequentialRunner

    runner = SequentialRunner(is_async=bool(os.environ.get("FA_KEDRO_ASYNC")))
    with KedroSession.create(os.environ["FA_KEDRO_PROJECT"], runtime_params={"n": 7}) as session:
        session.run(pipeline_name="produce", runner=runner)
    return 1
'''

REGISTRY = """
from kedro.pipeline import Pipeline, node, pipeline

from .nodes import (
    another_run, clean, clean_together, compare, compare_all, die, explode, interrupt, make_raw,
    meet_the_other_run, report, seed, split, summarize, summarize_after, summarize_together,
)


def register_pipelines() -> dict[str, Pipeline]:
    produce = pipeline([node(make_raw, "params:n", "raw", name="make_raw")])
    main = produce + pipeline(
        [
            node(clean, ["raw", "params:factor"], "clean", name="clean"),
            node(report, "clean", "report", name="report"),
        ]
    )
    overlap = produce + pipeline(
        [
            node(another_run, "raw", "marker", name="another_run"),
            node(lambda raw, marker: clean(raw, 1), ["raw", "marker"], "clean", name="clean"),
        ]
    )
    return {
        "__default__": main,
        "produce": produce,
        "overlap": overlap,
        "consume": pipeline([node(summarize, "raw", "summary", name="summarize")]),
        "pinned": pipeline([node(summarize, "raw_prod", "summary", name="summarize")]),
        "versions": pipeline([node(compare, ["raw__v1", "raw__v2"], "comparison", name="compare")]),
        "all_versions": pipeline([node(compare_all, "raw_history", "comparison", name="compare")]),
        "failing": main + pipeline([node(explode, "clean", "exploded", name="explode")]),
        "fan": produce + pipeline(  # clean and summarize at once: in two worker processes
            [
                node(clean_together, ["raw", "params:factor"], "clean", name="clean"),
                node(summarize_together, "raw", "summary", name="summarize"),
            ]
        ),
        "fan_failing": produce + pipeline(
            [
                node(explode, "raw", "exploded", name="explode"),
                node(summarize, "raw", "summary", name="summarize"),
            ]
        ),
        "unsaveable": produce + pipeline(  # a table for a JSON entry: the save fails
            [node(clean, ["raw", "params:factor"], "report", name="clean")]
        ),
        "dying": produce + pipeline([node(die, "raw", "summary", name="die")]),
        "interrupted": produce + pipeline([node(interrupt, "raw", "summary", name="interrupt")]),
        "shapes": main + pipeline(  # a node without inputs, one with two outputs (a factory's)
            [
                node(seed, None, "seed", name="seed"),
                node(split, "raw", ["evens_part", "odds_part"], name="split"),
                node(compare, ["evens_part", "odds_part"], "comparison", name="compare"),
            ]
        ),
        "parts": produce + pipeline(  # a node with two outputs (a factory's), and their reader
            [
                node(split, "raw", ["evens_part", "odds_part"], name="split"),
                node(compare, ["evens_part", "odds_part"], "comparison", name="compare"),
            ]
        ),
        "meeting": produce + pipeline(  # two runs of it both saved raw before either loads it
            [
                node(meet_the_other_run, ["raw", "params:n"], "met", name="meet"),
                node(summarize_after, ["raw", "met"], "summary", name="summarize"),
            ]
        ),
    }
"""

CATALOG = """
raw:
  type: flow_artifacts_kedro.ArtifactDataset
clean:
  type: flow_artifacts_kedro.ArtifactDataset
  labels: {layer: primary}
report:
  type: flow_artifacts_kedro.ArtifactDataset
  materializer: builtins.json
summary:
  type: flow_artifacts_kedro.ArtifactDataset
comparison:
  type: flow_artifacts_kedro.ArtifactDataset
exploded:
  type: flow_artifacts_kedro.ArtifactDataset
raw_prod:
  type: flow_artifacts_kedro.ArtifactDataset
  name: raw
  load: {tag: prod}
raw_history:
  type: flow_artifacts_kedro.ArtifactDataset
  name: raw
  load: {versions: [1, prod]}
seed:
  type: flow_artifacts_kedro.ArtifactDataset
"{dataset}__v{version}":
  type: flow_artifacts_kedro.ArtifactDataset
  name: "{dataset}"
  load: {version: "{version}"}
"{part}_part":
  type: flow_artifacts_kedro.ArtifactDataset
"""


def write_project(root: Path) -> Path:
    """The project's files under `root`; returns the project folder."""
    src = root / "src" / PACKAGE
    src.mkdir(parents=True)
    (root / "conf" / "base").mkdir(parents=True)
    (root / "conf" / "local").mkdir()
    (root / "pyproject.toml").write_text(
        f'[tool.kedro]\npackage_name = "{PACKAGE}"\nproject_name = "demo"\n'
        'kedro_init_version = "1.0.0"\nsource_dir = "src"\n'
    )
    (src / "__init__.py").write_text("")
    (src / "settings.py").write_text("")
    (src / "nodes.py").write_text(NODES)
    (src / "pipeline_registry.py").write_text(REGISTRY)
    (root / "conf" / "base" / "catalog.yml").write_text(CATALOG)
    (root / "conf" / "base" / "parameters.yml").write_text("n: 3\nfactor: 10\n")
    return root
