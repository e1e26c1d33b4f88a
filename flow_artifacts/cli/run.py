"""`run show`: one run with its steps, as the web page's run view shows it."""

from __future__ import annotations

import click

from .browse import named
from .output import emit_fields, emit_json, emit_table, safe
from .state import State

pass_state = click.make_pass_decorator(State)


@click.group()
def run() -> None:
    """Look at one run."""


@run.command("show")
@click.argument("run_ref", metavar="[PROJECT/]RUN_ID")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def show(state: State, run_ref: str, as_json: bool) -> None:
    """A run's status and duration, then each step: status, duration, cache hit, inputs and
    outputs as project/name@version, and the error and traceback of each failed step."""
    from ..compare import find_run
    from ..ui.views import run_detail

    stack = state.stack
    detail = run_detail(stack, find_run(stack, run_ref))
    if as_json:
        emit_json(detail)
        return
    emit_fields(
        {
            key: detail[key]
            for key in ("project", "run_id", "name", "pipeline", "status", "started", "ended")
        }
        | {"duration": _seconds(detail["duration_s"]), "cache hits": detail["cache_hits"]}
        | ({"error": detail["error"]} if detail["error"] else {})
    )
    click.echo("")
    emit_table(
        ["step", "status", "duration", "cache", "inputs", "outputs"],
        [
            (
                s["step"],
                s["status"],
                _seconds(s["duration_s"]),
                "hit" if s["cached"] else "",
                ", ".join(named(a) for a in s["inputs"]),
                ", ".join(named(a) for a in s["outputs"]),
            )
            for s in detail["steps"]
        ],
        empty="no steps recorded",
    )
    for s in detail["steps"]:
        if s["error"]:
            click.echo(f"\nstep {safe(s['step'])} {safe(s['status'])}:")
            click.echo("\n".join(f"  {safe(line)}".rstrip() for line in s["error"].splitlines()))


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f} s"


COMMANDS = [run]
