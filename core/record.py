"""Immutable records declared like typing.NamedTuple, without importing typing.

`typing` costs a short command (`queuectl enqueue`, `status`) about a quarter of its start-up, and
the engine's records were its only run-time use; annotations are not evaluated (PEP 563), so a
class's annotated names and defaults are all a collections.namedtuple needs:

    @record
    class Point:
        x: float
        y: float = 0.0

        def norm(self) -> float: ...
"""

from __future__ import annotations

import collections


def record(cls: type) -> type:
    """cls as a namedtuple subclass: its annotated fields, their defaults, and its methods."""
    names = list(cls.__dict__.get("__annotations__", {}))
    defaults = [cls.__dict__[name] for name in names if name in cls.__dict__]
    base = collections.namedtuple(cls.__name__, names, defaults=defaults or None, module=cls.__module__)
    body = {k: v for k, v in cls.__dict__.items() if k not in names and k not in ("__dict__", "__weakref__")}
    body["__slots__"] = ()
    made = type(cls.__name__, (base,), body)
    made.__qualname__ = cls.__qualname__
    return made
