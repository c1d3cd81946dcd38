from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from mmlearn.cli import main
from mmlearn.data.manifest import load_manifest
from mmlearn.data.sources.split import group_by_shared_keys, grouped_stratified_split
from mmlearn.data.sources.tuxpaint import build_tuxpaint_manifest, read_caption
from tests.helpers import TUXPAINT_ROOT, write_png, write_tone


def write_stamp(folder: Path, name: str, caption: str, color, french_audio: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_png(folder / f"{name}.png", color)
    (folder / f"{name}.txt").write_text(
        f"{caption}\nfr.utf8=Le {caption}\nzh_CN.utf8=一个\n", encoding="utf-8"
    )
    if french_audio:
        write_tone(folder / f"{name}_desc_fr.ogg", frequency=200 + 10 * len(name))


@pytest.fixture
def stamps(tmp_path: Path) -> Path:
    root = tmp_path / "stamps"
    for index in range(6):
        write_stamp(
            root / "animals" / "birds",
            f"bird{chr(97 + index)}",
            f"Bird {index}.",
            (index * 40, 10, 10, 255),
        )
        write_stamp(
            root / "food",
            f"apple{chr(97 + index)}",
            f"Apple {index}.",
            (10, index * 40, 10, 255),
            french_audio=index != 0,
        )
    write_stamp(root / "animals" / "amphibians", "frog", "A frog.", (0, 200, 0, 255))
    write_stamp(root / "animals" / "amphibians", "frog-1", "A green frog.", (0, 180, 0, 255))
    # A flipped copy has neither caption nor speech, only its picture.
    write_png(root / "animals" / "amphibians" / "frog_mirror.png", (0, 170, 0, 255))
    return root


def test_read_caption_languages(tmp_path: Path):
    path = tmp_path / "cat.txt"
    path.write_text("A cat.\nfr.utf8=Un chat.\nzh_CN.utf8=一只猫。\n", encoding="utf-8")
    assert read_caption(path, "en") == "A cat."
    assert read_caption(path, "fr") == "Un chat."
    assert read_caption(path, "zh_CN") == "一只猫。"
    assert read_caption(path, "de") is None
    assert read_caption(tmp_path / "missing.txt", "en") is None


def test_manifest_labels_audio_and_metadata(stamps: Path, tmp_path: Path):
    out = tmp_path / "data" / "manifest.jsonl"
    metadata = build_tuxpaint_manifest(out, stamps, seed=3)
    rows = {row["id"]: row for row in map(json.loads, out.read_text().splitlines())}

    assert len(rows) == 15
    assert rows["animals/birds/birda"]["category"] == "animals"
    assert rows["animals/birds/birda"]["subcategory"] == "animals/birds"
    assert rows["food/applea"]["subcategory"] is None
    assert rows["food/applea"]["audio"] is None
    assert rows["food/appleb"]["audio"].endswith("appleb_desc_fr.ogg")
    assert rows["animals/amphibians/frog"]["text"] == "A frog."
    assert rows["animals/amphibians/frog_mirror"]["text"] is None
    assert rows["animals/amphibians/frog_mirror"]["audio"] is None
    assert metadata["seed"] == 3
    assert metadata["without_audio"] == 2
    assert metadata["without_text"] == 1
    assert json.loads((tmp_path / "data" / "manifest.jsonl.meta.json").read_text())["seed"] == 3
    samples = load_manifest(out, ["category", "subcategory"], "split")
    assert len(samples) == 15


def test_near_duplicates_share_a_split(stamps: Path, tmp_path: Path):
    for seed in range(10):
        out = tmp_path / f"m{seed}.jsonl"
        build_tuxpaint_manifest(out, stamps, seed=seed)
        rows = {row["id"]: row for row in map(json.loads, out.read_text().splitlines())}
        frog = rows["animals/amphibians/frog"]["split"]
        assert rows["animals/amphibians/frog-1"]["split"] == frog, seed
        assert rows["animals/amphibians/frog_mirror"]["split"] == frog, seed


def test_same_seed_same_split(stamps: Path, tmp_path: Path):
    build_tuxpaint_manifest(tmp_path / "a.jsonl", stamps, seed=7)
    build_tuxpaint_manifest(tmp_path / "b.jsonl", stamps, seed=7)
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()


def test_grouping_follows_shared_keys_transitively():
    keys = [["a"], ["b"], ["a", "c"], ["c"], ["d", "b"]]
    groups = group_by_shared_keys(keys)
    assert groups[0] == groups[2] == groups[3]
    assert groups[1] == groups[4]
    assert groups[0] != groups[1]


def test_stratified_split_close_to_fractions():
    groups = list(range(200))
    strata = ["x"] * 100 + ["y"] * 100
    splits = grouped_stratified_split(groups, strata, {"train": 0.7, "val": 0.15, "test": 0.15}, 0)
    for stratum in ("x", "y"):
        counts = Counter(s for s, t in zip(splits, strata, strict=True) if t == stratum)
        assert counts == {"train": 70, "val": 15, "test": 15}


def test_data_command_writes_manifest(stamps: Path, tmp_path: Path, capsys):
    out = tmp_path / "cli" / "manifest.jsonl"
    with pytest.raises(SystemExit) as caught:
        main(["data", "tuxpaint", "--root", str(stamps), "--out", str(out), "--seed", "1"])
    assert caught.value.code == 0
    assert "Wrote 15 samples" in capsys.readouterr().out
    assert len(out.read_text().splitlines()) == 15


def test_missing_stamps_folder_explains_install(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["data", "tuxpaint", "--root", str(tmp_path / "none"), "--out", str(tmp_path / "m")])
    assert caught.value.code == 2
    assert "apt-get install tuxpaint-stamps-default" in capsys.readouterr().err


@pytest.mark.tuxpaint
@pytest.mark.skipif(not TUXPAINT_ROOT.is_dir(), reason="tuxpaint-stamps-default is not installed")
def test_real_stamps_manifest(tmp_path: Path):
    out = tmp_path / "manifest.jsonl"
    metadata = build_tuxpaint_manifest(out, TUXPAINT_ROOT)
    assert metadata["samples"] >= 750
    assert len(metadata["categories"]) >= 16
    samples = load_manifest(out, ["category", "subcategory"], "split")
    by_id = {sample.id: sample for sample in samples}
    assert by_id["animals/amphibians/frog"].split == by_id["animals/amphibians/frog-1"].split
    mirrors = [sample for sample in samples if sample.id.endswith("_mirror")]
    assert mirrors
    for mirror in mirrors:
        original = by_id.get(mirror.id.removesuffix("_mirror"))
        if original is not None:
            assert mirror.split == original.split, mirror.id
    with_audio = sum(sample.audio is not None for sample in samples)
    assert with_audio / len(samples) > 0.9
    splits = Counter(sample.split for sample in samples)
    assert splits["train"] > splits["val"] > 0
    assert splits["test"] > 0
