"""teamrec: recommendations for workplaces and communities, per team.

Which channels or items should this person look at, which items are like this one, which
people are like me: learnt from who joins, reads, writes, views, likes and rates what.

The public API, re-exported here::

    from teamrec import read_source, build_matrix, TeamModel, create
    data = read_source("slack-export/", "slack-export")
    model = TeamModel.fit(build_matrix(data), "item-knn")
    model.similar_items("machine-learning", k=5)
"""

from teamrec.algorithms import Algorithm, algorithm_names, create, get_algorithm
from teamrec.data import FORMATS, Dataset, InteractionMatrix, MatrixConfig, Vocab, build_matrix, read_source
from teamrec.errors import (
    AccessDeniedError,
    ConfigError,
    DataError,
    MissingExtraError,
    ModelTooLargeError,
    NotFittedError,
    TeamrecError,
    UnknownIdError,
    UnsupportedError,
)
from teamrec.pipeline import fit_team, recommend_team
from teamrec.policy import RecommendationPolicy
from teamrec.recommender import Result, TeamModel
from teamrec.spec import TeamSpec, build_team

__version__ = "0.1.0"

__all__ = [
    "FORMATS",
    "AccessDeniedError",
    "MissingExtraError",
    "Algorithm",
    "ConfigError",
    "DataError",
    "Dataset",
    "InteractionMatrix",
    "MatrixConfig",
    "ModelTooLargeError",
    "NotFittedError",
    "RecommendationPolicy",
    "Result",
    "TeamModel",
    "TeamSpec",
    "TeamrecError",
    "UnknownIdError",
    "UnsupportedError",
    "Vocab",
    "algorithm_names",
    "build_matrix",
    "build_team",
    "create",
    "fit_team",
    "get_algorithm",
    "read_source",
    "recommend_team",
]
