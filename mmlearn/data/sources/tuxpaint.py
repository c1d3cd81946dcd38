"""Write a tri-modal manifest from the Tux Paint stamps (Debian: tuxpaint-stamps-default).

Each PNG stamp becomes one sample: the picture, its caption in one language (from
``<stamp>.txt``: the first line is English, then ``<lang>.utf8=<caption>`` lines) and
its spoken caption ``<stamp>_desc_<lang>.ogg`` (``<stamp>_desc.ogg`` for English).
Labels: ``category`` is the top folder, ``subcategory`` the folder below it, empty for
stamps directly in their category folder.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mmlearn.data.sources.split import group_by_shared_keys, grouped_stratified_split
from mmlearn.errors import MmlearnError

DEFAULT_ROOT = Path("/usr/share/tuxpaint/stamps")
DEFAULT_FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}

# "frog-1", "frog_2", "dumper_mirror" (a flipped copy without caption) and
# "A_filled" / "A_outline" are variants of the stamps "frog", "dumper" and "A".
_VARIANT_SUFFIX = re.compile(r"(?:[-_](?:\d+|mirror|filled|outline))+$")


@dataclass
class Stamp:
    """One PNG stamp and what was found beside it."""

    id: str
    image: Path
    text: str | None
    audio: Path | None
    category: str
    subcategory: str | None


def read_caption(path: Path, language: str) -> str | None:
    """Return the caption of ``path`` in ``language`` (``en`` is the first line), or None."""
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if language == "en":
        return lines[0].strip() or None if lines else None
    prefix = f"{language}.utf8="
    for line in lines[1:]:
        if line.startswith(prefix):
            return line[len(prefix) :].strip() or None
    return None


def spoken_caption(png: Path, language: str) -> Path | None:
    """Return the spoken caption file of a stamp in ``language``, or None if there is none."""
    name = f"{png.stem}_desc.ogg" if language == "en" else f"{png.stem}_desc_{language}.ogg"
    path = png.with_name(name)
    return path if path.is_file() else None


def find_stamps(root: Path, text_language: str = "en", audio_language: str = "fr") -> list[Stamp]:
    """List every PNG stamp under ``root`` with its caption, spoken caption and labels."""
    if not root.is_dir():
        raise MmlearnError(
            f"Tux Paint stamps folder not found: {root}. Install them with "
            "`apt-get install tuxpaint-stamps-default`, or pass the folder with --root."
        )
    stamps = []
    for png in sorted(root.rglob("*.png")):
        relative = png.relative_to(root)
        if len(relative.parts) < 2:
            continue  # a file at the top level has no category
        category = relative.parts[0]
        subcategory = "/".join(relative.parts[:2]) if len(relative.parts) > 2 else None
        stamps.append(
            Stamp(
                id=relative.with_suffix("").as_posix(),
                image=png,
                text=read_caption(png.with_suffix(".txt"), text_language),
                audio=spoken_caption(png, audio_language),
                category=category,
                subcategory=subcategory,
            )
        )
    if not stamps:
        raise MmlearnError(f"no PNG stamps found under {root}")
    return stamps


def _file_digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def duplicate_keys(stamp: Stamp) -> list[tuple[str, str]]:
    """Keys that tie a stamp to its near-duplicates: its name without a variant suffix,
    the content of its picture and spoken caption, and its caption text."""
    keys = [
        ("name", _VARIANT_SUFFIX.sub("", stamp.image.stem.lower())),
        ("image", _file_digest(stamp.image)),
    ]
    if stamp.audio is not None:
        keys.append(("audio", _file_digest(stamp.audio)))
    if stamp.text is not None:
        keys.append(("text", stamp.text.strip().lower()))
    return keys


def build_tuxpaint_manifest(
    output: Path,
    root: Path = DEFAULT_ROOT,
    text_language: str = "en",
    audio_language: str = "fr",
    seed: int = 0,
    fractions: dict[str, float] | None = None,
) -> dict[str, object]:
    """Write ``output`` (JSONL) and ``<output>.meta.json`` and return the metadata.

    The split is stratified by category and grouped by ``duplicate_keys``, so
    near-duplicate stamps never straddle splits. The metadata records the seed, the
    fractions, the languages and the sample counts.
    """
    fractions = fractions or DEFAULT_FRACTIONS
    stamps = find_stamps(root, text_language, audio_language)
    groups = group_by_shared_keys([duplicate_keys(stamp) for stamp in stamps])
    splits = grouped_stratified_split(groups, [s.category for s in stamps], fractions, seed)

    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as file:
        for stamp, split in zip(stamps, splits, strict=True):
            row = {
                "id": stamp.id,
                "text": stamp.text,
                "image": str(stamp.image),
                "audio": str(stamp.audio) if stamp.audio else None,
                "category": stamp.category,
                "subcategory": stamp.subcategory,
                "split": split,
            }
            file.write(json.dumps(row, ensure_ascii=False) + "\n")

    metadata: dict[str, object] = {
        "source": str(root),
        "text_language": text_language,
        "audio_language": audio_language,
        "seed": seed,
        "fractions": fractions,
        "samples": len(stamps),
        "groups": len(set(groups)),
        "split_sizes": dict(Counter(splits)),
        "without_text": sum(s.text is None for s in stamps),
        "without_audio": sum(s.audio is None for s in stamps),
        "categories": dict(sorted(Counter(s.category for s in stamps).items())),
    }
    meta_path = output.with_name(output.name + ".meta.json")
    meta_path.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return metadata
