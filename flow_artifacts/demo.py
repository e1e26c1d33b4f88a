"""The demo: a small training pipeline on the active stack (by default ./.flow_artifacts).

It writes a CSV of house prices, cleans it, splits it, fits a least-squares model, evaluates it,
then prints what the run stored and where the report came from. Run it twice: the second time
`fit` is a cache hit, because its code and its input's content did not change.

Run by `make demo` (examples/quickstart.py) and by `flow-artifacts demo`; read it as an example of
steps, pipelines, caching and lineage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import flow_artifacts as fa

DATA = Path(".flow_artifacts") / "quickstart" / "houses.csv"
FEATURES = ["area", "rooms", "age"]


def write_houses_csv(path: Path, rows: int = 200) -> None:
    """Made-up house prices, with the missing values and typos real data has."""
    rng = np.random.default_rng(7)
    area = rng.uniform(30, 200, rows).round(1)
    rooms = rng.integers(1, 7, rows)
    age = rng.integers(0, 80, rows)
    price = 1_500 * area + 8_000 * rooms - 900 * age + rng.normal(0, 10_000, rows)
    frame = pd.DataFrame({"area": area, "rooms": rooms, "age": age, "price": price.round(-2)})
    frame.loc[::17, "area"] = np.nan
    frame.loc[5, "price"] = -1.0
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


@dataclass
class LinearModel:
    """Ordinary least squares; no framework, so it is stored with cloudpickle."""

    coefficients: np.ndarray
    features: list[str]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.c_[np.ones(len(frame)), frame[self.features]] @ self.coefficients


@fa.step
def load_raw(path: str) -> pd.DataFrame:
    return pd.read_csv(path)


@fa.step
def clean(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.dropna().query("price > 0").reset_index(drop=True)


@fa.step(outputs=("train", "test"))
def split(frame: pd.DataFrame, test_fraction: float = 0.25, seed: int = 0):
    test = frame.sample(frac=test_fraction, random_state=seed)
    return frame.drop(test.index), test


@fa.step(outputs="model", cache=True)
def fit(train: pd.DataFrame) -> LinearModel:
    design = np.c_[np.ones(len(train)), train[FEATURES]]
    coefficients, *_ = np.linalg.lstsq(design, train["price"], rcond=None)
    return LinearModel(coefficients, FEATURES)


@fa.step(outputs="report")
def evaluate(model: LinearModel, test: pd.DataFrame) -> dict:
    error = model.predict(test) - test["price"].to_numpy()
    spread = test["price"] - test["price"].mean()
    return {
        "rows": len(test),
        "rmse": round(float(np.sqrt(np.mean(error**2))), 2),
        "r2": round(float(1 - (error**2).sum() / (spread**2).sum()), 4),
    }


@fa.pipeline(project="quickstart")
def training(path: str) -> dict:
    train, test = split(clean(load_raw(path)))
    return evaluate(fit(train), test)


def describe(graph: fa.LineageGraph, node: str) -> str:
    if node in graph.artifacts:
        m = graph.artifacts[node]
        return f"{m.uri}  ({m.materializer})"
    s = graph.step_runs[node]
    return f"step {s.step}" + ("  (cached)" if s.cached else "")


def print_tree(graph: fa.LineageGraph, node: str, prefix: str = "", seen: set | None = None):
    """The lineage as a tree: what made each node, down to the first step; shared parts once."""
    seen = set() if seen is None else seen
    sources = graph.upstream_of(node)
    for i, source in enumerate(sources):
        last = i == len(sources) - 1
        again = "  (see above)" if source in seen and graph.upstream_of(source) else ""
        print(f"{prefix}{'└── ' if last else '├── '}{describe(graph, source)}{again}")
        if not again:
            seen.add(source)
            print_tree(graph, source, prefix + ("    " if last else "│   "), seen)


def main() -> None:
    write_houses_csv(DATA)
    run = training(str(DATA))
    print(f"run {run.id}: {run.status} in {run.duration:.2f}s, report {run.result}\n")
    print(f"{'step':10} {'status':10} {'cached':7} seconds")
    for step_run in run.steps:
        print(
            f"{step_run.name:10} {step_run.status:10} {str(step_run.cached):7} "
            f"{step_run.duration:.3f}"
        )
    print(f"\n{'artifact':32} {'materializer':16} {'bytes':>7}")
    for artifact in run.artifacts.values():
        print(f"{artifact.uri:32} {artifact.materializer:16} {artifact.size:>7}")
    graph = run.artifacts["report"].lineage()
    print("\nwhere the report came from:\n" + describe(graph, graph.root))
    print_tree(graph, graph.root)
    print("\nas Mermaid:\n" + graph.to_mermaid())


if __name__ == "__main__":
    main()
