"""MultimodalModel: encoders, projections to a shared width, fusion and task heads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from mmlearn.modalities import AUDIO, IMAGE, TEXT
from mmlearn.models.modality_dropout import ModalityDropout


class MultimodalModel(nn.Module):
    """Encode each modality, project it to width ``dim``, fuse, and apply one head per task.

    Parameters
    ----------
    encoders:
        One encoder per modality; each has an ``output_dim`` attribute.
    fusion:
        Takes ``features`` and ``present`` dicts of the projected features and returns a
        ``FusionOutput`` (see ``mmlearn.models.fusion``).
    heads:
        One head per task over the fused vector; empty when the fusion returns logits
        itself (late fusion).
    dim:
        The shared width that each modality is projected to.
    modality_dropout:
        Probability per modality of hiding it from fusion for a sample in training.
    unimodal_heads:
        Optional heads per modality and task on that modality's projected feature
        alone. Training them beside the fused heads makes every encoder learn, so that
        an easy modality does not leave the others untrained.

    Inputs: a batch dict as built by ``mmlearn.data.collate``, with audio ``features``
    and ``frame_lengths`` already computed.
    Returns: a dict with ``features`` (per modality, (B, dim)), ``fused`` (B, F),
    ``fusion_weights`` ((B, M) in ``modalities`` order, or ``None``), ``logits`` (per
    task) and ``unimodal_logits``. The last is keyed by modality, then by task, and is
    empty without unimodal heads.
    """

    def __init__(
        self,
        encoders: Mapping[str, nn.Module],
        fusion: nn.Module,
        heads: Mapping[str, nn.Module],
        dim: int,
        modality_dropout: Mapping[str, float] | None = None,
        unimodal_heads: Mapping[str, Mapping[str, nn.Module]] | None = None,
    ):
        super().__init__()
        if not encoders:
            raise ValueError("a MultimodalModel needs at least one encoder")
        self.encoders = nn.ModuleDict(dict(encoders))
        self.projections = nn.ModuleDict(
            {
                name: nn.Sequential(nn.Linear(encoder.output_dim, dim), nn.LayerNorm(dim))
                for name, encoder in self.encoders.items()
            }
        )
        self.fusion = fusion
        self.dim = dim
        self.heads = nn.ModuleDict(dict(heads))
        unknown = set(modality_dropout or {}) - set(self.encoders)
        if unknown:
            raise ValueError(
                f"modality_dropout names {sorted(unknown)}, which have no encoder; "
                f"the model encodes {list(self.encoders)}"
            )
        self.modality_dropout = ModalityDropout(modality_dropout or {})
        self.unimodal_heads = nn.ModuleDict(
            {name: nn.ModuleDict(dict(heads)) for name, heads in (unimodal_heads or {}).items()}
        )

    @property
    def modalities(self) -> list[str]:
        """The modalities this model has an encoder for, in fusion order."""
        return list(self.encoders.keys())

    def encode(self, name: str, inputs: Mapping[str, torch.Tensor], with_tokens: bool = False):
        """Run the encoder of modality ``name`` on its inputs (``batch[name]``).

        Returns the pooled (B, C) features, or with ``with_tokens`` the encoder's
        ``forward_with_tokens`` result: pooled features, tokens (B, T, C) and their mask.
        """
        encoder = self.encoders[name]
        run = encoder.forward_with_tokens if with_tokens else encoder
        if name == TEXT:
            return run(inputs["input_ids"], inputs["attention_mask"])
        if name == IMAGE:
            return run(inputs["pixels"])
        if name == AUDIO:
            if getattr(encoder, "reads_waveform", False):
                return run(inputs["waveform"], inputs["lengths"])
            return run(inputs["features"], inputs["frame_lengths"])
        return run(**inputs)

    def project(self, name: str, inputs: Mapping[str, torch.Tensor], present: torch.Tensor):
        """Encode and project the samples that have modality ``name``; (B, dim).

        Rows of absent samples are zeros. The encoder never receives the placeholder
        inputs that collate puts there, so they cannot shift batch-norm statistics.
        """
        if bool(present.all()):
            return self.projections[name](self.encode(name, inputs))
        index = present.nonzero().squeeze(1)
        batch_size = present.shape[0]
        if index.numel() == 0:
            return torch.zeros(batch_size, self.dim, device=present.device)
        subset = {key: value[index] for key, value in inputs.items()}
        projected = self.projections[name](self.encode(name, subset))
        return projected.new_zeros(batch_size, self.dim).index_copy(0, index, projected)

    def project_with_tokens(
        self, name: str, inputs: Mapping[str, torch.Tensor], present: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Like ``project``, and also return the projected tokens (B, T, dim) and their mask.

        Each token goes through the same projection as the pooled feature. The mask is
        false for every token of a sample without the modality.
        """
        batch_size = present.shape[0]
        index = present.nonzero().squeeze(1)
        if index.numel() == 0:
            zeros = torch.zeros(batch_size, 1, self.dim, device=present.device)
            return (
                zeros[:, 0],
                zeros,
                torch.zeros(batch_size, 1, dtype=torch.bool, device=present.device),
            )
        subset = {key: value[index] for key, value in inputs.items()}
        pooled, tokens, mask = self.encode(name, subset, with_tokens=True)
        pooled, tokens = self.projections[name](pooled), self.projections[name](tokens)
        full_pooled = pooled.new_zeros(batch_size, self.dim).index_copy(0, index, pooled)
        full_tokens = tokens.new_zeros(batch_size, *tokens.shape[1:]).index_copy(0, index, tokens)
        full_mask = mask.new_zeros(batch_size, mask.shape[1]).index_copy(0, index, mask)
        return full_pooled, full_tokens, full_mask

    def forward(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        present = {name: batch["present"][name] for name in self.encoders}
        if getattr(self.fusion, "uses_tokens", False):
            features, tokens = {}, {}
            for name in self.encoders:
                pooled, projected, mask = self.project_with_tokens(name, batch[name], present[name])
                features[name], tokens[name] = pooled, (projected, mask)
            fusion = self.fusion(features, self.modality_dropout(present), tokens)
        else:
            features = {
                name: self.project(name, batch[name], present[name]) for name in self.encoders
            }
            fusion = self.fusion(features, self.modality_dropout(present))
        fused = fusion.fused
        logits = fusion.logits
        if logits is None:
            logits = {task: head(fused) for task, head in self.heads.items()}
        unimodal_logits = {
            name: {task: head(features[name]) for task, head in heads.items()}
            for name, heads in self.unimodal_heads.items()
        }
        return {
            "features": features,
            "fused": fused,
            "fusion_weights": fusion.weights,
            "logits": logits,
            "unimodal_logits": unimodal_logits,
        }
