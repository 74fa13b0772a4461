"""The ADA augmentation room: the official pipe, its cheaper variant and the ADA heuristic.

* :mod:`.pipe` -- :class:`AugmentPipe`, faithful to the official StyleGAN2-ADA pipe (Karras et al. 2020,
  App. B), and the named strength sets ``AUGPIPE_SPECS`` (``--augpipe bgc`` ...).
* :mod:`.fast` -- :class:`FastAugmentPipe` (one bicubic resampling; leaks) and :func:`make_augment_pipe`.
* :mod:`.ada` -- :class:`AdaController`, the p update from D's overfitting measure r_t (paper Sec. 3).
* :mod:`.filters`, :mod:`.ops` -- the wavelet filter bank and the 2-D/3-D transformation matrices.

Used by the training room (``gan.train``) only; it imports nothing else of dermsynth.
"""

from __future__ import annotations

from dermsynth.gan.augment.ada import AdaController
from dermsynth.gan.augment.fast import AUGMENT_IMPLS, FastAugmentPipe, make_augment_pipe
from dermsynth.gan.augment.pipe import AUGPIPE_SPECS, AugmentPipe, wavelet_resample

__all__ = [
    "AUGMENT_IMPLS",
    "AUGPIPE_SPECS",
    "AdaController",
    "AugmentPipe",
    "FastAugmentPipe",
    "make_augment_pipe",
    "wavelet_resample",
]
