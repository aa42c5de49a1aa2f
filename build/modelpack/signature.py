"""Tensor signatures: names, numpy dtypes and shapes whose string entries are dynamic axes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

Dim = int | str


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output as the manifest describes it."""

    name: str
    dtype: str
    shape: tuple[Dim, ...]

    def dynamic_axes(self) -> dict[int, str]:
        return {i: d for i, d in enumerate(self.shape) if isinstance(d, str)}

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}

    def concrete_shape(self, sizes: dict[str, int]) -> tuple[int, ...]:
        """The shape with every named axis replaced by ``sizes[name]`` (default 1)."""
        return tuple(d if isinstance(d, int) else sizes.get(d, 1) for d in self.shape)

    def matches(self, array: np.ndarray[Any, Any]) -> str | None:
        """Why ``array`` does not fit this spec, or ``None`` when it does."""
        if array.ndim != len(self.shape):
            return f"has {array.ndim} dimensions, the spec says {len(self.shape)}"
        for axis, (want, got) in enumerate(zip(self.shape, array.shape, strict=True)):
            if isinstance(want, int) and want != got:
                return f"has size {got} on axis {axis}, the spec says {want}"
        if array.dtype != np.dtype(self.dtype):
            return f"has dtype {array.dtype}, the spec says {self.dtype}"
        return None
