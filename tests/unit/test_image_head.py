"""The catalog-trained image head (server/models/image_head.py): SupCon on frozen
embeddings separates categories the raw embeddings mix, and its ONNX graph computes what
its numpy twin does."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from server.models import image_head


def mixed_categories(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Four categories told apart by a weak direction in 8 of 64 dimensions, under strong
    nuisance variation in the others (pose, colour): raw cosine neighbours mix them."""
    centres = np.random.default_rng(0).normal(size=(4, 8)) * 0.6  # the categories: one set
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    vectors = np.concatenate(
        [centres[labels] + rng.normal(size=(n, 8)) * 0.5, rng.normal(size=(n, 56))], axis=1
    )
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32), labels


def test_the_head_separates_categories_on_products_it_never_saw() -> None:
    embeddings, labels = mixed_categories(2000, seed=0)
    fit = image_head.fit_supcon(embeddings, labels, hidden=64, output=16, max_epochs=30, seed=0)
    assert fit.after_p10 > fit.before_p10 + 0.2, fit
    queries, query_labels = mixed_categories(500, seed=1)  # new products, same categories
    before = image_head.precision_at_10(queries, query_labels, embeddings, labels)
    after = image_head.precision_at_10(
        image_head.apply(queries, fit.weights),
        query_labels,
        image_head.apply(embeddings, fit.weights),
        labels,
    )
    assert after > before + 0.2, (before, after)


def test_the_onnx_graph_computes_what_apply_does() -> None:
    embeddings, labels = mixed_categories(300, seed=2)
    fit = image_head.fit_supcon(embeddings, labels, hidden=32, output=8, max_epochs=2, seed=0)
    session = ort.InferenceSession(
        image_head.head_graph(fit.weights).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (served,) = session.run([image_head.OUTPUT_NAME], {image_head.INPUT_NAME: embeddings[:50]})
    np.testing.assert_allclose(served, image_head.apply(embeddings[:50], fit.weights), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(served, axis=1), 1.0, atol=1e-5)


def test_one_category_cannot_train_a_head() -> None:
    embeddings, _ = mixed_categories(50, seed=3)
    with pytest.raises(ValueError, match="two categories"):
        image_head.fit_supcon(embeddings, np.zeros(50, dtype=int))


def test_views_are_the_mirror_image_and_a_crop_of_each_side() -> None:
    image = np.random.default_rng(4).integers(0, 256, (100, 60, 3), dtype=np.uint8)
    np.testing.assert_array_equal(image_head.augment(image, 0, seed=1), image[:, ::-1])
    crops = [image_head.augment(image, 1, seed=s) for s in range(20)]
    assert all(78 <= c.shape[0] <= 93 and 47 <= c.shape[1] <= 56 for c in crops), [c.shape for c in crops]
    assert len({c.tobytes() for c in crops}) > 1  # the seed picks the crop ...
    np.testing.assert_array_equal(crops[3], image_head.augment(image, 1, seed=3))  # ... always the same


def test_views_train_with_their_product_and_are_held_out_with_it() -> None:
    embeddings, labels = mixed_categories(1000, seed=5)
    rng = np.random.default_rng(6)
    views = [embeddings + rng.normal(size=embeddings.shape).astype(np.float32) * 0.05 for _ in range(2)]
    fit = image_head.fit_supcon(embeddings, labels, hidden=64, output=16, max_epochs=10, views=views)
    assert fit.held_out == 100  # a tenth of the products, not of the rows
    assert fit.after_p10 > fit.before_p10 + 0.1, fit
