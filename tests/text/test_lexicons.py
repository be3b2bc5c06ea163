"""The project's lexicons: files load, one automaton finds terms with offsets, authority."""

from __future__ import annotations

from yuqing.text.lexicons import KINDS, LEXICON_DIR, Entry, Lexicon, default_lexicon, read_rows


def test_files_are_the_projects_own_and_parse() -> None:
    for path in sorted(LEXICON_DIR.glob("*.txt")):
        head = path.read_text(encoding="utf-8").splitlines()[0]
        assert head.startswith("#") and "Yuqing" in head, path.name
        for row in read_rows(path):
            assert row[0], path.name


def test_every_kind_is_known_and_present() -> None:
    lex = default_lexicon()
    kinds = {e.kind for es in lex.entries for e in es}
    assert kinds <= set(KINDS)
    assert {"risk", "topic", "neg", "pos", "negation", "denial", "sarcasm"} <= kinds


def test_default_is_built_once() -> None:
    assert default_lexicon() is default_lexicon()


def test_find_reports_overlapping_terms_with_offsets() -> None:
    text = "昨天多名学生集体食物中毒，送医院了"
    found = default_lexicon().find(text)
    terms = {(f.term, f.entry.kind) for f in found}
    assert ("食物中毒", "risk") in terms
    assert ("集体食物中毒", "risk") in terms
    for f in found:
        assert text[f.start : f.end] == f.term
    levels = [f.entry.level for f in found if f.entry.kind == "risk"]
    assert max(levels) == 4


def test_denial_negation_and_sarcasm_cues() -> None:
    lex = default_lexicon()
    kinds = {f.entry.kind for f in lex.find("经核实，网传消息不实，并未发生此事")}
    assert {"denial", "negation"} <= kinds
    assert "sarcasm" in {f.entry.kind for f in lex.find("呵呵，真是好样的🙂")}


def test_authority_news_beats_forum() -> None:
    lex = default_lexicon()
    assert lex.authority("news", "某某日报") > lex.authority("forum", "本地论坛")
    assert lex.authority("wechat", "白鹭教育发布") >= 0.9
    assert lex.authority("weibo", "", "路人甲") < 0.5


def test_custom_lexicon() -> None:
    lex = Lexicon({"校车": [Entry("risk", 1.0, 3, "emergency")]})
    (f,) = lex.find("校车坏了")
    assert (f.start, f.end, f.entry.level) == (0, 2, 3)
    assert lex.find("") == []


def test_find_batch_agrees_with_find() -> None:
    lex = default_lexicon()
    texts = ["昨天多名学生集体食物中毒，送医院了", "", "不好吃，结核"]
    hits = lex.find_batch(texts)
    got = sorted(
        (int(d), lex.flat_entries[e][0], repr(lex.flat_entries[e][1]), int(s), int(t))
        for d, e, s, t in zip(hits.doc, hits.entry, hits.start, hits.end, strict=True)
    )
    want = sorted(
        (d, f.term, repr(f.entry), f.start, f.end) for d, t in enumerate(texts) for f in lex.find(t)
    )
    assert got == want
    assert len(lex.find_batch([]).doc) == 0
