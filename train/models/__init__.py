"""colorfuse model architectures; importing this package registers every model."""

from colorfuse.train.models import effnet, effnet_hints, iizuka, koala, pix2pix, tiny, unet, zhang  # noqa: F401  (registration)
from colorfuse.train.models.base import ColorizationModel
from colorfuse.train.models.registry import MODELS, build_model, model_names, register_model

__all__ = ["MODELS", "ColorizationModel", "build_model", "model_names", "register_model"]
