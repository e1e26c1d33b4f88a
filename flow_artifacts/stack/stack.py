"""A stack: the store, catalog, path template and materializer overrides artifacts go through.

Which stack is active, first match wins: the `stack=` argument of a call, the innermost
`use_stack()` block, `FLOW_ARTIFACTS_STACK` (a file, `file.yaml#name`, or `#name` for the
discovered file), `flow_artifacts.yaml` in the current directory or a parent (only if it is the
user's own: see `stack_discovery`), and finally the embedded default under `./.flow_artifacts`.
Stacks are cached, so engines are not reopened per call, but a changed directory, environment
variable or stack file gives a fresh one.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from ..errors import ConfigError, FlowArtifactsError, shown_path
from ..materializers.registry import Dispatch
from ..plugins import PluginHost, default_plugin_host
from ..redact import redact_url, secret_values
from ..redact import scrub as scrub_secrets
from ..stores.store import ArtifactStore
from ..template import DEFAULT_TEMPLATE, PathTemplate
from .discovery import DEFAULT_ROOT, FILE_NAME, STACK_ENV, find_stack_file
from .options import check_options, in_code

if TYPE_CHECKING:
    from ..catalog import Catalog
    from .file import StackConfig

StackLike = Union["Stack", str, "os.PathLike[str]"]
"""A `Stack`, or where to read one: `path/to/stack.yaml` or `path/to/stack.yaml#name`."""


@dataclass(repr=False)
class Stack:
    """Where artifacts go and how they are recorded; secrets stay inside the store's filesystem."""

    store: ArtifactStore
    catalog: Catalog
    overrides: Mapping[str, str] = field(default_factory=dict)
    """Materializer id by dotted type name, e.g. ``{"pandas.DataFrame": "pandas.parquet"}``."""
    materializer_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Options by materializer id, e.g. ``{"pandas.parquet": {"compression": "zstd"}}``: used
    by every write with that materializer, a call's `materializer_options` winning per option."""
    allow_pickle: bool | str = True
    """True, False, or "trusted-projects": pickles only in `trusted_projects`."""
    trusted_projects: tuple[str, ...] = ()
    openlineage: Mapping[str, Any] | None = None
    """OpenLineage events as steps run: `{"namespace": ..., "transport": {...}}` (both optional;
    the transport defaults to the client's own `OPENLINEAGE_*` configuration). None: none."""
    name: str = "default"
    plugins: PluginHost = field(default_factory=default_plugin_host)
    project: str = "default"
    """The project of runs that do not name one."""
    source: str | None = None
    """The stack file this stack was read from, if any."""
    source_name: str | None = None
    """The name that chooses this stack in `source` (None: the file holds only this one), so
    `Stack.from_yaml(source, source_name)` opens it again."""
    secrets: tuple[str, ...] = ()
    """Values never to show: masked by `scrub()` (when long enough to be unambiguous), in
    `repr()` and in recorded errors."""

    def __post_init__(self) -> None:
        if self.materializer_options:  # checked now, so a typo fails before any write
            self.materializer_options = check_options(
                self.plugins.materializers, self.materializer_options, in_code
            )

    @classmethod
    def local(
        cls,
        root: str | os.PathLike[str] = DEFAULT_ROOT,
        *,
        template: str = DEFAULT_TEMPLATE,
        project: str = "default",
    ) -> Stack:
        """The embedded default: artifacts in `<root>/artifacts`, catalog in `<root>/catalog.db`."""
        base = Path(root).absolute()
        return cls(
            store=ArtifactStore(base / "artifacts", template=PathTemplate(template)),
            catalog=_catalog(f"sqlite:///{base / 'catalog.db'}"),
            name="local",
            project=project,
        )

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str], name: str | None = None) -> Stack:
        """The stack `name` (default: the `active:` one) of a stack file, opened."""
        from .file import read_stack_config

        return cls.from_config(read_stack_config(path, name))

    @classmethod
    def from_config(cls, config: StackConfig) -> Stack:
        """Open the store and catalog a checked stack file describes."""
        what = "artifact store"
        try:
            store = ArtifactStore(
                config.store_url,
                template=PathTemplate(config.path_template),
                plugins=config.plugins,
                **config.storage_options,
            )
            what = "catalog"
            catalog = _catalog(config.catalog_url)
        except Exception as exc:  # messages may quote options; never let a secret through
            message = scrub_secrets(
                f"stack {config.name!r} of {shown_path(config.source)}: cannot open its "
                f"{what}: {exc}",
                config.secrets,
            )
            error = type(exc) if isinstance(exc, FlowArtifactsError) else ConfigError
            raise error(message) from None
        return cls(
            store=store,
            catalog=catalog,
            overrides=dict(config.materializers),
            materializer_options=config.materializer_options,
            allow_pickle=config.allow_pickle,
            trusted_projects=config.trusted_projects,
            openlineage=config.openlineage,
            name=config.name,
            plugins=config.plugins,
            project=config.project,
            source=config.source,
            source_name=config.source_name,
            secrets=config.secrets,
        )

    def pickles_allowed(self, project: str) -> bool:
        """Whether artifacts of `project` may be pickled and unpickled on this stack."""
        if self.allow_pickle == "trusted-projects":
            return project in self.trusted_projects
        return bool(self.allow_pickle)

    def dispatch(
        self,
        project: str | None = None,
        *,
        materializer: str | None = None,
        overrides: Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Dispatch:
        """How this stack picks materializers for `project` (default: the stack's): the one rule
        that `materialize` writes by and `explain` reports; `options` go to the chosen one."""
        project = self.project if project is None else project
        return Dispatch(
            self.plugins.materializers,
            materializer=materializer,
            overrides={**self.overrides, **overrides} if overrides else dict(self.overrides),
            allow_pickle=self.pickles_allowed(project),
            options=dict(options or {}),
            defaults=self.materializer_options,
        )

    def scrub(self, text: str) -> str:
        """`text` with this stack's secrets and any structural secret (URL password, auth
        header, `password=...`) masked: for anything shown, logged or recorded."""
        return scrub_secrets(text, self.secrets)

    def close(self) -> None:
        """Release the catalog's database connections."""
        self.catalog.close()

    def __repr__(self) -> str:
        source = f", source={self.source!r}" if self.source else ""
        return self.scrub(
            f"Stack(name={self.name!r}{source}, store={redact_url(self.store.url)!r}, "
            f"catalog={redact_url(self.catalog.url)!r})"
        )


_active: ContextVar[Stack | None] = ContextVar("flow_artifacts_stack", default=None)


def get_stack() -> Stack:
    """The active stack (see the module docstring for the order in which it is found)."""
    active = _active.get()
    if active is not None:
        return active
    cwd = Path(os.getcwd())
    spec = os.environ.get(STACK_ENV)
    if spec:
        return _CACHE.from_spec(spec, cwd, origin=STACK_ENV)
    found = find_stack_file(cwd)
    if found is not None:
        return _CACHE.from_file(found, None)
    return _CACHE.default(cwd)


def resolve_stack(stack: StackLike | None = None) -> Stack:
    """`stack` itself, the stack a path (`file.yaml[#name]`) names, or the active one."""
    if stack is None:
        return get_stack()
    if isinstance(stack, Stack):
        return stack
    return _CACHE.from_spec(os.fspath(stack), Path(os.getcwd()), origin="stack")


@contextlib.contextmanager
def use_stack(stack: StackLike) -> Iterator[Stack]:
    """Make `stack` (or the stack file it names) the active one inside the block."""
    resolved = resolve_stack(stack)
    token = _active.set(resolved)
    try:
        yield resolved
    finally:
        _active.reset(token)


class _StackCache:
    """Stacks by where they come from; a file's stack is rebuilt when it or its variables change."""

    def __init__(self) -> None:
        self._defaults: dict[Path, Stack] = {}
        self._files: dict[tuple[Path, str | None], tuple[tuple[int, ...], StackConfig, Stack]] = {}
        self._lock = threading.Lock()

    def default(self, cwd: Path) -> Stack:
        with self._lock:
            if cwd not in self._defaults:
                self._defaults[cwd] = Stack.local(cwd / DEFAULT_ROOT)
            return self._defaults[cwd]

    def from_spec(self, spec: str, cwd: Path, origin: str) -> Stack:
        path_text, _, name = spec.rpartition("#") if "#" in spec else (spec, "", "")
        if not path_text:
            found = find_stack_file(cwd)
            if found is None:
                raise ConfigError(
                    scrub_secrets(
                        f"{origin}={spec!r} names stack {name!r}, but there is no {FILE_NAME} "
                        "in the current folder or its parents",
                        secret_values(spec),
                    )
                )
            return self.from_file(found, name or None)
        path = Path(path_text).expanduser()
        path = path if path.is_absolute() else cwd / path
        if not path.is_file():
            what = "is a folder, not a stack file" if path.is_dir() else "does not exist"
            # a URL (a DSN given by mistake) is not shown as a path: that collapses `://`, and
            # with it the structure that masks a password of any length
            problem = "is a URL" if "://" in spec else f"{shown_path(path)} {what}"
            raise ConfigError(
                scrub_secrets(
                    f"{origin}={spec!r}: {problem}; give the path of a stack file "
                    "(FILE or FILE#NAME)",
                    secret_values(spec),
                )
            )
        return self.from_file(path, name or None)

    def from_file(self, path: Path, name: str | None) -> Stack:
        from .file import read_stack_config

        signature = _signature(path)
        with self._lock:
            cached = self._files.get((path, name))
            if cached is not None and cached[0] == signature and _same_environment(cached[1]):
                return cached[2]
            config = read_stack_config(path, name)
            stack = Stack.from_config(config)
            self._files[(path, name)] = (signature, config, stack)
            if cached is not None:  # still usable by whoever holds it, reconnecting on demand
                cached[2].close()
            return stack


def _signature(path: Path) -> tuple[int, ...]:
    info = path.stat()
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def _same_environment(config: StackConfig) -> bool:
    return all(os.environ.get(var) == value for var, value in config.environment)


_CACHE = _StackCache()


def _catalog(url: str) -> Catalog:
    """A catalog opened here, so that SQLAlchemy is imported when a stack is made, not before."""
    from ..catalog import Catalog

    return Catalog(url)
