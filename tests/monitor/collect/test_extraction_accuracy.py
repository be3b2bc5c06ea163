"""Article extraction measured against the public gold sets (skipped where they are absent).

The floors sit a little under the figures measured when this was written (full sets:
chinese_web_content_extraction char F1 0.856, scrapinghub token F1 0.955, trafilatura
subset snippet accuracy 0.922), so a regression shows and noise does not. These tests run a
sample; ``python -m yuqing.bench.collect`` reports the full sets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from yuqing.bench.collect import (
    char_f1,
    eval_chinese_web,
    eval_gne,
    eval_scrapinghub,
    eval_trafilatura_subset,
    token_f1,
)


def test_the_measures() -> None:
    assert char_f1("育才中学", "育才中学") == (1.0, 1.0, 1.0)
    assert char_f1("", "育才") == (0.0, 0.0, 0.0)
    precision, recall, f1 = token_f1("a b c d", "a b")
    assert (precision, recall) == (0.5, 1.0) and round(f1, 3) == 0.667


@pytest.mark.slow
def test_chinese_pages_with_gold_text(shared_data: Path) -> None:
    figures = eval_chinese_web(shared_data / "chinese_web_content_extraction", limit=30)
    assert figures["pages"] == 30
    assert figures["text_char"]["f1"] >= 0.78, figures
    assert figures["date_accuracy"] >= 0.5, figures


def test_modern_chinese_news_pages(shared_data: Path) -> None:
    figures = eval_gne(shared_data / "gne_chinese_news_pages", limit=20)
    assert figures["with_text_share"] >= 0.9, figures
    assert figures["with_date_share"] >= 0.8, figures


def test_trafilatura_snippets(shared_data: Path) -> None:
    figures = eval_trafilatura_subset(shared_data / "trafilatura_eval_subset", limit=40)
    assert figures["accuracy"] >= 0.85, figures


def test_english_articles_with_gold_bodies(shared_data: Path) -> None:
    figures = eval_scrapinghub(shared_data / "scrapinghub_article_extraction_benchmark", limit=40)
    assert figures["token"]["f1"] >= 0.9, figures
