"""Yuqing's text engine: plain Python, no Django.

Everything that analyses text goes through this package: the web app, the worker, the
`yuqing classify` / `yuqing eval` commands and the benchmarks call the same code.

Modules (one concept each):
- ``types``: the data passed between the stages (posts, schemes, hits, labels).
- ``normalize``: width, script, case and evasion folding with an offset map to the original.
- ``expr``: the scheme expression language (AND / OR / NOT, phrases, proximity, ``title:``).
- ``scheme`` / ``matcher``: schemes compiled into one Aho-Corasick automaton.
- ``variants``: homophone, pinyin and abbreviation spellings of subject words.
- ``lexicons`` / ``models`` / ``classify``: relevance, sentiment, topic and risk.
- ``events``: near-duplicate and same-story clustering.
- ``pipeline``: one call that runs all stages over a stream of posts.
- ``metrics`` / ``baseline``: evaluation against labelled sets.
"""
