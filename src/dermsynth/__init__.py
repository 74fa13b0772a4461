"""dermsynth: synthetic dermoscopy data and proof of what it is worth.

The working form of the 2022 Chalmers MSc thesis "Generative Modeling for Melanoma Detection"
(Rosen & Zoubi). One subpackage per pipeline stage; see docs/architecture.md.
Nothing happens at import time.
"""

__version__ = "0.1.0"
