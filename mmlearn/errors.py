"""Domain errors. Each one carries enough context (row, id, path, key) to act on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class MmlearnError(Exception):
    """Base class of the errors that mmlearn raises for bad input or configuration."""


@dataclass(frozen=True)
class RowProblem:
    """One invalid manifest row: its 1-based line number, its id and the reason."""

    row: int
    sample_id: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row} (id {self.sample_id!r}): {self.reason}"


class ManifestError(MmlearnError):
    """A manifest that cannot be read, or rows that fail validation.

    The message lists the first ``max_listed`` problems and the total count, so one run
    reports every bad row at once.
    """

    def __init__(self, path: str, problems: Sequence[RowProblem] | str, max_listed: int = 20):
        self.path = path
        if isinstance(problems, str):
            self.problems: list[RowProblem] = []
            super().__init__(f"invalid manifest {path}: {problems}")
            return
        self.problems = list(problems)
        rows = len({problem.row for problem in self.problems})
        count = f"{rows} invalid row(s)"
        if len(self.problems) > rows:
            count += f" with {len(self.problems)} problems"
        lines = [f"invalid manifest {path}: {count}"]
        lines += [f"  {problem}" for problem in self.problems[:max_listed]]
        if len(self.problems) > max_listed:
            lines.append(f"  ... and {len(self.problems) - max_listed} more")
        lines.append(
            "Fix these rows or remove them from the manifest, then run again, or set "
            "data.on_error: skip to leave them out and list them in a report."
        )
        super().__init__("\n".join(lines))


class MediaDecodeError(MmlearnError):
    """A media file that exists but cannot be decoded into a tensor.

    ``hint``, when given, is appended to the message as the next step for the user.
    """

    def __init__(
        self,
        path: str,
        modality: str,
        reason: str,
        sample_id: str | None = None,
        row: int | None = None,
        hint: str | None = None,
    ):
        self.path = path
        self.modality = modality
        self.reason = reason
        self.sample_id = sample_id
        self.row = row
        where = ""
        if sample_id is not None:
            where = f" (manifest row {row}, id {sample_id!r})" if row else f" (id {sample_id!r})"
        message = f"failed to decode {modality} file {path}{where}: {reason}"
        if hint:
            message += f". {hint}"
        super().__init__(message)


class ConfigError(MmlearnError):
    """A configuration value that is invalid or inconsistent with the data or the module."""


class NonFiniteLossError(MmlearnError):
    """A training loss became NaN or infinite; the message names the tasks and the step."""


class UnusedParametersError(MmlearnError):
    """Parameters that got no gradient in a DDP step without ``find_unused_parameters``.

    The message names the modules that own them, with how many parameters each has.
    """

    def __init__(self, parameter_names: Sequence[str], step: int, rank: int, max_listed: int = 8):
        self.parameter_names = list(parameter_names)
        modules: dict[str, int] = {}
        for name in self.parameter_names:
            # "model.encoders.audio.conv.0.weight" belongs to "model.encoders.audio".
            owner = ".".join(name.split(".")[:3]) if name.count(".") >= 3 else name
            modules[owner] = modules.get(owner, 0) + 1
        listed = ", ".join(
            f"{owner} ({count})" for owner, count in list(modules.items())[:max_listed]
        )
        if len(modules) > max_listed:
            listed += f", and {len(modules) - max_listed} more modules"
        super().__init__(
            f"{len(self.parameter_names)} parameter(s) got no gradient in training step "
            f"{step} on rank {rank}, which DDP with find_unused_parameters off does not "
            f"allow. They belong to: {listed}. This happens when every sample on a process "
            "lacks a modality, or when a module is only used for some batches. Use "
            "trainer.strategy: ddp_find_unused_parameters_true (as configs/trainer/ddp.yaml "
            "does), or freeze the module if it should not train"
        )
