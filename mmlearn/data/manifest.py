"""Read and validate sample manifests (JSONL or CSV).

A manifest has one row per sample with these columns:

- ``id`` (required): a unique sample id;
- ``text``, ``image``, ``audio`` (optional): the text itself, and paths to the media
  files. Relative paths resolve against the manifest's folder. An empty value or a
  missing key means the sample lacks that modality, but every sample needs one or more;
- one column per label (for example ``category``). An empty value means the sample has
  no label for that task, so that task's loss and metrics leave it out. A column's
  task type sets what a value may be (see ``mmlearn.data.labels``): one class, a list
  of classes, or a number;
- ``split``: ``train``, ``val``, ``test`` or ``predict``, unless each split has a file.

Validation runs once at set-up and reports every invalid row in one error.
"""

from __future__ import annotations

import csv
import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mmlearn.data.labels import parse_label
from mmlearn.errors import ManifestError, RowProblem
from mmlearn.modalities import AUDIO, IMAGE, TEXT

MEDIA_COLUMNS = (IMAGE, AUDIO)
MODALITY_COLUMNS = (TEXT, *MEDIA_COLUMNS)
SPLITS = ("train", "val", "test", "predict")


@dataclass
class Sample:
    """One manifest row after parsing: absent modalities and labels are ``None``."""

    id: str
    row: int
    text: str | None = None
    image: Path | None = None
    audio: Path | None = None
    labels: dict[str, str | list[str] | float | None] = field(default_factory=dict)
    """Parsed labels per column: a class name, a list of them, or a number."""
    split: str | None = None
    outside_root: list[str] = field(default_factory=list)
    """Media columns whose relative path leads out of the data root."""
    cell_errors: list[str] = field(default_factory=list)
    """Reasons why cells are invalid: a label that does not fit its column's type, or
    an empty split cell."""
    parse_error: str | None = None
    """The reason the row could not be parsed. Such a row has no other fields."""

    def modalities(self) -> list[str]:
        """Return the names of the modalities that this sample has."""
        return [name for name in MODALITY_COLUMNS if getattr(self, name) is not None]


def _read_rows(
    path: Path,
) -> tuple[list[str], list[tuple[int, dict[str, object]]], list[tuple[int, str]]]:
    """Read the raw rows with their 1-based line numbers, the column names seen, and the
    lines that could not be parsed with the reason."""
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise ManifestError(str(path), "unsupported extension; use .jsonl or .csv")
    try:
        # utf-8-sig drops a byte-order mark that spreadsheet programs write.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ManifestError(
            str(path),
            f"file not found (looked for {path.resolve()}); relative paths start at the "
            "folder mmlearn runs in, so check data.manifest or run from another folder",
        ) from None
    except UnicodeDecodeError as error:
        raise ManifestError(str(path), f"not valid UTF-8 ({error}); save it as UTF-8") from None

    rows: list[tuple[int, dict[str, object]]] = []
    columns: list[str] = []
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        columns = [name.strip() for name in reader.fieldnames or []]
        for record in reader:
            values = {key.strip(): value for key, value in record.items() if key is not None}
            rows.append((reader.line_num, values))
        return columns, rows, []

    bad_lines: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            bad_lines.append((number, f"malformed JSON ({error.msg})"))
            continue
        if not isinstance(record, dict):
            bad_lines.append((number, "each line must be a JSON object"))
            continue
        for key in record:
            if key not in columns:
                columns.append(key)
        rows.append((number, record))
    return columns, rows, bad_lines


def _clean(value: object) -> str | None:
    """Map empty and null cells to ``None`` and everything else to a stripped string."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _clean_label(value: object) -> str | list[str] | None:
    """Like ``_clean``, but keep a JSON list (a multilabel cell) as a list of strings."""
    if isinstance(value, list):
        return [text for text in (_clean(item) for item in value) if text is not None]
    return _clean(value)


def _parse_labels(
    record: dict[str, object], label_types: Mapping[str, str]
) -> tuple[dict[str, str | list[str] | float | None], list[str]]:
    labels: dict[str, str | list[str] | float | None] = {}
    errors = []
    for column, kind in label_types.items():
        try:
            labels[column] = parse_label(_clean_label(record.get(column)), kind)
        except ValueError as error:
            labels[column] = None
            errors.append(f"column {column!r}: {error}")
    return labels, errors


def _check_columns(path: Path, columns: Sequence[str], required: Iterable[str]) -> None:
    missing = [name for name in required if name not in columns]
    if not missing:
        return
    hints = []
    for name in missing:
        close = difflib.get_close_matches(name, columns, n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise ManifestError(
        str(path),
        f"missing column(s) {', '.join(hints)}; the columns found are {list(columns)}",
    )


def read_manifest(
    path: str | Path,
    label_columns: Sequence[str] = (),
    split_column: str | None = None,
    root: str | Path | None = None,
    label_types: Mapping[str, str] | None = None,
    labels_required: bool = True,
) -> list[Sample]:
    """Parse a manifest into samples, checking its columns but not its files or labels.

    Relative media paths resolve against ``root``, by default the manifest's folder.
    Labels are parsed by their column's type in ``label_types`` (``multiclass`` when
    not listed); a cell that does not fit is recorded in ``Sample.cell_errors``, as is
    an empty cell in the split column.

    A malformed JSONL line becomes a sample with ``parse_error`` set, so that
    ``find_problems`` reports it together with every other invalid row.

    With ``labels_required`` false, as for new data to predict on, a label column may
    be left out of the file, and its labels are then empty.

    Raises
    ------
    ManifestError
        If the file cannot be read or a required column (``id``, a label column, the
        split column) is missing.
    """
    path = Path(path)
    types = {column: (label_types or {}).get(column, "multiclass") for column in label_columns}
    columns, rows, bad_lines = _read_rows(path)
    required = ["id", *(label_columns if labels_required else [])]
    required += [split_column] if split_column else []
    _check_columns(path, columns, required)

    root = Path(root) if root is not None else path.parent
    resolved_root = root.resolve()
    samples = []
    for row, record in rows:
        media: dict[str, Path | None] = {}
        outside_root = []
        for name in MEDIA_COLUMNS:
            value = _clean(record.get(name))
            if value is None:
                media[name] = None
                continue
            media[name] = root / value
            relative = not Path(value).is_absolute()
            if relative and not (root / value).resolve().is_relative_to(resolved_root):
                outside_root.append(name)
        raw_text = record.get(TEXT)
        labels, cell_errors = _parse_labels(record, types)
        split = _clean(record.get(split_column)) if split_column else None
        if split_column and split is None:
            cell_errors.append(f"empty {split_column!r} cell; fill it with one of {list(SPLITS)}")
        samples.append(
            Sample(
                id=_clean(record.get("id")) or "",
                row=row,
                # Text keeps its whitespace, but text that is only whitespace is absent.
                text=None if raw_text is None or not str(raw_text).strip() else str(raw_text),
                image=media[IMAGE],
                audio=media[AUDIO],
                labels=labels,
                split=split,
                outside_root=outside_root,
                cell_errors=cell_errors,
            )
        )
    if bad_lines:
        samples += [Sample(id="?", row=row, parse_error=reason) for row, reason in bad_lines]
        samples.sort(key=lambda sample: sample.row)
    return samples


def find_problems(
    samples: Sequence[Sample],
    classes: Mapping[str, Sequence[str] | None] | None = None,
    file_columns: Sequence[str] = MEDIA_COLUMNS,
) -> list[RowProblem]:
    """Return every problem in ``samples``, in row order.

    Checks for a missing or duplicate id and for a row with no modality. Checks media
    paths: a relative path may not lead out of the data root, and the files of the
    ``file_columns`` (the modalities a model reads) must exist.
    Checks for an unknown split name, for a label that does not fit its column's
    type, and for a label outside its declared classes in the label columns whose
    classes are given.
    """
    problems: list[RowProblem] = []
    first_row_of_id: dict[str, int] = {}
    for sample in samples:

        def report(reason: str, sample: Sample = sample) -> None:
            problems.append(RowProblem(sample.row, sample.id, reason))

        if sample.parse_error is not None:
            report(sample.parse_error)
            continue

        if not sample.id:
            report("missing id")
        elif sample.id in first_row_of_id:
            report(f"duplicate id, first used in row {first_row_of_id[sample.id]}")
        else:
            first_row_of_id[sample.id] = sample.row
        if not sample.modalities():
            report("no text, image or audio; every sample needs at least one modality")
        for name in sample.outside_root:
            report(
                f"relative {name} path {getattr(sample, name)} leads out of the data root; "
                "use a path inside the manifest's folder (or data.data_root) or an absolute path"
            )
        for name in file_columns:
            file = getattr(sample, name)
            # A path out of the data root is already reported, with what to do.
            if name in sample.outside_root:
                continue
            if file is not None and not file.is_file():
                report(f"{name} file not found: {file}")
        if sample.split is not None and sample.split not in SPLITS:
            report(f"unknown split {sample.split!r}; use one of {list(SPLITS)}")
        for reason in sample.cell_errors:
            report(reason)
        for column, allowed in (classes or {}).items():
            value = sample.labels.get(column)
            if allowed is None or value is None or isinstance(value, float):
                continue
            for name in value if isinstance(value, list) else [value]:
                if name not in allowed:
                    close = difflib.get_close_matches(name, list(allowed), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else declared_hint(allowed)
                    report(f"label {name!r} in column {column!r} is not a declared class{hint}")
    return problems


def declared_hint(allowed: Sequence[str], max_names: int = 8) -> str:
    """Return a note that names the declared classes, at most ``max_names`` of them."""
    names = ", ".join(repr(name) for name in list(allowed)[:max_names])
    more = f", and {len(allowed) - max_names} more" if len(allowed) > max_names else ""
    return f"; the declared classes are {names}{more}"


def load_manifest(
    path: str | Path,
    label_columns: Sequence[str] = (),
    split_column: str | None = None,
    classes: Mapping[str, Sequence[str] | None] | None = None,
    file_columns: Sequence[str] = MEDIA_COLUMNS,
    root: str | Path | None = None,
    label_types: Mapping[str, str] | None = None,
    labels_required: bool = True,
) -> list[Sample]:
    """Read and validate a manifest, raising one ``ManifestError`` that lists every bad row."""
    samples = read_manifest(path, label_columns, split_column, root, label_types, labels_required)
    problems = find_problems(samples, classes, file_columns)
    if problems:
        raise ManifestError(str(path), problems)
    return samples
