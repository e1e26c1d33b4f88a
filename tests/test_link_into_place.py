"""Moving a local temporary into place (`link_into_place`): a file or a whole folder appears at
its final name at once, never over anything already there, and a refusal leaves both as they
were."""

from __future__ import annotations

from pathlib import Path

import pytest

from flow_artifacts.stores.paths import link_into_place


def test_a_file_moves_into_place_and_never_over_another(tmp_path: Path) -> None:
    temp, final = tmp_path / "temp", tmp_path / "final.json"
    temp.write_bytes(b"ours")
    link_into_place(str(temp), str(final))
    assert final.read_bytes() == b"ours" and not temp.exists()

    temp.write_bytes(b"late")
    with pytest.raises(FileExistsError):
        link_into_place(str(temp), str(final))
    assert final.read_bytes() == b"ours" and temp.read_bytes() == b"late"


def test_a_folder_moves_into_place_and_never_over_a_file_or_folder(tmp_path: Path) -> None:
    temp, final = tmp_path / "temp", tmp_path / "final"
    (temp / "part").mkdir(parents=True)
    (temp / "part" / "0.parquet").write_bytes(b"data")
    link_into_place(str(temp), str(final))
    assert (final / "part" / "0.parquet").read_bytes() == b"data" and not temp.exists()

    for taken in (final, tmp_path / "a-file", tmp_path / "empty-folder"):
        if taken.name == "a-file":
            taken.write_bytes(b"theirs")
        elif taken.name == "empty-folder":
            taken.mkdir()
        temp.mkdir()
        (temp / "x").write_bytes(b"late")
        with pytest.raises(FileExistsError):
            link_into_place(str(temp), str(taken))
        assert (temp / "x").read_bytes() == b"late"  # nothing moved
        (temp / "x").unlink()
        temp.rmdir()
    assert (tmp_path / "a-file").read_bytes() == b"theirs"
    assert list((tmp_path / "empty-folder").iterdir()) == []


def test_a_missing_temporary_is_an_error_not_a_move(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        link_into_place(str(tmp_path / "gone"), str(tmp_path / "final"))
    assert not (tmp_path / "final").exists()
