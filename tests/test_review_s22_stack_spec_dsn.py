"""A catalog DSN given by mistake where a stack file is expected (`fa.use_stack(...)`,
`FLOW_ARTIFACTS_STACK`): the error says so without showing any part of its password, however
short (a path made of the URL collapses `://`, so no URL structure is left to mask there)."""

from __future__ import annotations

import pytest

import flow_artifacts as fa

DSNS = [
    "postgresql://user:hunter2@db.example/prod",
    "postgresql+psycopg://u:pw@h/db#prod",
    "postgresql://u:p#ss@h/db",
]


@pytest.mark.parametrize("dsn", DSNS)
def test_a_dsn_given_as_a_stack_shows_no_password(dsn: str) -> None:
    with pytest.raises(fa.ConfigError, match="stack file") as raised:
        with fa.use_stack(dsn):
            pass
    message = str(raised.value)
    for secret in ("hunter2", ":pw@", "u:p", "ss@"):
        assert secret not in message
    assert "db" in message  # the user still sees what was given


def test_a_dsn_in_the_environment_shows_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOW_ARTIFACTS_STACK", DSNS[0])
    with pytest.raises(fa.ConfigError, match="FLOW_ARTIFACTS_STACK") as raised:
        fa.get_stack()
    assert "hunter2" not in str(raised.value)
