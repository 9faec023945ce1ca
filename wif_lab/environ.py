"""Process environment changed for one block only: the real clients (boto3, azure-identity) read their
settings from ``os.environ`` and nowhere else, so the lab sets exactly what a platform would, then puts back
what was there."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager


@contextmanager
def variables(values: Mapping[str, str], *, clear: Iterable[str] = ()) -> Iterator[None]:
    """For the block: the ``clear`` names unset, then ``values`` set; every name touched is restored after."""
    clear = tuple(clear)
    saved = {name: os.environ.get(name) for name in (*clear, *values)}
    try:
        for name in clear:
            os.environ.pop(name, None)
        os.environ.update(values)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
