"""Shell completion: the `completion` command, and completers of projects, names and tags.

Completion runs the CLI on every TAB, so completers read the catalog of the active stack and
never create one (`State.nothing_here`), and any failure completes nothing instead of printing.
"""

from __future__ import annotations

from typing import Any

import click
from click.shell_completion import CompletionItem

from .state import State

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_FLOW_ARTIFACTS_COMPLETE"
MAX_ITEMS = 200


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL (bash, zsh or fish).

    \b
    bash:  eval "$(flow-artifacts completion bash)"   # in ~/.bashrc
    zsh:   eval "$(flow-artifacts completion zsh)"    # in ~/.zshrc
    fish:  flow-artifacts completion fish > ~/.config/fish/completions/flow-artifacts.fish

    Commands and options complete, and so do artifact references: projects (`demo/`), names
    (`demo/clean`), tags (`demo/clean:prod`) and versions (`demo/clean@3`) of the active stack.
    """
    from click.shell_completion import get_completion_class

    from .main import cli

    found = get_completion_class(shell)
    assert found is not None  # every name in SHELLS is one click knows
    script = found(cli, {}, "flow-artifacts", COMPLETE_VAR).source()
    click.echo(script)


def complete_project(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    return _quietly(ctx, lambda state: _projects(state, incomplete, suffix=""))


def complete_ref(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    """`project/`, then `project/name`, then `project/name:tag` or `project/name@version`."""
    return _quietly(ctx, lambda state: _refs(state, incomplete))


def _refs(state: State, incomplete: str) -> list[CompletionItem]:
    if "/" not in incomplete:
        return _projects(state, incomplete, suffix="/")
    project, _, rest = incomplete.partition("/")
    catalog = state.stack.catalog
    if ":" in rest:
        name, _, start = rest.partition(":")
        tags = sorted(catalog.tags_of_name(project, name))
        return [_item(f"{project}/{name}:{t}", "tag") for t in tags if t.startswith(start)]
    if "@" in rest:
        name, _, start = rest.partition("@")
        versions = [m.version for m in catalog.versions(project, name, page_size=MAX_ITEMS).items]
        return [
            _item(f"{project}/{name}@{v}", "version") for v in versions if str(v).startswith(start)
        ]
    from ..catalog import Search

    page = catalog.search(Search(project=project, name=rest or None, latest=True, limit=MAX_ITEMS))
    names = sorted({m.name for m in page.items if m.name.startswith(rest)})
    return [_item(f"{project}/{name}", "artifact") for name in names]


def _projects(state: State, incomplete: str, suffix: str) -> list[CompletionItem]:
    projects = state.stack.catalog.projects()
    return [_item(p + suffix, "project") for p in projects if p.startswith(incomplete)]


def _item(value: str, kind: str) -> CompletionItem:
    return CompletionItem(value, help=kind)


def _quietly(ctx: click.Context, find: Any) -> list[Any]:
    """While completing, the group's callback has not run: the state is made here, from the
    `--stack` typed so far."""
    state = ctx.find_object(State) or State(ctx.find_root().params.get("stack_spec"), False)
    try:
        if state.nothing_here():
            return []
        found: list[Any] = find(state)
        return found[:MAX_ITEMS]
    except Exception:  # a TAB must never print an error into the command line being typed
        return []


COMMANDS = [completion]
