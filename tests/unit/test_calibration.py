"""Calibrated fusion (server/service/calibration.py): standardised scores, relevance fits and
reference samples."""

from __future__ import annotations

import numpy as np
import pytest

from server.index.exact import ExactStore
from server.index.store import IndexSpace, VectorRecord
from server.service import calibration
from server.service.calibration import Reference, References, fit_relevance, unit

SPACE = IndexSpace(name="title", model="m", model_version="1", dim=8)


def test_standardise_measures_a_cosine_against_the_querys_spread_over_the_sample():
    rng = np.random.default_rng(0)
    sample = unit(rng.normal(size=(300, 8)))
    query = unit(rng.normal(size=(1, 8)))[0]
    background = sample @ query
    z = Reference(sample, 0.0).standardise(query * 3.0, {7: 0.9, 8: float(background.mean())})
    assert z[7] == pytest.approx((0.9 - background.mean()) / background.std(), rel=1e-5)
    assert z[8] == pytest.approx(0.0, abs=1e-5)


def test_the_logistic_fit_recovers_known_weights_and_stays_finite_when_separable():
    rng = np.random.default_rng(1)
    x = rng.normal(size=20000)
    y = rng.random(20000) < 1 / (1 + np.exp(-(2.0 * x - 1.0)))
    slope, offset = calibration._logistic(x, y.astype(float))
    assert slope == pytest.approx(2.0, abs=0.1) and offset == pytest.approx(-1.0, abs=0.1)
    slope, offset = calibration._logistic(np.array([-2.0, -1.0, 1.0, 2.0]), np.array([0.0, 0.0, 1.0, 1.0]))
    assert np.isfinite([slope, offset]).all() and slope > 0


def test_a_signal_that_is_right_less_often_at_equal_z_gets_lower_probabilities():
    """Two spaces, the same queries: in the reliable one the closest products are the
    relevant ones; in the noisy one half of them are not."""
    rng = np.random.default_rng(2)
    queries = unit(rng.normal(size=(5, 8)))
    products, relevant = [], np.zeros((5, 500), bool)
    for i in range(500):
        q = i % 5
        products.append(queries[q] + rng.normal(scale=0.3, size=8))
        relevant[q, i] = True
    reliable = unit(np.array(products))
    noisy = reliable.copy()
    shuffled = rng.permutation(250)  # half the products move to another query's neighbourhood
    noisy[shuffled] = reliable[(shuffled + 1) % 500]
    good, bad = fit_relevance(queries, reliable, relevant), fit_relevance(queries, noisy, relevant)
    assert good.probability(2.0) > bad.probability(2.0) + 0.2


def test_references_are_drawn_once_and_again_when_stale(monkeypatch):
    class FakeCatalogStore:
        """A fake: counts draws, hands out the first keys."""

        draws = 0

        def sample_keys(self, space, n, rng):
            self.draws += 1
            return list(range(min(n, 40)))

    store = ExactStore(SPACE)
    vectors = unit(np.random.default_rng(3).normal(size=(40, 8)))
    store.upsert([VectorRecord(k, vectors[k]) for k in range(40)], 1)
    catalog, references = FakeCatalogStore(), References()
    first = references.of("title", catalog, store)
    assert first is not None and first.vectors.shape == (40, 8)
    assert references.of("title", catalog, store) is first and catalog.draws == 1
    now = first.drawn + calibration.REFRESH_S + 1
    monkeypatch.setattr(calibration.time, "monotonic", lambda: now)
    assert references.of("title", catalog, store) is not first and catalog.draws == 2
    assert References().of("title", catalog, ExactStore(SPACE)) is None, "an empty space gives no scale"
