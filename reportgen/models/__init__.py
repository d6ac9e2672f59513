"""Models: building, loading weights, preprocessing and the target layer to explain."""

from reportgen.models.loading import LoadedModel, ModelSpec, load_model
from reportgen.models.preprocessing import Preprocessing

__all__ = ["LoadedModel", "ModelSpec", "Preprocessing", "load_model"]
