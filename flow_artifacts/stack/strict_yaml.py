"""Reading a YAML file strictly: one document, no aliases, no duplicate keys, no custom tags.

A stack file decides where data goes, so a typo must fail loudly and say which line it is on: the
reader keeps the line of every value. Aliases are refused outright: they are what makes "billion
laughs" expansion bombs possible, and a configuration file has no need for them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, shown_path

MAX_BYTES = 1 << 20
MAX_DEPTH = 50

KeyPath = tuple[str | int, ...]
_COLLECTION_TAGS = {
    yaml.MappingNode: "tag:yaml.org,2002:map",
    yaml.SequenceNode: "tag:yaml.org,2002:seq",
}


@dataclass
class YamlDocument:
    """The plain value of a file (dicts, lists, scalars) and the line each part starts on."""

    file: str
    value: Any
    lines: dict[KeyPath, int]

    def line(self, path: KeyPath) -> int:
        """The line of `path`, or of its nearest ancestor present in the file."""
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: KeyPath, problem: str, allowed: str | None = None) -> ConfigError:
        """A `ConfigError` naming the file, the line, the key and, when given, what is allowed."""
        key = ".".join(str(part) for part in path) or "(top level)"
        message = f"{shown_path(self.file)}, line {self.line(path)}, key {key!r}: {problem}"
        return ConfigError(message + (f"; allowed: {allowed}" if allowed else ""))


class _AliasFound(Exception):
    def __init__(self, line: int, anchor: str) -> None:
        super().__init__(line, anchor)
        self.line, self.anchor = line, anchor


class _StrictLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _AliasFound(event.start_mark.line + 1, event.anchor)
        return super().compose_node(parent, index)


def read_yaml(path: str | os.PathLike[str]) -> YamlDocument:
    """Parse `path`; any problem is a `ConfigError` naming the file and the line."""
    file = str(Path(path).absolute())
    shown = shown_path(file)
    try:
        with open(file, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read stack file {shown}: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{shown} is larger than {MAX_BYTES} bytes; is it really a stack file?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{shown} is not UTF-8 text: {exc}") from None
    try:
        loader = _StrictLoader(text)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, other controls)
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ConfigError(
            f"{shown}, line {line}: invalid YAML: the character U+{char:04X} is not allowed in a "
            "YAML file; remove it"
        ) from None
    try:
        node = loader.get_single_node()
        lines: dict[KeyPath, int] = {}
        value = None if node is None else _to_python(loader, node, (), lines, shown)
    except _AliasFound as alias:
        raise ConfigError(
            f"{shown}, line {alias.line}: YAML aliases (*{alias.anchor}) are not allowed in stack "
            "files; repeat the value instead"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{shown}{where}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{shown}: invalid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{shown}: nested too deeply to be a stack file") from None
    finally:
        loader.dispose()
    return YamlDocument(file, value, lines)


def _to_python(
    loader: _StrictLoader, node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], shown: str
) -> Any:
    lines[path] = node.start_mark.line + 1
    if len(path) > MAX_DEPTH:
        raise ConfigError(f"{shown}, line {lines[path]}: nested more than {MAX_DEPTH} levels")
    expected_tag = _COLLECTION_TAGS.get(type(node))
    if expected_tag is not None and node.tag != expected_tag:
        raise ConfigError(
            f"{shown}, line {lines[path]}: invalid YAML: tag {node.tag!r} is not allowed; "
            "stack files hold plain mappings, lists and scalars"
        )
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(f"{shown}, line {line}: mapping keys must be plain scalars")
            key = str(key_node.value)
            if key in result:
                dotted = ".".join(str(p) for p in (*path, key))
                raise ConfigError(
                    f"{shown}, line {line}, key {dotted!r}: duplicate key (first set on line "
                    f"{first_line[key]}); each key may appear once"
                )
            first_line[key] = line
            key_path = (*path, key)
            result[key] = _to_python(loader, value_node, key_path, lines, shown)
            lines[key_path] = line
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_python(loader, item, (*path, index), lines, shown)
            for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)
