"""A `flow_artifacts.yaml` found above the current folder is used only when it is the user's own."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import flow_artifacts as fa
from flow_artifacts.cli.main import cli
from flow_artifacts.stack.discovery import find_stack_file

OTHER_UID = 4242
NOBODY = 65534


@pytest.fixture(autouse=True)
def _home(monkeypatch, tmp_path) -> Path:
    """A home of its own under tmp_path, no stack variable, and no user config."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("FLOW_ARTIFACTS_STACK", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return home


def plant(folder: Path, project: str, mode: int = 0o644, uid: int | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "flow_artifacts.yaml"
    path.write_text(f"project: {project}\n")
    path.chmod(mode)
    if uid is not None:
        os.chown(path, uid, uid)
    return path


def test_a_group_writable_file_in_a_parent_is_refused_with_how_to_trust_it(
    tmp_path, monkeypatch, _home
):
    shared = _home / "shared"
    planted = plant(shared, "planted", mode=0o664)
    below = shared / "me" / "project"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)

    with pytest.raises(fa.ConfigError) as caught:
        fa.get_stack()
    message = str(caught.value)
    assert "~/shared/flow_artifacts.yaml" in message and str(tmp_path) not in message
    assert "writable by group or others" in message
    assert "FLOW_ARTIFACTS_STACK=~/shared/flow_artifacts.yaml" in message
    assert "safe_directories in ~/.config/flow-artifacts/config.yaml" in message
    assert not (shared / ".flow_artifacts").exists()  # nothing was opened or created there

    result = CliRunner().invoke(cli, ["stack", "show"])
    assert result.exit_code == 1 and "writable by group or others" in result.output
    assert str(tmp_path) not in result.output

    monkeypatch.setenv("FLOW_ARTIFACTS_STACK", "#anything")  # still the discovered file
    with pytest.raises(fa.ConfigError, match="writable by group or others"):
        fa.get_stack()

    monkeypatch.setenv("FLOW_ARTIFACTS_STACK", str(planted))  # named: trusted as given
    assert fa.get_stack().project == "planted"
    monkeypatch.delenv("FLOW_ARTIFACTS_STACK")
    assert fa.Stack.from_yaml(planted).project == "planted"
    with fa.use_stack(str(planted)) as named:
        assert named.project == "planted"
    result = CliRunner().invoke(cli, ["--stack", str(planted), "stack", "show", "--json"])
    assert result.exit_code == 0 and '"project": "planted"' in result.output


def test_a_file_outside_home_is_named_relative_to_the_current_folder(tmp_path, monkeypatch):
    plant(tmp_path / "team", "planted", mode=0o666)
    below = tmp_path / "team" / "project"
    below.mkdir()
    monkeypatch.chdir(below)
    with pytest.raises(fa.ConfigError) as caught:
        fa.get_stack()
    message = str(caught.value)
    assert "the stack file ../flow_artifacts.yaml in a parent of the current folder" in message
    assert f"add {tmp_path / 'team'} to safe_directories" in message  # the entry to write


def test_a_file_owned_by_another_user_is_refused_even_when_not_writable(tmp_path, monkeypatch):
    plant(tmp_path / "shared", "planted", uid=OTHER_UID)
    monkeypatch.chdir(plant(tmp_path / "shared" / "mine", "x").parent.parent)  # in "shared" itself
    with pytest.raises(fa.ConfigError) as caught:
        fa.get_stack()
    assert f"it is owned by uid {OTHER_UID}, not by user 'root'" in str(caught.value)
    assert "in the current folder is not used" in str(caught.value)


def test_a_symlink_planted_by_another_user_is_refused(tmp_path, monkeypatch):
    own = plant(tmp_path / "mine", "mine")
    link = tmp_path / "shared" / "flow_artifacts.yaml"
    link.parent.mkdir()
    link.symlink_to(own)
    os.lchown(link, OTHER_UID, OTHER_UID)
    monkeypatch.chdir(link.parent)
    with pytest.raises(fa.ConfigError, match=f"the link to it is owned by uid {OTHER_UID}"):
        fa.get_stack()


def test_the_users_own_safe_file_is_used(tmp_path, monkeypatch, _home):
    plant(_home / "project", "mine", mode=0o600)
    below = _home / "project" / "src"
    below.mkdir()
    monkeypatch.chdir(below)
    assert fa.get_stack().project == "mine"


def test_safe_directories_in_the_users_config_trust_a_folder(tmp_path, monkeypatch, _home):
    shared = tmp_path / "shared"
    plant(shared, "team", mode=0o664)
    monkeypatch.chdir(shared)
    config = _home / ".config" / "flow-artifacts" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(f"safe_directories: [{tmp_path / 'elsewhere'}]\n")
    with pytest.raises(fa.ConfigError, match="writable by group or others"):
        fa.get_stack()
    config.write_text(f"safe_directories:\n  - {tmp_path / 'elsewhere'}\n  - {shared}\n")
    assert fa.get_stack().project == "team"

    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))  # takes the place of ~/.config
    (xdg / "flow-artifacts").mkdir(parents=True)
    (xdg / "flow-artifacts" / "config.yaml").write_text("safe_directories: ['*']\n")
    assert fa.get_stack().project == "team"

    (xdg / "flow-artifacts" / "config.yaml").write_text("safe_directories:\n  - relative/dir\n")
    with pytest.raises(fa.ConfigError) as caught:
        fa.get_stack()
    assert "config.yaml, line 2, key 'safe_directories.0': expected an absolute folder" in str(
        caught.value
    )


def test_the_walk_stops_at_home(tmp_path, monkeypatch, _home):
    plant(tmp_path, "above-home")  # safe, but above the user's home
    project = _home / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    stack = fa.get_stack()
    assert stack.source is None and stack.store.url == str(project / ".flow_artifacts/artifacts")

    plant(_home, "home")  # home itself is still searched
    assert fa.get_stack().project == "home"


def test_the_walk_stops_at_a_filesystem_boundary():
    shm, parent = Path("/dev/shm"), Path("/dev")
    if not shm.is_dir() or shm.stat().st_dev == parent.stat().st_dev or not os.access(parent, 2):
        pytest.skip("needs /dev/shm mounted apart from a writable /dev")
    start = Path(tempfile.mkdtemp(dir=shm))
    planted = parent / "flow_artifacts.yaml"
    assert not planted.exists()
    try:
        planted.write_text("project: across-the-boundary\n")
        cwd = os.getcwd()
        os.chdir(start)
        try:
            stack = fa.get_stack()
        finally:
            os.chdir(cwd)
        assert stack.source is None and stack.project == "default"
    finally:
        planted.unlink()
        shutil.rmtree(start)


def test_for_an_ordinary_user_root_owned_and_own_files_are_trusted_others_not(monkeypatch):
    """Looked for as `nobody` (the suite runs as root), so "owned by root" is a real case."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    base = Path(tempfile.mkdtemp())  # not under tmp_path, which only root may enter
    try:
        base.chmod(0o755)
        project = base / "project"
        project.mkdir()
        monkeypatch.chdir(project)
        monkeypatch.setenv("HOME", str(base / "nohome"))

        def find_as_nobody() -> Path | None:
            os.seteuid(NOBODY)
            try:
                return find_stack_file(project)
            finally:
                os.seteuid(0)

        planted = plant(base, "root-owned")
        assert find_as_nobody() == planted
        os.chown(planted, NOBODY, NOBODY)
        assert find_as_nobody() == planted
        os.chown(planted, OTHER_UID, OTHER_UID)
        with pytest.raises(fa.ConfigError) as caught:
            find_as_nobody()
        assert str(caught.value).startswith(
            "the stack file ../flow_artifacts.yaml in a parent of the current folder is not "
            f"used, because it is owned by uid {OTHER_UID}, not by user 'nobody'"
        )
    finally:
        shutil.rmtree(base)
