"""References: one parser and one formatter, used everywhere a reference is read or shown."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.errors import InvalidName
from flow_artifacts.refs import Ref, artifact_uri, artifact_urn, parse_ref

PACKAGE = Path(fa.__file__).parent


@pytest.mark.parametrize(
    "text, expected",
    [
        ("store://p/n@3", Ref(project="p", name="n", version=3)),
        ("store://p/n:prod", Ref(project="p", name="n", tag="prod")),
        ("store://p/n", Ref(project="p", name="n")),
    ],
)
def test_formatting_and_parsing_are_inverse(text, expected):
    assert parse_ref(text) == expected
    assert str(expected) == text
    assert parse_ref(text.removeprefix("store://"), bare=True) == expected


def test_ids_and_urns():
    artifact_id = str(uuid.uuid4())
    assert parse_ref(artifact_id) == Ref(id=artifact_id)
    assert parse_ref(artifact_urn(artifact_id)) == Ref(id=artifact_id)
    assert parse_ref(artifact_urn(artifact_id), bare=True) == Ref(id=artifact_id)
    assert artifact_uri("p", "n", tag="t") == "store://p/n:t"


@pytest.mark.parametrize(
    "text", ["p/n", "store://p/n@0", "store://p/n@x", "store://p/../n", "p/n@1:t", "urn:x"]
)
def test_what_does_not_parse_says_which_forms_do(text):
    with pytest.raises(InvalidName):
        parse_ref(text, bare=text != "p/n")
    if text == "p/n":
        with pytest.raises(InvalidName, match="store://<project>/<name>"):
            parse_ref(text)  # a bare reference only where users type one


def test_manifest_and_handle_give_their_uri_and_record(stack):
    art = fa.materialize({"a": 1}, "n", "r1", "s", "p", stack=stack)
    assert art.uri == art.manifest.uri == "store://p/n@1"
    assert parse_ref(art.uri) == Ref(project="p", name="n", version=1)
    record = art.record()
    assert record["uri"] == art.uri and record["urn"] == art.urn
    assert fa.get_artifact(art.urn, stack=stack) == art


def test_no_reference_is_built_by_hand():
    """Only refs.py spells `store://` in code: everything else formats through it."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "refs.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if "store://" in text and not _is_prose(text):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def _is_prose(text: str) -> bool:
    """Docstrings and help texts may show a reference; code that builds one is not prose."""
    return " " in text.strip()
