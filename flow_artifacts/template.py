"""Path templates: where an artifact lives inside a store, e.g. `{project}/{run_id}/{step}/{name}`.

Templates are checked when they are set, so a typo fails at configuration time, not mid-pipeline.
"""

from __future__ import annotations

import dataclasses
import string
from dataclasses import dataclass
from datetime import datetime, timezone

from .errors import ConfigError
from .naming import validate_new_name

DEFAULT_TEMPLATE = "{project}/{run_id}/{step}/{name}"
VARIABLES = ("project", "run_id", "step", "name", "date", "pipeline")
# MLRun's spellings, accepted so templates can be shared between the two tools.
_ALIASES = {"{{project}}": "{project}", "{{run.uid}}": "{run_id}"}


@dataclass(frozen=True)
class PathTemplate:
    """A validated path template; `render()` fills it with validated names."""

    source: str = DEFAULT_TEMPLATE
    _format: str = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_format", _compile(self.source))

    def render(
        self,
        *,
        project: str,
        run_id: str,
        step: str,
        name: str,
        pipeline: str = "default",
        date: str | None = None,
    ) -> str:
        values = {
            "project": validate_new_name(project, "project"),
            "run_id": validate_new_name(run_id, "run_id"),
            "step": validate_new_name(step, "step_name"),
            "name": validate_new_name(name, "name"),
            "pipeline": validate_new_name(pipeline, "pipeline"),
            "date": date or (_today() if "{date}" in self._format else ""),
        }
        return self._format.format(**values)


def _today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def url_placeholder(url: str) -> str | None:
    """A template variable written into a store URL (MLRun puts `{{project}}` there), or None.

    A store has one root, where its identity record lives, so a URL cannot vary per artifact:
    the variable belongs in the path template, which puts `{project}` first by default."""
    for alias in _ALIASES:
        if alias in url:
            return alias
    for variable in VARIABLES:
        if "{" + variable + "}" in url:
            return "{" + variable + "}"
    return None


PLACEHOLDER_FIX = (
    "put it in the path template instead (path_template: '{project}/{run_id}/{step}/{name}', "
    "the default) and give the store URL without it"
)


def _compile(source: str) -> str:
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(f"path template must be a non-empty string, got {source!r}")
    text = source
    for alias, canonical in _ALIASES.items():
        text = text.replace(alias, canonical)
    seen: list[str] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ConfigError(f"path template {source!r} is malformed: {exc}") from exc
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in VARIABLES:
            raise ConfigError(
                f"path template {source!r} uses unknown variable {{{field}}}; "
                f"allowed: {', '.join('{' + v + '}' for v in VARIABLES)}"
            )
        if spec or conversion:
            raise ConfigError(f"path template {source!r}: {{{field}}} takes no format spec")
        if field in seen:
            raise ConfigError(f"path template {source!r} uses {{{field}}} twice")
        seen.append(field)
    if "name" not in seen:
        raise ConfigError(f"path template {source!r} must contain {{name}}, or artifacts collide")
    segments = text.split("/")
    if text.startswith("/") or any(seg in ("", ".", "..") for seg in segments):
        raise ConfigError(
            f"path template {source!r} must be relative, without empty, '.' or '..' segments"
        )
    if segments[0].startswith("."):
        raise ConfigError(
            f"path template {source!r} must not start with '.': the store keeps its own records "
            "there"
        )
    return text
