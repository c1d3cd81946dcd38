from __future__ import annotations

from pathlib import Path

import pytest

from mmlearn.data.manifest import declared_hint, load_manifest, read_manifest
from mmlearn.errors import ManifestError
from tests.helpers import write_jsonl


def test_jsonl_resolves_relative_paths(make_manifest):
    path = make_manifest(per_split=2)
    samples = load_manifest(path, ["category", "subcategory"], "split")
    assert len(samples) == 6
    first = samples[0]
    assert first.id == "train-0"
    assert first.image == path.parent / "media" / "red.png"
    assert first.audio == path.parent / "media" / "low.wav"
    assert first.labels == {"category": "warm", "subcategory": "b"}
    assert first.split == "train"
    assert first.row == 1


def test_csv_with_bom_crlf_and_quoted_comma(tmp_path: Path, media_dir: Path):
    path = tmp_path / "manifest.csv"
    content = (
        "\ufeffid,text,image,category,split\r\n"
        'a,"red, round",media/red.png,warm,train\r\n'
        "b,,media/blue.png,cold,val\r\n"
    )
    path.write_bytes(content.encode("utf-8"))
    samples = load_manifest(path, ["category"], "split")
    assert [s.id for s in samples] == ["a", "b"]
    assert samples[0].text == "red, round"
    assert samples[1].text is None
    assert samples[1].image == tmp_path / "media" / "blue.png"
    assert samples[1].row == 3


def test_missing_file_and_unknown_label_in_one_error(tmp_path: Path, media_dir: Path):
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            {"id": "ok", "image": "media/red.png", "category": "warm", "split": "train"},
            {"id": "lost", "image": "media/missing.png", "category": "warm", "split": "train"},
            {"id": "typo", "image": "media/blue.png", "category": "colld", "split": "val"},
        ],
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, ["category"], "split", classes={"category": ["warm", "cold"]})
    message = str(caught.value)
    assert "2 invalid row(s)" in message
    assert "row 2 (id 'lost'): image file not found" in message
    assert "row 3 (id 'typo'): label 'colld'" in message
    assert "did you mean 'cold'?" in message
    assert "set data.on_error: skip" in message
    assert [p.row for p in caught.value.problems] == [2, 3]


def test_row_with_two_problems_counts_once(tmp_path: Path, media_dir: Path):
    row = {"id": "lost", "image": "media/gone.png", "audio": "media/gone.wav"}
    path = write_jsonl(tmp_path / "bad.jsonl", [{**row, "category": "warm", "split": "train"}])
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, ["category"], "split", file_columns=["image", "audio"])
    message = str(caught.value)
    assert "1 invalid row(s) with 2 problems" in message
    assert "row 1 (id 'lost'): image file not found" in message
    assert "row 1 (id 'lost'): audio file not found" in message


def test_missing_label_column_suggests_closest(make_manifest):
    path = make_manifest(per_split=1)
    with pytest.raises(
        ManifestError, match=r"missing column\(s\) 'categroy' \(did you mean 'category'\?\)"
    ):
        read_manifest(path, ["categroy"], "split")


def test_duplicate_ids_empty_rows_and_bad_splits(tmp_path: Path, media_dir: Path):
    path = write_jsonl(
        tmp_path / "m.jsonl",
        [
            {"id": "x", "text": "hello", "split": "train"},
            {"id": "x", "text": "again", "split": "train"},
            {"id": "y", "text": "", "image": None, "split": "train"},
            {"id": "z", "text": "hi", "split": "training"},
            {"id": "w", "text": "hi", "split": ""},
        ],
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, [], "split")
    reasons = [problem.reason for problem in caught.value.problems]
    assert reasons[0] == "duplicate id, first used in row 1"
    assert reasons[1].startswith("no text, image or audio")
    assert reasons[2].startswith("unknown split 'training'")
    assert (
        reasons[3] == "empty 'split' cell; fill it with one of ['train', 'val', 'test', 'predict']"
    )
    assert [problem.row for problem in caught.value.problems] == [2, 3, 4, 5]


def test_malformed_line_reported_with_other_rows(tmp_path: Path):
    path = tmp_path / "m.jsonl"
    path.write_text(
        '{"id": "a", "text": "x"}\n{"id": "b", "text": \n{"id": "a", "text": "y"}\n[1, 2]\n',
        encoding="utf-8",
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    problems = caught.value.problems
    assert [problem.row for problem in problems] == [2, 3, 4]
    assert problems[0].reason.startswith("malformed JSON")
    assert problems[1].reason == "duplicate id, first used in row 1"
    assert problems[2].reason == "each line must be a JSON object"


def test_error_lists_first_twenty_and_count(tmp_path: Path):
    rows = [{"id": f"s{i}", "image": f"gone{i}.png"} for i in range(25)]
    path = write_jsonl(tmp_path / "m.jsonl", rows)
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    message = str(caught.value)
    assert "25 invalid row(s)" in message
    assert "id 's19'" in message
    assert "id 's20'" not in message
    assert "... and 5 more" in message


def test_unsupported_extension(tmp_path: Path):
    path = tmp_path / "m.txt"
    path.write_text("id\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"use \.jsonl or \.csv"):
        read_manifest(path)


def test_relative_path_may_not_leave_data_root(tmp_path: Path, media_dir: Path):
    nested = tmp_path / "manifests"
    nested.mkdir()
    path = write_jsonl(
        nested / "m.jsonl",
        [
            {"id": "up", "image": "../media/red.png"},
            {"id": "absolute", "image": str(media_dir / "blue.png")},
            {"id": "up-missing", "image": "../media/gone.png"},
        ],
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    # One problem per row: a path out of the root is not also reported as not found.
    assert [problem.sample_id for problem in caught.value.problems] == ["up", "up-missing"]
    for problem in caught.value.problems:
        assert "leads out of the data root" in problem.reason

    # With the data root one level up, the same files are reached without "..".
    inside = write_jsonl(nested / "inside.jsonl", [{"id": "ok", "image": "media/red.png"}])
    samples = load_manifest(inside, root=tmp_path)
    assert samples[0].image == tmp_path / "media" / "red.png"


def test_declared_hint_shortens_a_long_list():
    names = [f"c{index}" for index in range(10)]
    assert declared_hint(names[:2]) == "; the declared classes are 'c0', 'c1'"
    shortened = "; the declared classes are 'c0', 'c1', 'c2', and 7 more"
    assert declared_hint(names, max_names=3) == shortened
