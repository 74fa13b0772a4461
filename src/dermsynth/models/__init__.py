"""Shipped, pretrained dermoscopy models by name (``dermsynth models list``; see ``registry``).

Names: ``isic2017-artifacts`` (multi-label artifact detector, the default of ``bias audit``),
``isic2017-melanoma`` (melanoma classifier, ``classify predict`` and the ``dermo:`` feature space),
``isic2017-gen`` (conditional StyleGAN2-ADA generator). Each ships with a card: data, labels, the
command that made it, hardware, time and measured figures, and the sha256 of every file.
:func:`publish_model` adds one (``dermsynth models publish``). Standard library only at import.
"""

from dermsynth.models.publish import publish_model
from dermsynth.models.registry import (
    WEIGHTS_DIR,
    Card,
    UnknownModel,
    card,
    default_model,
    list_models,
    registry_root,
    resolve,
    resolve_spec,
    verify,
)

__all__ = [
    "WEIGHTS_DIR",
    "Card",
    "UnknownModel",
    "card",
    "default_model",
    "list_models",
    "publish_model",
    "registry_root",
    "resolve",
    "resolve_spec",
    "verify",
]
