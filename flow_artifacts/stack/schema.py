"""What a stack file may hold: its keys and their types, checked with the line of any mistake.

Only the shape is checked here; values that depend on the environment or on the installed plugins
are checked by `stack_file` once the chosen stack's variables are expanded.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from ..naming import validate_name
from .strict_yaml import KeyPath, YamlDocument

STACK_KEYS: dict[str, type] = {
    "project": str,
    "artifact_store": dict,
    "catalog": dict,
    "path_template": str,
    "materializers": dict,
    "materializer_options": dict,
    "plugins": dict,
    "allow_pickle": object,  # true, false or "trusted-projects": see check_pickle_setting
    "trusted_projects": list,
    "openlineage": dict,
}
SECTION_KEYS: dict[str, dict[str, type]] = {
    "artifact_store": {"url": str, "storage_options": dict},
    "catalog": {"url": str},
    "plugins": {"disabled": list},
    "openlineage": {"namespace": str, "transport": dict},
}
FILE_KEYS: dict[str, type] = {"active": str, "stacks": dict}
TRUSTED_PROJECTS = "trusted-projects"
TYPE_WORDS = {str: "a string", dict: "a mapping", list: "a list", bool: "true or false"}


def check_shape(doc: YamlDocument, spec: Any, prefix: KeyPath) -> None:
    """Keys and types of one stack; its values are checked once its variables are expanded."""
    check_type(doc, spec, prefix, dict)
    check_keys(doc, spec, prefix, STACK_KEYS)
    for key, value in spec.items():
        path = (*prefix, key)
        if key == "allow_pickle":
            check_pickle_setting(doc, spec, prefix)
            continue
        check_type(doc, value, path, STACK_KEYS[key])
        if key in SECTION_KEYS:
            check_keys(doc, value, path, SECTION_KEYS[key])
            for sub, sub_value in value.items():
                check_type(doc, sub_value, (*path, sub), SECTION_KEYS[key][sub])
    for type_name, materializer in spec.get("materializers", {}).items():
        check_type(doc, materializer, (*prefix, "materializers", type_name), str)
    for materializer_id, options in spec.get("materializer_options", {}).items():
        check_type(doc, options, (*prefix, "materializer_options", materializer_id), dict)
    for index, plugin in enumerate(spec.get("plugins", {}).get("disabled", [])):
        check_type(doc, plugin, (*prefix, "plugins", "disabled", index), str)
    for index, project in enumerate(spec.get("trusted_projects", [])):
        check_type(doc, project, (*prefix, "trusted_projects", index), str)
        check_name(doc, project, (*prefix, "trusted_projects", index), "project")


def check_pickle_setting(doc: YamlDocument, spec: dict[str, Any], prefix: KeyPath) -> None:
    """`allow_pickle` is true, false, or `trusted-projects` with a `trusted_projects` list."""
    value = spec["allow_pickle"]
    path = (*prefix, "allow_pickle")
    if value == TRUSTED_PROJECTS and not spec.get("trusted_projects"):
        raise doc.error(path, f"{TRUSTED_PROJECTS} needs a non-empty trusted_projects list")
    if not isinstance(value, bool) and value != TRUSTED_PROJECTS:
        raise doc.error(
            path,
            f"expected true, false or {TRUSTED_PROJECTS}, got {describe(value)}",
            allowed=f"true, false, {TRUSTED_PROJECTS}",
        )


def check_type(
    doc: YamlDocument, value: Any, path: KeyPath, expected: type, optional: bool = False
) -> None:
    if optional and value is None:
        return
    if type(value) is not expected:
        raise doc.error(path, f"expected {TYPE_WORDS[expected]}, got {describe(value)}")


def check_keys(doc: YamlDocument, mapping: dict[str, Any], path: KeyPath, allowed: Any) -> None:
    for key in mapping:
        if key not in allowed:
            raise doc.error((*path, key), "unknown key", allowed=", ".join(sorted(allowed)))


def check_name(doc: YamlDocument, value: str, path: KeyPath, what: str) -> str:
    try:
        return validate_name(value, what)
    except ConfigError as exc:
        raise doc.error(path, str(exc)) from None


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        return f"{value} (a number)"
    for kind, word in TYPE_WORDS.items():
        if isinstance(value, kind):
            return word
    return type(value).__name__
