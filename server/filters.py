"""In-memory postings of the catalog's filterable fields, to turn a Filter into the set of
matching keys without touching SQLite on every search."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from server.domain import Filter, Product


class FilterIndex:
    """category → keys, (attribute, value) → keys, key → price. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_category: dict[str, set[int]] = defaultdict(set)
        self._by_attribute: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._price: dict[int, float | None] = {}
        self._products: dict[int, tuple[str, tuple[tuple[str, str], ...]]] = {}

    def __len__(self) -> int:
        return len(self._products)

    def add(self, products: Iterable[Product]) -> None:
        with self._lock:
            for p in products:
                self._remove(p.key)
                pairs = tuple(sorted(p.attributes.items()))
                self._products[p.key] = (p.category, pairs)
                self._price[p.key] = p.price
                self._by_category[p.category].add(p.key)
                for pair in pairs:
                    self._by_attribute[pair].add(p.key)

    def remove(self, keys: Iterable[int]) -> None:
        with self._lock:
            for key in keys:
                self._remove(key)

    def _remove(self, key: int) -> None:
        entry = self._products.pop(key, None)
        if entry is None:
            return
        category, pairs = entry
        self._price.pop(key, None)
        self._discard(self._by_category, category, key)
        for pair in pairs:
            self._discard(self._by_attribute, pair, key)

    @staticmethod
    def _discard(postings: dict, name, key: int) -> None:
        keys = postings.get(name)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del postings[name]

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
                keys = set(self._products)
            if condition.min_price is not None or condition.max_price is not None:
                low = -np.inf if condition.min_price is None else condition.min_price
                high = np.inf if condition.max_price is None else condition.max_price
                keys = {k for k in keys if (price := self._price.get(k)) is not None and low <= price <= high}
        return np.fromiter(sorted(keys), dtype=np.int64, count=len(keys))
