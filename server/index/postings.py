"""In-memory postings of the stored vectors' facets, to turn a Filter into the set of
matching keys without a scan."""

from __future__ import annotations

import threading
from collections import defaultdict

import numpy as np

from server.domain import Filter
from server.index.store import Facets


class FacetPostings:
    """category → keys, (attribute, value) → keys, key → facets. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_category: dict[str, set[int]] = defaultdict(set)
        self._by_attribute: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._facets: dict[int, Facets] = {}

    def __len__(self) -> int:
        return len(self._facets)

    def get(self, key: int) -> Facets | None:
        return self._facets.get(key)

    def items(self) -> list[tuple[int, Facets]]:
        with self._lock:
            return list(self._facets.items())

    def set(self, key: int, facets: Facets) -> None:
        with self._lock:
            self._remove(key)
            self._facets[key] = facets
            for category in facets.categories:
                self._by_category[category].add(key)
            for pair in facets.attributes:
                self._by_attribute[pair].add(key)

    def remove(self, key: int) -> None:
        with self._lock:
            self._remove(key)

    def _remove(self, key: int) -> None:
        facets = self._facets.pop(key, None)
        if facets is None:
            return
        for category in facets.categories:
            _discard(self._by_category, category, key)
        for pair in facets.attributes:
            _discard(self._by_attribute, pair, key)

    def candidates(self, condition: Filter) -> np.ndarray | None:
        """Sorted int64 keys matching `condition`, or None when it matches everything."""
        if condition.is_empty():
            return None
        with self._lock:
            sets: list[set[int]] = []
            if condition.categories:
                sets.append(set().union(*(self._by_category.get(c, set()) for c in condition.categories)))
            sets.extend(self._by_attribute.get(pair, set()) for pair in condition.attributes)
            if sets:
                sets.sort(key=len)
                keys = set(sets[0]).intersection(*sets[1:])
            else:
                keys = set(self._facets)
            if condition.min_price is not None or condition.max_price is not None:
                keys = {k for k in keys if self._facets[k].matches(condition)}
        return np.fromiter(sorted(keys), dtype=np.int64, count=len(keys))


def _discard(postings: dict, name: object, key: int) -> None:
    keys = postings.get(name)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del postings[name]
