"""Data: sources -> events -> per-team interaction matrices."""

from teamrec.data.dataset import Dataset
from teamrec.data.matrix import InteractionMatrix, MatrixConfig, build_matrix
from teamrec.data.sources import FORMATS, read_source
from teamrec.data.vocab import Vocab

__all__ = ["FORMATS", "Dataset", "InteractionMatrix", "MatrixConfig", "Vocab", "build_matrix", "read_source"]
