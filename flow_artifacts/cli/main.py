"""The command group: global options, stack resolution, and how errors reach the terminal.

Errors are one line on stderr plus a hint, exit code 1; usage errors exit 2 (click's rule);
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from ..errors import (
    ArtifactExists,
    ArtifactInUse,
    ArtifactNotFound,
    CatalogError,
    FlowArtifactsError,
    IntegrityError,
    StoreError,
)
from .output import error
from .state import State

STACK_HINT = "check the stack with `flow-artifacts stack validate`"
"""The hint for any error met while reading the stack; other errors say what to fix themselves."""
HINTS: list[tuple[type[Exception], str]] = [
    (IntegrityError, "run `flow-artifacts verify --all`; restore or delete the damaged artifact"),
    (ArtifactNotFound, "list what exists with `flow-artifacts ls`"),
    (ArtifactExists, "artifacts are written once; use a new run id or name"),
    (ArtifactInUse, "delete the dependents first, or pass --force"),
    (CatalogError, "check the catalog URL in the stack (`flow-artifacts stack show`)"),
    (StoreError, "check the store URL and credentials (`flow-artifacts stack show`)"),
]


COMMAND_MODULES = {
    "browse": ("ls", "show", "versions", "runs", "describe"),
    "lineage": ("lineage",),
    "read": ("cat", "get"),
    "compare": ("diff",),
    "run": ("run",),
    "curate": ("tag", "untag", "rm", "gc", "verify", "reindex", "trust"),
    "edit": ("upload", "label", "update"),
    "system": ("explain", "plugins", "stack", "demo"),
    "completion": ("completion",),
    "ui": ("ui",),
}
"""Which module defines each command: a command's module is imported only when it runs (or
`--help` lists them all), so `flow-artifacts ls` does not pay for the web page or `diff`."""
MODULE_OF = {name: module for module, names in COMMAND_MODULES.items() for name in names}


class FlowArtifactsGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(MODULE_OF)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in MODULE_OF:
            module = importlib.import_module(f"{__package__}.{MODULE_OF[cmd_name]}")
            for command in module.COMMANDS:
                _global_options(command)
                self.add_command(command)
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FlowArtifactsError as exc:
            if _debug(ctx):
                raise
            error(_scrub(ctx, str(exc)), _hint(ctx, exc))
            sys.exit(1)
        except KeyboardInterrupt:
            error("interrupted")
            sys.exit(130)
        except BrokenPipeError:
            _quiet_stdout()
            sys.exit(1)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as exc:  # a bug or an unexpected failure: still one line, no traceback
            if _debug(ctx):
                raise
            error(_scrub(ctx, f"{type(exc).__name__}: {exc}"), "run again with --debug for details")
            sys.exit(1)


def _hint(ctx: click.Context, exc: FlowArtifactsError) -> str | None:
    state = ctx.find_object(State)
    if exc.hint is not None:
        return exc.hint or None
    if state is not None and state.stack_failed:
        return STACK_HINT
    return next((hint for cls, hint in HINTS if isinstance(exc, cls)), None)


def _debug(ctx: click.Context) -> bool:
    state = ctx.find_object(State)
    return bool(state and state.debug)


def _scrub(ctx: click.Context, message: str) -> str:
    from ..redact import scrub

    state = ctx.find_object(State)
    stack = state._stack if state else None
    return stack.scrub(message) if stack is not None else scrub(message)


@click.group(cls=FlowArtifactsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--stack",
    "stack_spec",
    metavar="FILE[#NAME]",
    help="Stack file (and stack name) to use; default: the active stack.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="flow-artifacts")
@click.pass_context
def cli(ctx: click.Context, stack_spec: str | None, debug: bool) -> None:
    """Find, read, curate and check the artifacts of a flow_artifacts stack."""
    ctx.obj = State(stack_spec, debug)


def _late_stack(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(State).stack_spec = value


def _late_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(State).debug = True


def _global_options(command: click.Command) -> None:
    """Accept the group's options after the command too (`flow-artifacts ls --stack x.yaml`),
    as users type them; hidden from the command's help, which points to the group's."""
    names = {opt for param in command.params for opt in getattr(param, "opts", [])}
    if "--stack" not in names:
        command.params.append(
            click.Option(["--stack"], metavar="FILE[#NAME]", expose_value=False,
                         callback=_late_stack, hidden=True, is_eager=True)
        )  # fmt: skip
    if "--debug" not in names:
        command.params.append(
            click.Option(["--debug"], is_flag=True, expose_value=False, callback=_late_debug,
                         hidden=True, is_eager=True)
        )  # fmt: skip
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _global_options(sub)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="flow-artifacts")
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_stdout()


def _quiet_stdout() -> None:
    """The reader went away (`| head`): drop the rest of the output quietly, as `cat` does."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
