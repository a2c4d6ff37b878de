"""``blend``: two models' scores, each normalised per person, mixed with a weight.

::

    score(u, i) = (1 - weight) * s1(u, i) / max_j |s1(u, j)|  +  weight * s2(u, i) / max_j |s2(u, j)|

Normalising each person's row puts two models with different score scales (an EASE
regression, a random-walk probability) on the same footing, so one weight serves everybody.
``auto`` tries blends of every pair of its three best algorithms with weights chosen on
validation; on Deskdrop RP3beta + user EASE and on Last.fm 2K user EASE + ALS beat either
alone (docs/benchmarks.md).

Both fitted models are learnt state: saved with the blend under the prefixes ``first_`` and
``second_`` (arrays + JSON, like every model). Item and people similarities and explanations
come from the first model (from the second when the first has none), predictions from the first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from teamrec.algorithms.base import Algorithm, AlgorithmConfig, Explanation, Predictions
from teamrec.errors import UnsupportedError


class BlendConfig(AlgorithmConfig):
    first: str = Field("ease", description="the first model's algorithm")
    first_params: dict[str, Any] = Field(default_factory=dict, description="its parameters")
    second: str = Field("rp3beta", description="the second model's algorithm")
    second_params: dict[str, Any] = Field(default_factory=dict, description="its parameters")
    weight: float = Field(0.5, ge=0.0, le=1.0, description="the second model's share of the score")


def normalised(scores: np.ndarray) -> np.ndarray:
    """Each row divided by its largest absolute value (rows of zeros stay zero)."""
    top = np.abs(scores).max(axis=1, keepdims=True) if scores.shape[1] else np.ones((scores.shape[0], 1))
    return scores / np.where(top > 0, top, 1.0)


#: The two parts and the prefixes their state is saved under.
_PARTS = (("first", "first_"), ("second", "second_"))


class Blend(Algorithm):
    """Two models' per-person normalised scores, mixed; see the module docstring."""

    name = "blend"
    Config = BlendConfig
    config: BlendConfig

    def _make(self, part: str) -> Algorithm:
        from teamrec.algorithms.registry import create

        name = getattr(self.config, part)
        if name in ("blend", "auto"):
            from teamrec.errors import ConfigError

            raise ConfigError(f"blend: the {part} model cannot be {name!r}")
        return create(name, getattr(self.config, f"{part}_params"))

    def _fit(self, X: sp.csr_matrix) -> None:
        self._models = [self._make(part).fit(X) for part, _ in _PARTS]

    def _state(self) -> dict[str, Any]:
        own = super()._state()
        for model, (_, prefix) in zip(self._models, _PARTS, strict=True):
            own.update({f"{prefix}{k}": v for k, v in model._state().items() if k != "X_"})
        return own

    def _after_load(self) -> None:
        models = []
        for part, prefix in _PARTS:
            model = self._make(part)
            for key in [k for k in vars(self) if k.startswith(prefix)]:
                setattr(model, key[len(prefix):], vars(self).pop(key))
            model.X_ = self.X_
            model._after_load()
            models.append(model)
        self._models = models

    def update(self, X: Any) -> Blend:
        if not self.is_fitted:
            return self.fit(X)
        for model in self._models:
            model.update(X)
        self.X_ = self._models[0].X_
        return self

    def warm(self) -> Blend:
        for model in self._models:
            model.warm()
        return self

    def score(self, users: np.ndarray, user_items: sp.spmatrix | None = None) -> np.ndarray:
        self._check_fitted()
        first, second = (normalised(m.score(users, user_items)) for m in self._models)
        w = self.config.weight
        return (1.0 - w) * first + w * second

    def _rank_keys(self, users: np.ndarray, user_items: sp.spmatrix | None) -> tuple[np.ndarray, None]:
        return self.score(users, user_items), None

    def _either(self, method: str, *args: Any) -> Any:
        """The first model's answer, or the second's when the first does not offer ``method``
        (Mult-DAE, a blend's first model on Deskdrop, has no similarities or reasons)."""
        try:
            return getattr(self._models[0], method)(*args)
        except UnsupportedError:
            return getattr(self._models[1], method)(*args)

    def similar_items(self, items: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        return self._either("similar_items", items, k)

    def similar_users(self, users: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        return self._either("similar_users", users, k)

    def predict(self, users: np.ndarray, items: np.ndarray) -> Predictions:
        return self._models[0].predict(users, items)

    def explain(self, user: int, item: int, n: int = 5) -> Explanation:
        return self._either("explain", user, item, n)
