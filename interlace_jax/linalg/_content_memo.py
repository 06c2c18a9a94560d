"""A small least-recently-used memo of host results keyed by the contents of NumPy arrays.

The host-side plan of a large model (the Schur update's pair lists, their grouped products)
costs a tenth of a second on InstEval, as much as a few evaluations of the objective. It
depends only on the grouping factors (and the weights), so a refit of the same grouping
structure (another response, REML after ML, another fixed part) can reuse it: the key is a
digest of the arrays' bytes, computed in well under a millisecond for such models.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Callable, Hashable

import numpy as np


class ContentMemo:
    """Results of ``compute()`` by the contents of some arrays, the ``size`` most recent kept.

    Results must not be modified by their users: the memo hands out the same arrays again
    (NumPy arrays in them are made read-only). Safe to share between threads (two threads
    missing the same key may both compute it).
    """

    def __init__(self, size: int):
        self._size = size
        self._results: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, arrays: tuple[np.ndarray, ...], extra: Hashable, compute: Callable):
        digest = hashlib.blake2b(digest_size=16)
        for array in arrays:
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.tobytes())
        key = (digest.digest(), extra)
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        result = compute()
        for value in result.values() if isinstance(result, dict) else result:
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
        with self._lock:
            self._results[key] = result
            while len(self._results) > self._size:
                self._results.popitem(last=False)
        return result
