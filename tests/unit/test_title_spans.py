"""Title spans: the short phrases TrainProjection pairs with a product's image besides its
whole title (server/models/projection.py)."""

from __future__ import annotations

from server.models import projection


def test_latin_titles_give_runs_of_up_to_three_words():
    spans = projection.title_spans("relaxed crewneck top in burgundy (unisex)")
    assert {"top", "crewneck top", "relaxed crewneck top", "burgundy unisex"} <= set(spans)
    assert "relaxed crewneck top in" not in spans  # four words
    assert "relaxed crewneck top in burgundy (unisex)" not in spans  # the title itself


def test_chinese_words_give_only_their_endings():
    # The head noun ends a Chinese compound; inner pairs (款真) are mostly not words.
    assert projection.title_spans("女款真皮公主裙") == ["主裙", "公主裙", "裙"]
    # A space ends a word: each word gives its own endings.
    endings = {"衫", "袖衫", "无袖衫", "色", "青色", "藏青色"}
    assert set(projection.title_spans("秋冬宽松无袖衫 藏青色")) == endings


def test_mixed_and_kana_words_stay_whole():
    assert projection.title_spans("T恤 cotton") == ["T恤", "cotton", "恤"]
    assert "Tシャツ" in projection.title_spans("Tシャツ 白")  # kana: no per-character split
    assert projection.title_spans("") == [] and projection.title_spans("dress") == []


def test_sampled_spans_are_a_seeded_share_of_every_titles_spans():
    titles = [f"classic cotton summer dress number {i}" for i in range(400)]
    every = sum(len(projection.title_spans(t)) for t in titles)
    first, again = projection.sampled_spans(titles), projection.sampled_spans(titles)
    assert first == again  # seeded: a retrain on the same catalog fits the same pairs
    assert abs(len(first) / every - projection.SPAN_SHARE) < 0.05
    assert all(span in projection.title_spans(titles[row]) for span, row in first)


def test_sampled_spans_keep_at_most_max_span_texts_distinct_spans(monkeypatch):
    monkeypatch.setattr(projection, "MAX_SPAN_TEXTS", 50)
    titles = [f"word{i} other{i} more{i}" for i in range(500)]
    assert len({span for span, _ in projection.sampled_spans(titles)}) == 50
