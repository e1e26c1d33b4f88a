"""`flow-artifacts ui`: serve the artifact browser for the active (or given) stack.

Only click is imported at module level: the web stack loads when the command runs, so
`flow-artifacts --help` stays fast.
"""

from __future__ import annotations

import click

from .state import State

TOKEN_ENV = "FLOW_ARTIFACTS_UI_TOKEN"


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command("ui")
@click.option(
    "--stack",
    "stack_spec",
    metavar="FILE[#NAME]",
    help="Stack to browse (default: the one given before the command, else the active stack).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Other addresses let other machines in: use --token.",
)
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0: any free one).",
)
@click.option("--allow-delete", is_flag=True, help="Let the page delete artifacts.")
@click.option(
    "--token",
    envvar=TOKEN_ENV,
    show_envvar=True,
    metavar="TOKEN",
    help="Require this bearer token on every request; `--token auto` makes one up.",
)
@click.pass_context
def ui(
    ctx: click.Context,
    stack_spec: str | None,
    host: str,
    port: int,
    allow_delete: bool,
    token: str | None,
) -> None:
    """Browse artifacts, previews, lineage and runs in a web page.

    The page only reads unless --allow-delete is given. With --token, requests need
    `Authorization: Bearer TOKEN`; the printed URL carries it once as ?token=, and the page
    swaps it for a cookie.
    """
    try:
        from ..ui.app import LOOPBACK_HOSTS, create_app
        from ..ui.server import bind, serve, url_of
    except ImportError as exc:
        raise click.ClickException(
            f"the web page needs packages that are not installed ({exc.name}); "
            "run: pip install 'flow-artifacts[ui]'"
        ) from None

    state = ctx.find_object(State)
    if stack_spec is not None or state is None:
        state = State(stack_spec, debug=bool(state and state.debug))
    stack = state.stack
    if token == "auto":
        import secrets

        token = secrets.token_urlsafe(24)
    wildcard = host.strip("[]") in ("0.0.0.0", "::")
    allowed = ["*"] if wildcard else [*LOOPBACK_HOSTS, host]
    app = create_app(stack, allow_delete=allow_delete, token=token, allowed_hosts=allowed)
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another --port"
        ) from None
    url = f"http://127.0.0.1:{sock.getsockname()[1]}" if wildcard else url_of(sock)
    mode = "read-write (--allow-delete)" if allow_delete else "read-only"
    click.echo(f"flow-artifacts ui: browsing stack {stack.name!r}, {mode}")
    if is_loopback(host):
        click.echo(f"listening on {host} only: this machine can connect, no other can")
    else:
        click.echo(
            f"warning: listening on {host}: other machines can connect"
            + ("" if token else "; anyone who reaches it can read the catalog. Use --token."),
            err=True,
        )
    click.echo(f"open {url}/" + (f"?token={token}" if token else "") + "  (Ctrl+C to stop)")
    try:
        serve(app, sock)
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C after its clean shutdown: the usual end
        pass
    click.echo("stopped")


COMMANDS = [ui]
"""For `cli.main.COMMAND_MODULES`, like the other command modules."""
