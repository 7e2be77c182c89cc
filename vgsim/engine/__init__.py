"""The engine: network files, compilation, Numba kernels, training and telemetry. No Qt here."""

from .data import Dataset, load_dataset
from .errors import DataError, NetworkError, NetworkFileError, Problem, VgsimError
from .spec import Network, NodeSpec, read_network, save_network
from .telemetry import Divergence, History, StepRecord
from .train import Trainer
from .trainer_micro import MicroStep
from .validate import load_network, validate

__all__ = [
    "DataError",
    "Dataset",
    "Divergence",
    "History",
    "MicroStep",
    "Network",
    "NetworkError",
    "NetworkFileError",
    "NodeSpec",
    "Problem",
    "StepRecord",
    "Trainer",
    "VgsimError",
    "load_dataset",
    "load_network",
    "read_network",
    "save_network",
    "validate",
]
