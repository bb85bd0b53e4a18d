"""Settings objects with keyword overrides, as every step takes them."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def with_options(kind: type[T], settings: T | None, options: dict[str, Any], *, where: str) -> T:
    """``settings`` (None: ``kind()``) with the fields named in ``options`` replaced; an unknown
    name is a one-line error naming the fields there are."""
    if settings is None:
        settings = kind()
    if not isinstance(settings, kind):
        raise TypeError(f"Expected {where} settings of type {kind.__name__}, but got {type(settings).__name__}")
    names = [f.name for f in dataclasses.fields(kind)]  # type: ignore[arg-type]
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise TypeError(f"Expected {where} options among {names}, but got {unknown}")
    return dataclasses.replace(settings, **options) if options else settings  # type: ignore[type-var]
