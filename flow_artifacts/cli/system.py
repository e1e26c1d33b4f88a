"""Commands about the installation: explain, plugins, stack show/validate, demo."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from ..errors import ConfigError
from ..redact import redact_url
from .output import emit_fields, emit_json, emit_table
from .state import State

pass_state = click.make_pass_decorator(State)


@click.command()
@click.argument("expression")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def explain(state: State, expression: str, as_json: bool) -> None:
    """Which materializer would save a value, and why.

    EXPRESSION is a dotted type name (pandas.DataFrame) or a Python expression ({"a": 1}).
    """
    from ..api import explain as explain_obj

    stack = state.stack
    value = _dotted_type(expression) or _evaluate(expression)
    explanation = explain_obj(value, stack=stack)  # a type: what its instances would get
    if as_json:
        error = explanation.error
        emit_json(
            {
                "type": explanation.type_name,
                "materializer": explanation.materializer_id,
                "reason": explanation.reason,
                "considered": explanation.considered,
                "error": None if error is None else str(error),
            }
        )
    else:
        click.echo(str(explanation))
    if explanation.error is not None or explanation.materializer is None:
        sys.exit(1)  # ambiguous, or nothing saves it: scripts must not read that as fine


def _dotted_type(text: str) -> type | None:
    module_name, _, attr = text.rpartition(".")
    if not module_name or not attr.isidentifier():
        return None
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError):
        return None
    return found if isinstance(found, type) else None


def _evaluate(expression: str) -> Any:
    """Evaluate the user's own expression, with pandas and numpy at hand as pd and np."""
    namespace: dict[str, Any] = {}
    for alias, module in (("pd", "pandas"), ("np", "numpy"), ("pa", "pyarrow")):
        try:
            namespace[alias] = importlib.import_module(module)
        except ImportError:
            pass
    try:
        return eval(expression, namespace)  # noqa: S307 - the caller's own input, in their shell
    except NameError as exc:
        raise ConfigError(
            f"cannot evaluate {expression!r}: {exc}; name a type by its full dotted path "
            "(e.g. sklearn.linear_model.LinearRegression) with its package installed"
        ) from exc
    except Exception as exc:
        raise ConfigError(f"cannot evaluate {expression!r}: {exc}") from exc


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_state
def plugins(state: State, as_json: bool) -> None:
    """Installed plugins, what they register, and the blocked ones."""
    host = state.stack.plugins
    registry = host.materializers
    rows: list[dict[str, Any]] = []
    for info in host.describe():
        owned = sorted(m.id for m in registry if registry.owner(m.id) == info.name)
        rows.append(
            {
                "name": info.name,
                "builtin": info.builtin,
                "blocked": info.blocked,
                "distribution": info.distribution,
                "version": info.version,
                "materializers": owned,
            }
        )
    if as_json:
        emit_json({"items": rows, "next_cursor": None, "total": len(rows)})
        return
    emit_table(
        ["plugin", "status", "distribution", "materializers"],
        [
            (
                r["name"],
                "blocked" if r["blocked"] else "builtin" if r["builtin"] else "installed",
                f"{r['distribution']} {r['version']}" if r["distribution"] else "",
                ", ".join(r["materializers"]),
            )
            for r in rows
        ],
    )


@click.group()
def stack() -> None:
    """Show or check stack configuration."""


@stack.command("show")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def stack_show(state: State, as_json: bool) -> None:
    """The active stack, with secrets masked."""
    s = state.stack
    fields = {
        "name": s.name,
        "source": s.source or "(embedded default)",
        "project": s.project,
        "store": s.scrub(redact_url(s.store.url)),
        "catalog": s.scrub(redact_url(s.catalog.url)),
        "path_template": s.store.template.source,
        "materializers": dict(s.overrides),
        "materializer_options": {mid: dict(o) for mid, o in s.materializer_options.items()},
        "allow_pickle": s.allow_pickle,
        "trusted_projects": list(s.trusted_projects),
    }
    emit_json(fields) if as_json else emit_fields(fields)


@stack.command("validate")
@click.argument("spec", required=False, metavar="[FILE[#NAME]]")
@pass_state
def stack_validate(state: State, spec: str | None) -> None:
    """Check a stack file (default: the active stack's) without opening its store."""
    from ..stack.file import read_stack_config

    target = spec or state.stack_spec or state.stack.source
    if target is None:
        click.echo("the embedded default stack has no file; nothing to validate")
        return
    path, _, name = target.partition("#")
    config = read_stack_config(path, name or None)
    click.echo(f"{path}: valid (stack {config.name!r})")


@click.command()
@pass_state
def demo(state: State) -> None:
    """Run the demo pipeline on the active stack and show what it stored."""
    from ..demo import main as run_demo
    from ..stack import use_stack

    with use_stack(state.stack):
        run_demo()
    click.echo(
        "\nnext: flow-artifacts ls quickstart, flow-artifacts lineage store://quickstart/report"
    )


COMMANDS = [explain, plugins, stack, demo]
