"""Finding the stack file of the current folder, and using it only when it is the user's own.

A stack file decides where outputs go and which catalog says what may be unpickled, so one planted
in a shared parent folder must not capture a user's runs. As git does with `safe.directory`, a
`flow_artifacts.yaml` found by walking up from the current folder is used only when it (and the
link to it, if it is one) is owned by the current user or root and is not writable by group or
others. The walk stops at the user's home and where the filesystem changes. A file named
explicitly (`--stack`, `FLOW_ARTIFACTS_STACK`, `stack=`) is trusted as given; other folders are
trusted by listing them under `safe_directories` in the user's own config file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import ConfigError

FILE_NAME = "flow_artifacts.yaml"
STACK_ENV = "FLOW_ARTIFACTS_STACK"
DEFAULT_ROOT = ".flow_artifacts"
"""The embedded default stack's folder, in the current folder, made on its first use."""
SAFE_KEY = "safe_directories"
ANY_FOLDER = "*"


def find_stack_file(start: Path) -> Path | None:
    """The `flow_artifacts.yaml` in `start` or its nearest parent that has one, if trusted.

    Raises `ConfigError` naming the file and how to trust it when the nearest one is not.
    Every call that finds the active stack asks here, so the answer is remembered with what it
    rests on: the `stat` of each folder walked (adding, removing or renaming a file there
    changes its modification time) and of the file found (editing, replacing, `chmod` or
    `chown` change its times, inode or mode). While those are unchanged, the answer costs one
    `stat` per folder and two for the file; an untrusted file is never remembered, so its
    error is raised, and the user's config consulted, every time."""
    key = (os.fspath(start), os.environ.get("HOME", ""))
    known = _found.get(key)
    if known is not None and all(_state(path, link) == state for path, link, state in known[1]):
        return None if known[0] is None else Path(known[0])
    seen: list[tuple[str, bool, _State]] = []
    found = None
    for folder, info in _folders(os.fspath(start)):
        seen.append((folder, False, _folder_state(info)))
        candidate = os.path.join(folder, FILE_NAME)
        if os.path.isfile(candidate):
            path = Path(candidate)
            problems = _untrusted_because(path)
            if problems:
                if not _listed_safe(Path(folder)):
                    raise _untrusted_error(path, problems)
                return path
            found = candidate
            seen.append((candidate, True, _state(candidate, True)))
            seen.append((candidate, False, _state(candidate, False)))
            break
    # A change within the filesystem's clock tick of the last one leaves the times as they
    # were, so what changed recently is not remembered yet (as git treats "racy" files).
    settled = time.time_ns() - _SETTLED_NS
    if seen and all(state is not None and max(state[2:4]) < settled for _, _, state in seen):
        if len(_found) > 64:  # a long-lived process wandering through many folders
            _found.clear()
        _found[key] = (found, tuple(seen))
    return None if found is None else Path(found)


_SETTLED_NS = 2_000_000_000
"""How old the times of what an answer rests on must be before it is remembered: coarser than
any filesystem's clock (FAT counts in 2 s)."""

_State = tuple[int, int, int, int, int] | None
"""What `stat` (or `lstat`) says of a path: inode, device, mtime, ctime, mode; None if absent."""

_found: dict[tuple[str, str], tuple[str | None, tuple[tuple[str, bool, _State], ...]]] = {}
"""(start folder, $HOME) -> (the trusted stack file found, or None; each path consulted, with
whether it was `lstat`ed, and its state), in this process."""


def _state(path: str, link: bool) -> _State:
    try:
        info = os.lstat(path) if link else os.stat(path)
    except OSError:
        return None
    if not link and stat.S_ISDIR(info.st_mode):
        return _folder_state(info)
    return (info.st_ino, info.st_dev, info.st_mtime_ns, info.st_ctime_ns, info.st_mode)


def _folder_state(info: os.stat_result) -> _State:
    """A folder walked, as its entries' changes show in it: inode, device, mtime."""
    return (info.st_ino, info.st_dev, info.st_mtime_ns, 0, 0)


def nothing_to_open(cwd: Path) -> bool:
    """Whether no stack is named (`FLOW_ARTIFACTS_STACK`) or found from `cwd` and the embedded
    default was never used there: reading would only create an empty store and catalog, so
    the CLI answers "nothing here" without opening (or importing) either."""
    if os.environ.get(STACK_ENV) or (cwd / DEFAULT_ROOT).exists():
        return False
    try:
        return find_stack_file(cwd) is None
    except ConfigError:  # an untrusted file: opening the stack says so
        return False


def user_config_file() -> Path:
    """`$XDG_CONFIG_HOME/flow-artifacts/config.yaml`, by default under `~/.config`."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "flow-artifacts" / "config.yaml"


def _folders(start: str) -> Iterator[tuple[str, os.stat_result]]:
    """`start` and its parents, up to the user's home and no further than `start`'s filesystem,
    each with its `stat`."""
    home = _home_spellings()
    try:
        device = os.stat(start).st_dev
    except OSError:
        return
    folder = start
    while True:
        try:
            info = os.stat(folder)
        except OSError:
            return
        if info.st_dev != device:
            return
        yield folder, info
        parent = os.path.dirname(folder)
        if folder in home or parent == folder:
            return
        folder = parent


def _home() -> tuple[Path, ...]:
    """The home folder as written and as resolved, so a symlinked home still stops the walk."""
    return tuple(Path(home) for home in _home_spellings())


def _home_spellings() -> tuple[str, ...]:
    home = os.path.expanduser("~")
    if home.startswith("~"):  # no HOME and no password entry
        return ()
    home = os.path.normpath(home)
    return tuple(dict.fromkeys((home, os.path.realpath(home))))


def _untrusted_because(path: Path) -> list[str]:
    """Why `path` cannot be trusted as the current user's own file; empty when it can.

    POSIX owners and modes only: on Windows, where ACLs decide, nothing is checked."""
    if os.name == "nt":
        return []
    me, link, target = os.geteuid(), path.lstat(), path.stat()
    problems = []
    if stat.S_ISLNK(link.st_mode) and link.st_uid not in (me, 0):
        problems.append(f"the link to it is owned by {_user(link.st_uid)}, not by {_user(me)}")
    if target.st_uid not in (me, 0):
        problems.append(f"it is owned by {_user(target.st_uid)}, not by {_user(me)}")
    if target.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        problems.append("it is writable by group or others")
    return problems


def _user(uid: int) -> str:
    try:
        import pwd

        return f"user {pwd.getpwuid(uid).pw_name!r}"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _listed_safe(folder: Path) -> bool:
    """Whether the user's config lists `folder` (or `*`) under `safe_directories`."""
    config = user_config_file()
    if not config.is_file():
        return False
    from .strict_yaml import read_yaml

    doc = read_yaml(config)
    body = doc.value if doc.value is not None else {}
    if not isinstance(body, dict):
        raise doc.error((), "expected a mapping", allowed=SAFE_KEY)
    for key in body:
        if key != SAFE_KEY:
            raise doc.error((key,), "unknown key", allowed=SAFE_KEY)
    entries = body.get(SAFE_KEY) or []
    if not isinstance(entries, list):
        raise doc.error((SAFE_KEY,), "expected a list of folders")
    resolved = folder.resolve()
    for index, entry in enumerate(entries):
        if entry == ANY_FOLDER:
            return True
        if not isinstance(entry, str) or not Path(entry).expanduser().is_absolute():
            raise doc.error(
                (SAFE_KEY, index), "expected an absolute folder", allowed="/path, ~/path or '*'"
            )
        if Path(entry).expanduser().resolve() == resolved:
            return True
    return False


def _untrusted_error(path: Path, problems: list[str]) -> ConfigError:
    shown = _short(path)
    where = "the current folder" if path.parent == Path.cwd() else "a parent of the current folder"
    return ConfigError(
        f"the stack file {shown} in {where} is not used, because {' and '.join(problems)}: a "
        "stack file decides where your artifacts go, so a discovered one is used only when it is "
        f"yours. If you trust it, name it: FLOW_ARTIFACTS_STACK={shown} (or --stack {shown}), or "
        f"add {_short(path.parent, relative=False)} to {SAFE_KEY} in "
        f"{_short(user_config_file(), relative=False)}. If it is yours, make it so: "
        f"`chown $USER {shown}; chmod go-w {shown}`"
    )


def _short(path: Path, relative: bool = True) -> str:
    """`path` as `~/...` when under home, else (when `relative`) relative to the current folder."""
    for home in _home():
        if home != Path(home.anchor):
            with contextlib.suppress(ValueError):
                return str(Path("~") / path.relative_to(home))
    return os.path.relpath(path) if relative else str(path)
