"""The owner recorded with every write follows the work tree's HEAD as it moves."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from flow_artifacts.provenance import owner


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@b", "HOME": str(repo), "PATH": "/usr/bin:/bin"}  # fmt: skip
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _repository(repo: Path, message: str) -> None:
    """A new repository at `repo` on branch main, with one empty commit."""
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "commit", "-q", "--allow-empty", "-m", message)


def test_owner_follows_new_commits_branch_switches_and_packed_refs(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q", "-b", "main")
    assert "commit" not in owner(tmp_path)  # a branch without commits yet
    _git(tmp_path, "commit", "-q", "--allow-empty", "-m", "one")
    first = _git(tmp_path, "rev-parse", "HEAD")
    assert owner(tmp_path)["commit"] == first
    _git(tmp_path, "commit", "-q", "--allow-empty", "-m", "two")
    second = _git(tmp_path, "rev-parse", "HEAD")
    assert owner(tmp_path)["commit"] == second  # remembered answers are checked, not trusted
    _git(tmp_path, "checkout", "-q", "-b", "old", first)
    assert owner(tmp_path)["commit"] == first
    _git(tmp_path, "pack-refs", "--all")
    _git(tmp_path, "checkout", "-q", "main")
    assert owner(tmp_path)["commit"] == second  # from packed-refs now
    shutil.rmtree(tmp_path / ".git")
    assert "commit" not in owner(tmp_path)


def test_owner_names_the_commit_of_the_current_folder_while_it_exists(tmp_path: Path, monkeypatch):
    repo = tmp_path / "repo"
    _repository(repo, "one")
    monkeypatch.chdir(repo / ".git")  # inside the work tree's folder, as a script run from it
    assert owner()["commit"] == _git(repo, "rev-parse", "HEAD")
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert "commit" not in owner()  # no current folder: no work tree to name a commit of


def test_owner_in_a_linked_worktree_follows_its_branch_and_the_main_repository(
    tmp_path: Path,
) -> None:
    main, linked = tmp_path / "main", tmp_path / "linked"
    _repository(main, "one")
    _git(main, "worktree", "add", "-q", "-b", "side", str(linked))
    assert owner(linked)["commit"] == owner(main)["commit"] == _git(main, "rev-parse", "HEAD")
    _git(linked, "commit", "-q", "--allow-empty", "-m", "on side")  # a new commit, in there
    assert owner(linked)["commit"] == _git(linked, "rev-parse", "HEAD")
    _git(main, "commit", "-q", "--allow-empty", "-m", "two")  # its branch moved, side did not
    assert owner(main)["commit"] == _git(main, "rev-parse", "HEAD")
    assert owner(linked)["commit"] == _git(linked, "rev-parse", "side")
    _git(linked, "checkout", "-q", "--detach", "main")  # a checkout of another commit
    assert owner(linked)["commit"] == _git(main, "rev-parse", "main")
    (linked / ".git").unlink()  # no longer a work tree
    assert "commit" not in owner(linked)


def test_owner_names_each_folders_own_repository_and_a_replaced_one(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for repo, message in ((a, "in a"), (b, "in b")):
        _repository(repo, message)
    (a / "sub").mkdir()
    assert owner(a / "sub")["commit"] == owner(a)["commit"] == _git(a, "rev-parse", "HEAD")
    assert owner(b)["commit"] == _git(b, "rev-parse", "HEAD") != owner(a)["commit"]
    shutil.rmtree(a / ".git")
    shutil.copytree(b / ".git", a / ".git")  # another repository at the same path
    assert owner(a / "sub")["commit"] == owner(a)["commit"] == _git(b, "rev-parse", "HEAD")
    (a / "sub" / ".git").mkdir()  # a nearer .git, not a repository: names no commit
    assert "commit" not in owner(a / "sub")


def test_owner_reads_a_branch_where_git_does_not_a_stray_file_of_the_worktree(
    tmp_path: Path,
) -> None:
    main, linked = tmp_path / "main", tmp_path / "linked"
    _repository(main, "one")
    first = _git(main, "rev-parse", "HEAD")
    _git(main, "worktree", "add", "-q", "-b", "side", str(linked))
    _git(main, "commit", "-q", "--allow-empty", "-m", "two")
    second = _git(main, "rev-parse", "HEAD")
    # a file where a branch would be, in the linked work tree's own git folder: git ignores it
    stray = main / ".git" / "worktrees" / "linked" / "refs" / "heads" / "side"
    stray.parent.mkdir(parents=True)
    stray.write_text(second + "\n")
    assert owner(linked)["commit"] == _git(linked, "rev-parse", "HEAD") == first
