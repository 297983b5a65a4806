"""The held-out evaluation protocol (evaluation/protocol.py; unit tier: Fashion-MNIST and
Saleor's wheel from `make data`, no models): deterministic, dev and test disjoint everywhere,
every query group filled, every copy edit a valid image."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from evaluation import protocol
from server.tools import fashion_mnist


@pytest.fixture(scope="module")
def labels() -> tuple[np.ndarray, np.ndarray]:
    return fashion_mnist.load("train").labels, fashion_mnist.load("test").labels


@pytest.fixture(scope="module")
def photos() -> dict[str, Image.Image]:
    return protocol.saleor_photos()


def test_image_parts_are_disjoint_stratified_and_of_the_asked_sizes(labels):
    train, test = labels
    sizes = protocol.Sizes()
    splits = protocol.image_splits(train, test, sizes)
    assert protocol.overlaps(splits) == []
    for split in splits.values():
        assert len(split.catalog) == sizes.catalog and len(split.titled) == sizes.titled
        assert len(split.queries) == sizes.queries and len(split.negatives) == sizes.negatives
        assert np.bincount(train[split.catalog]).tolist() == [sizes.catalog // 10] * 10
        assert np.bincount(test[split.queries]).tolist() == [sizes.queries // 10] * 10
        assert np.bincount(train[split.copies]).tolist() == [sizes.copies // 10] * 10
    assert not set(splits["dev"].catalog) & set(splits["test"].catalog)
    assert not set(splits["dev"].queries) & set(splits["test"].queries)


def test_the_disjointness_check_finds_a_shared_image(labels):
    splits = protocol.image_splits(*labels, protocol.Sizes())
    leaked = replace(splits["test"], titled=np.append(splits["test"].titled, splits["dev"].catalog[0]))
    problems = protocol.overlaps({"dev": splits["dev"], "test": leaked})
    assert problems == ["dev catalog and test titled share 1 images"]
    stray = replace(splits["dev"], copies=splits["dev"].queries[:3])
    assert protocol.overlaps({"dev": stray, "test": splits["test"]}) == [
        "dev copies: 3 images not in its catalog"
    ]


def test_a_smaller_run_measures_a_subset_of_the_full_one(labels):
    full = protocol.image_splits(*labels, protocol.Sizes())
    small = protocol.image_splits(*labels, protocol.Sizes(catalog=1000, queries=100, copies=50))
    for part in protocol.PARTS:
        assert set(small[part].catalog) <= set(full[part].catalog)
        assert set(small[part].queries) <= set(full[part].queries)
        assert set(small[part].copies) <= set(full[part].copies)
    again = protocol.image_splits(*labels, protocol.Sizes())
    assert np.array_equal(full["test"].catalog, again["test"].catalog)


def test_sizes_beyond_a_block_are_refused(labels):
    with pytest.raises(ValueError, match="catalog"):
        protocol.image_splits(*labels, protocol.Sizes(catalog=20_000))


def test_every_category_has_words_in_every_group_and_no_word_is_in_both_parts():
    dev, test = protocol.query_words("dev"), protocol.query_words("test")
    for part in (dev, test):
        for group in protocol.GROUPS:
            for category in range(10):
                words = [q for q in part if q.group == group and q.category == category]
                assert len(words) >= (1 if group == "zh-names" else 3), (group, category)
        languages = {q.language for q in part if q.group == "other-languages"}
        assert len(languages) >= 6 and not languages & {"en", "zh"}
    # The ten category names are the one group shared, as the target names them.
    shared = {q.text for q in dev} & {q.text for q in test}
    assert shared == set(fashion_mnist.CATEGORIES_ZH)
    assert not {q.text for q in dev} & set(fashion_mnist.CATEGORIES_EN)


def test_no_query_word_of_a_part_is_in_its_own_training_titles():
    for part in protocol.PARTS:
        assert protocol.title_leaks(part, samples=200) == []
        assert set(protocol.PART_VOCABULARIES[part]) <= set(protocol.VOCABULARIES)
    assert not set(protocol.PART_VOCABULARIES["dev"]) & set(protocol.PART_VOCABULARIES["test"])


def test_the_leak_check_matches_whole_words_and_chinese_substrings():
    assert protocol._contains("women's denim jeans", "denim jeans")
    assert not protocol._contains("women's pullover", "pull")  # French "pull" is not "pullover"
    assert protocol._contains("女士纯棉短袖T恤", "短袖")
    assert protocol._contains("Slim Fit Rucksack in navy", "rucksack")


def test_the_two_english_vocabularies_share_no_product_noun():
    assert not {n for names in fashion_mnist.TITLE_NAMES for n in names} & {
        n for names in protocol.EN_B_NOUNS for n in names
    }
    assert not {n for names in protocol.ZH_A_NOUNS for n in names} & {
        n for names in protocol.ZH_B_NOUNS for n in names
    }


def test_titles_are_deterministic_and_per_category():
    labels = list(range(10)) * 3
    for name in protocol.VOCABULARIES:
        first = protocol.titles(name, "test", labels)
        assert first == protocol.titles(name, "test", labels)
        assert first != protocol.titles(name, "dev", labels)
        assert all(title.strip() for title in first)


@pytest.mark.parametrize("family", [*protocol.FAMILIES, "none"])
def test_every_family_makes_a_valid_deterministic_copy(family, photos):
    small = Image.fromarray(fashion_mnist.load("test").rgb(0))
    photo = photos["cl_boot01_1"]
    for source, low, high in ((small, 8, 1024), (photo, 200, 4096)):
        copy = protocol.edit(source, family, protocol.copy_rng("dev", "a", family))
        again = protocol.edit(source, family, protocol.copy_rng("dev", "a", family))
        assert copy.mode == "RGB" and low <= min(copy.size) and max(copy.size) <= high, copy.size
        assert copy.tobytes() == again.tobytes()
        # Everything goes to the gateway as PNG: it must encode.
        Image.open(io.BytesIO(_png(copy))).verify()
        if family != "none":
            other = protocol.edit(source, family, protocol.copy_rng("test", "a", family))
            assert family in ("greyscale", "flip") or other.tobytes() != copy.tobytes()


def test_no_copy_is_smaller_than_the_gateway_takes():
    image = Image.fromarray(fashion_mnist.load("test").rgb(1))
    for small in (image, image.resize((12, 12))):  # a crop of 12 px could leave 6
        for draw in range(100):
            for family in ("combo", "crop", "resize"):
                copy = protocol.edit(small, family, protocol.copy_rng("dev", "small", family, draw))
                assert min(copy.size) >= protocol.MIN_SIDE, (family, draw, copy.size)


def test_copy_draws_differ_between_parts_sources_and_draws():
    keys = [("dev", 1, "crop", 0), ("test", 1, "crop", 0), ("dev", 2, "crop", 0), ("dev", 1, "crop", 1)]
    draws = {protocol.copy_rng(*key).random() for key in keys}
    assert len(draws) == len(keys)


def test_saleor_photos_are_split_by_product_into_disjoint_halves(photos):
    assert len(photos) == 45
    assert all(p.mode == "RGB" and min(p.size) >= protocol.MIN_PHOTO_SIDE for p in photos.values())
    split = protocol.saleor_split(list(photos))
    assert split == protocol.saleor_split(sorted(photos, reverse=True))
    dev, test = set(split["dev"]), set(split["test"])
    assert not dev & test and dev | test == set(photos)
    assert abs(len(dev) - len(test)) <= 4
    products = {part: {protocol.photo_product(n) for n in names} for part, names in split.items()}
    assert not products["dev"] & products["test"]  # every view of a product in one half
    assert protocol.photo_product("sneakers_01_3") == "sneakers_01"
    assert protocol.photo_product("fd_juice_04") == "fd_juice_04"


def test_photos_in_no_catalog_differ_between_parts_and_are_realistic():
    assert not set(protocol.SKIMAGE_NEGATIVES["dev"]) & set(protocol.SKIMAGE_NEGATIVES["test"])
    negatives = protocol.photo_negatives("dev")
    assert all(p.mode == "RGB" and min(p.size) >= protocol.MIN_PHOTO_SIDE for p in negatives.values())


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
