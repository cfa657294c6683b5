"""A local emulator of the Google Cloud APIs the collection calls (test infrastructure, not product)."""

# Each module registers what it models with core (REST handlers, the data plane, the clusters' API servers and
# controllers, the control endpoints); core imports none of them.
from . import compute, control, dataplane, fleet, gke, iam, kube, kube_controllers, others, quotas, storage  # noqa: F401
from .core import ApiError, Emulator
from .server import serve

__all__ = ["ApiError", "Emulator", "serve"]
