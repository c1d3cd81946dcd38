"""Image encoder over any torchvision classification backbone."""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from mmlearn.errors import ConfigError

# Attribute names under which torchvision backbones keep their final classifier.
_CLASSIFIER_ATTRIBUTES = ("fc", "classifier", "heads", "head")


def _freeze_batch_norm(module: nn.Module) -> None:
    """Replace each ``BatchNorm2d`` below ``module`` by a ``FrozenBatchNorm2d`` with its values."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
            # Layers without affine parameters or running statistics keep the identity.
            for key in ("weight", "bias", "running_mean", "running_var"):
                value = getattr(child, key)
                if value is not None:
                    getattr(frozen, key).copy_(value.detach())
            setattr(module, name, frozen)
        else:
            _freeze_batch_norm(child)


class TorchvisionImageEncoder(nn.Module):
    """Run a torchvision backbone without its classifier.

    Parameters
    ----------
    name:
        Any name that ``torchvision.models.get_model`` accepts (``resnet18``,
        ``mobilenet_v3_small``, ``efficientnet_b0``, ...).
    weights_path:
        A local file with the backbone's state dict (as saved from
        ``torchvision.models.<name>(weights=...).state_dict()``). Without it the
        backbone starts from random weights; nothing is downloaded.
    image_size:
        Input side in pixels, used once to measure the feature width.
    frozen_batch_norm:
        Replace every ``BatchNorm2d`` with torchvision's ``FrozenBatchNorm2d``, which
        keeps the (loaded) statistics and affine parameters fixed in training.

    Inputs: ``pixels`` (B, 3, H, W). Returns: (B, output_dim). ``forward_with_tokens``
    also returns the feature map before pooling as h x w tokens, for backbones with an
    ``avgpool`` layer (ResNets, EfficientNets, MobileNets, ConvNeXts).
    """

    def __init__(
        self,
        name: str = "resnet18",
        weights_path: str | None = None,
        image_size: int = 96,
        frozen_batch_norm: bool = False,
    ):
        super().__init__()
        available = torchvision.models.list_models(module=torchvision.models)
        if name not in available:
            raise ConfigError(
                f"unknown torchvision backbone {name!r}; choose one of "
                "torchvision.models.list_models(), for example resnet18 or mobilenet_v3_small"
            )
        self.backbone = torchvision.models.get_model(name, weights=None)
        if weights_path is not None:
            path = Path(weights_path).expanduser()
            if not path.is_file():
                raise ConfigError(f"image encoder weights file not found: {path}")
            state = torch.load(path, map_location="cpu", weights_only=True)
            try:
                self.backbone.load_state_dict(state)
            except RuntimeError as error:
                raise ConfigError(
                    f"the weights in {path} do not match torchvision's {name}: {error}"
                ) from error
        if frozen_batch_norm:
            _freeze_batch_norm(self.backbone)
        for attribute in _CLASSIFIER_ATTRIBUTES:
            if hasattr(self.backbone, attribute):
                setattr(self.backbone, attribute, nn.Identity())
                break
        else:
            raise ConfigError(f"cannot find the classifier of torchvision backbone {name!r}")
        was_training = self.backbone.training
        self.backbone.eval()
        with torch.no_grad():
            probe = self.backbone(torch.zeros(1, 3, image_size, image_size))
        self.backbone.train(was_training)
        self.output_dim = int(probe.flatten(1).shape[1])

    @property
    def has_tokens(self) -> bool:
        """Whether ``forward_with_tokens`` works: the backbone has an ``avgpool`` layer."""
        return isinstance(getattr(self.backbone, "avgpool", None), nn.Module)

    def forward_with_tokens(
        self, pixels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return the pooled vector, the feature map before pooling as (B, h * w, C) tokens,
        and a mask that is true everywhere."""
        if not self.has_tokens:
            raise ConfigError(
                f"{type(self.backbone).__name__} has no avgpool layer to read spatial tokens "
                "from; use a CNN backbone such as resnet18 for token-level fusion"
            )
        captured: list[torch.Tensor] = []
        hook = self.backbone.avgpool.register_forward_pre_hook(
            lambda module, inputs: captured.append(inputs[0])
        )
        try:
            pooled = self.backbone(pixels).flatten(1)
        finally:
            hook.remove()
        tokens = captured[0].flatten(2).transpose(1, 2)
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        return pooled, tokens, mask

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.backbone(pixels).flatten(1)
