"""Stack files: the YAML that names a stack's store, catalog, path template, overrides and plugins.

`read_stack_config(path, name)` checks the whole file and returns the chosen stack as a
`StackConfig` of plain, validated values. Opening the store and the catalog is
`Stack.from_config`'s job, so a file can be checked (in CI, say, for a prod stack) without
reaching any service.

Relative paths are relative to the file's folder. Secrets (the values of secret-looking
environment variables and storage options, the catalog URL's password) are collected so they can
be masked wherever a stack is shown, and may appear only where nothing is recorded:
`artifact_store.storage_options` and `catalog.url`.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..plugins import (
    DEFAULT_PLUGINS,
    ENTRY_POINT_GROUP,
    PluginHost,
    blocked_from_env,
    default_plugin_host,
    make_plugin_manager,
    short_name,
)
from ..redact import is_secret_name, redact, redact_url, scrub, secret_values
from ..template import (
    DEFAULT_TEMPLATE,
    PLACEHOLDER_FIX,
    VARIABLES,
    PathTemplate,
    url_placeholder,
)
from .envvars import ExpansionError, expand
from .options import KEY as OPTIONS_KEY
from .options import check_options
from .schema import FILE_KEYS, check_keys, check_name, check_shape, check_type
from .strict_yaml import KeyPath, YamlDocument, read_yaml

DEFAULT_DIR = ".flow_artifacts"
"""Where a stack file's store and catalog go when it names none, beside the file."""

SECRET_PLACES: tuple[KeyPath, ...] = (("artifact_store", "storage_options"), ("catalog", "url"))
LOCAL_PROTOCOLS = ("", "file", "local")
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


@dataclass(frozen=True, repr=False)
class StackConfig:
    """One stack of a stack file, validated, with variables expanded and paths made absolute."""

    name: str
    source: str
    source_name: str | None
    """The name that chooses this stack in `source`; None when the file holds only this one."""
    project: str
    store_url: str
    storage_options: dict[str, Any]
    catalog_url: str
    path_template: str
    materializers: dict[str, str]
    materializer_options: dict[str, dict[str, Any]]
    """Options by materializer id, each checked by its materializer."""
    disabled_plugins: tuple[str, ...]
    allow_pickle: bool | str
    trusted_projects: tuple[str, ...]
    openlineage: dict[str, Any] | None
    """OpenLineage emission (`namespace`, `transport`); None: no events."""
    plugins: PluginHost
    secrets: tuple[str, ...]
    environment: tuple[tuple[str, str | None], ...]
    """Environment variables the file used, with their values: stale once they change."""

    def __repr__(self) -> str:
        return scrub(
            f"StackConfig(name={self.name!r}, source={self.source!r}, "
            f"store={redact_url(self.store_url)!r}, "
            f"storage_options={redact(self.storage_options)!r}, "
            f"catalog={redact_url(self.catalog_url)!r})",
            self.secrets,
        )


def read_stack_config(
    path: str | os.PathLike[str],
    name: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> StackConfig:
    """The stack `name` of the file at `path` (default: its `active:` one), checked in full.

    Every stack in the file is checked for unknown keys and wrong types; the chosen one is also
    expanded and checked against the installed plugins. Problems raise `ConfigError` naming the
    file, the line, the key and what is allowed there.
    """
    environ = os.environ if environ is None else environ
    doc = read_yaml(path)
    body = {} if doc.value is None else doc.value
    check_type(doc, body, (), dict)
    if "stacks" not in body and "active" not in body:
        if name is not None:
            raise doc.error(
                (),
                f"the file holds a single stack, so there is no stack {name!r} to choose",
                allowed="'#name' only with several stacks under `stacks:`",
            )
        check_shape(doc, body, ())
        return _build(doc, body, (), Path(doc.file).stem, environ)
    check_keys(doc, body, (), FILE_KEYS)
    stacks = body.get("stacks")
    if not isinstance(stacks, dict) or not stacks:
        raise doc.error(("stacks",), "expected a mapping of stack names to stacks")
    for stack_name, spec in stacks.items():
        check_name(doc, stack_name, ("stacks", stack_name), "stack name")
        check_shape(doc, spec, ("stacks", stack_name))
        _check_installed(doc, spec, ("stacks", stack_name), expanded=False)
    active = body.get("active")
    check_type(doc, active, ("active",), str, optional=True)
    chosen = name or active or (next(iter(stacks)) if len(stacks) == 1 else None)
    allowed = ", ".join(stacks)
    if chosen is None:
        raise doc.error(
            (), "several stacks and no `active:` one; set it or use 'file#name'", allowed=allowed
        )
    if chosen not in stacks:
        where: KeyPath = ("active",) if name is None else ("stacks",)
        raise doc.error(where, f"there is no stack {chosen!r}", allowed=allowed)
    return _build(doc, stacks[chosen], ("stacks", chosen), chosen, environ)


def _build(
    doc: YamlDocument, spec: dict[str, Any], prefix: KeyPath, name: str, environ: Mapping[str, str]
) -> StackConfig:
    used: dict[KeyPath, list[tuple[str, str]]] = {}
    spec = _expand(doc, spec, prefix, environ, used)
    secrets = [value for pairs in used.values() for var, value in pairs if is_secret_name(var)]
    store = spec.get("artifact_store", {})
    secrets += secret_values(store.get("storage_options", {}))
    secrets = [s for s in secrets if s]
    try:
        _check_secret_places(doc, used, prefix)
        folder = Path(doc.file).parent
        project = check_name(doc, spec.get("project", "default"), (*prefix, "project"), "project")
        template = spec.get("path_template", DEFAULT_TEMPLATE)
        try:
            PathTemplate(template)
        except ConfigError as exc:
            raise doc.error(
                (*prefix, "path_template"),
                str(exc),
                allowed=", ".join("{" + v + "}" for v in VARIABLES),
            ) from None
        store_url = _store_url(doc, store.get("url"), folder, (*prefix, "artifact_store", "url"))
        catalog_url, password = _catalog_url(
            doc, spec.get("catalog", {}).get("url"), folder, (*prefix, "catalog", "url")
        )
        if password:
            secrets.append(password)
        disabled, host, overrides, options = _check_installed(doc, spec, prefix, expanded=True)
    except ConfigError as exc:
        raise ConfigError(scrub(str(exc), secrets)) from None
    return StackConfig(
        name=name,
        source=doc.file,
        source_name=name if prefix else None,
        project=project,
        store_url=store_url,
        storage_options=dict(store.get("storage_options", {})),
        catalog_url=catalog_url,
        path_template=template,
        materializers=dict(overrides),
        materializer_options=options,
        disabled_plugins=disabled,
        allow_pickle=spec.get("allow_pickle", True),
        trusted_projects=tuple(spec.get("trusted_projects", ())),
        openlineage=spec.get("openlineage"),
        plugins=host,
        secrets=tuple(dict.fromkeys(secrets)),
        environment=tuple(
            dict.fromkeys((var, environ.get(var)) for pairs in used.values() for var, _ in pairs)
        ),
    )


@functools.lru_cache(maxsize=16)
def _host_blocking(blocked: frozenset[str]) -> PluginHost:
    return PluginHost(make_plugin_manager(blocked=blocked))


def plugin_host(disabled: frozenset[str]) -> PluginHost:
    """The plugin host for stacks disabling `disabled` (plus the environment's), shared by all."""
    if not disabled:
        return default_plugin_host()
    return _host_blocking(disabled | blocked_from_env())


def known_plugin_names() -> list[str]:
    """Names `plugins.disabled` accepts: the built-ins and every installed entry point."""
    names = {short_name(module) for module in DEFAULT_PLUGINS}
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


# --- checks ------------------------------------------------------------------------------------


def _check_secret_places(
    doc: YamlDocument, used: dict[KeyPath, list[tuple[str, str]]], prefix: KeyPath
) -> None:
    for path, pairs in used.items():
        secret = next((var for var, _ in pairs if is_secret_name(var)), None)
        relative = path[len(prefix) :]
        if secret and not any(relative[: len(place)] == place for place in SECRET_PLACES):
            raise doc.error(
                path,
                f"uses ${{{secret}}}, which looks like a secret, in a value that is recorded "
                "with every artifact",
                allowed="secrets only in artifact_store.storage_options and catalog.url",
            )


def _check_installed(
    doc: YamlDocument, spec: dict[str, Any], prefix: KeyPath, *, expanded: bool
) -> tuple[tuple[str, ...], PluginHost, dict[str, str], dict[str, dict[str, Any]]]:
    """Check a stack's disabled plugins, materializer overrides and materializer options
    against what is installed.

    Run for every stack of a file, not only the one in use, so a typo in `prod` is found on a
    developer's machine; returns (disabled plugins, their plugin host, overrides, options).
    Option values holding `${VAR}` are checked once `expanded`, in the stack chosen.
    """
    disabled = tuple(spec.get("plugins", {}).get("disabled", []))
    _check_plugins(doc, disabled, (*prefix, "plugins", "disabled"))
    host = plugin_host(frozenset(disabled))
    overrides = spec.get("materializers", {})
    _check_materializers(doc, overrides, host, (*prefix, "materializers"))
    options = check_options(
        host.materializers,
        spec.get(OPTIONS_KEY, {}),
        lambda path, problem, allowed: doc.error((*prefix, OPTIONS_KEY, *path), problem, allowed),
        unexpanded=not expanded,
    )
    return disabled, host, overrides, options


def _check_plugins(doc: YamlDocument, disabled: tuple[str, ...], path: KeyPath) -> None:
    known = known_plugin_names()
    for index, plugin in enumerate(disabled):
        if plugin not in known:
            raise doc.error((*path, index), f"unknown plugin {plugin!r}", allowed=", ".join(known))


def _check_materializers(
    doc: YamlDocument, overrides: dict[str, str], host: PluginHost, path: KeyPath
) -> None:
    registry = host.materializers
    for type_name, materializer in overrides.items():
        if not _DOTTED.fullmatch(type_name):
            raise doc.error(
                (*path, type_name),
                "keys are dotted type names",
                allowed="e.g. pandas.DataFrame, numpy.ndarray, mypackage.models.Model",
            )
        if materializer not in registry:
            raise doc.error(
                (*path, type_name),
                f"unknown materializer {materializer!r}",
                allowed=registry.describe_ids(),
            )
        if problem := _type_problem(type_name):
            raise doc.error(
                (*path, type_name),
                problem,
                allowed="the dotted name of an importable type, e.g. pandas.DataFrame",
            )


def _type_problem(type_name: str) -> str | None:
    """Why an override's type can never match (a misspelled module, or a missing name in a
    module already imported), without importing anything: else None."""
    import importlib.util
    import sys

    module_name, _, attr = type_name.rpartition(".")
    top = module_name.split(".")[0]
    try:
        found = top in sys.modules or importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return f"no module {top!r} is installed, so no object of type {type_name} can exist"
    module = sys.modules.get(module_name)
    if module is not None and not hasattr(module, attr):
        return f"module {module_name!r} has no {attr!r}"
    return None


# --- values ------------------------------------------------------------------------------------


def _expand(
    doc: YamlDocument,
    value: Any,
    path: KeyPath,
    environ: Mapping[str, str],
    used: dict[KeyPath, list[tuple[str, str]]],
) -> Any:
    """A copy of `value` with `${VAR}` expanded in every string; `used` gets what each path used."""
    if isinstance(value, dict):
        return {k: _expand(doc, v, (*path, k), environ, used) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(doc, v, (*path, i), environ, used) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value
    try:
        expanded, pairs = expand(value, environ)
    except ExpansionError as exc:
        raise doc.error(path, str(exc)) from None
    if pairs:
        used[path] = pairs
    return expanded


def _store_url(doc: YamlDocument, url: str | None, folder: Path, path: KeyPath) -> str:
    import fsspec

    if not url:
        return str(folder / DEFAULT_DIR / "artifacts")
    placeholder = url_placeholder(url)
    if placeholder:
        raise doc.error(
            path,
            f"the store URL holds {placeholder}, which would become a folder of that name",
            allowed=PLACEHOLDER_FIX,
        )
    protocol, sep, rest = url.partition("://")
    if not sep:
        protocol, rest = "", url
    if protocol in LOCAL_PROTOCOLS:
        local = Path(rest).expanduser()
        return os.path.normpath(local if local.is_absolute() else folder / local)
    if protocol not in fsspec.available_protocols():
        raise doc.error(
            path,
            f"unknown storage protocol {protocol!r}",
            allowed="a local path or an fsspec URL; protocols: "
            + ", ".join(fsspec.available_protocols()),
        )
    if ":" in rest.split("/", 1)[0].rpartition("@")[0]:
        raise doc.error(
            path,
            "the URL holds credentials (user:password@), and store URLs are recorded with every "
            "artifact",
            allowed="credentials in artifact_store.storage_options",
        )
    return url


def _catalog_url(
    doc: YamlDocument, url: str | None, folder: Path, path: KeyPath
) -> tuple[str, str | None]:
    """The URL with a relative SQLite path made absolute, and its password (a secret)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not url:
        return f"sqlite:///{folder / DEFAULT_DIR / 'catalog.db'}", None
    examples = "sqlite:///<path>, postgresql+psycopg://<user>:<password>@<host>/<database>"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise doc.error(path, "not a database URL", allowed=examples) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise doc.error(path, f"unsupported database {backend!r}", allowed=examples)
    database = parsed.database
    if backend == "sqlite" and database and database != ":memory:" and "file:" not in database:
        local = Path(database).expanduser()
        absolute = parsed.set(database=str(local if local.is_absolute() else folder / local))
        return absolute.render_as_string(hide_password=False), None
    return url, parsed.password
