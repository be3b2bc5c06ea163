"""Collection benchmarks: a polling round over a loopback "internet", and extraction accuracy.

``run(quick)`` returns a dict of figures with targets and pass/fail. Standalone:
``python -m yuqing.bench.collect [--quick] [--data DIR]``.

Polling: one aiohttp server on 127.0.0.1 serves N feeds with ETag and Last-Modified. The
feeds are spread over N/10 host names (a static resolver maps them to 127.0.0.1), so the
per-host politeness of the real fetcher applies as it would on the internet. Round 1 is
cold; then 3% of the feeds publish a new item; round 2 uses conditional GET, and only 200
answers are parsed. Raw throughput is measured separately without politeness.

Extraction: the public page sets in shared/data (when present) against their gold text.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import re
import socket
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROUND_TARGET_S = 60.0
NOT_MODIFIED_TARGET = 0.95
CHANGED_SHARE = 0.03
FEEDS_PER_HOST = 10


# --------------------------------------------------------------------------- loopback web


def _feed_xml(n: int, version: int) -> bytes:
    items = "".join(
        f"<item><title>育才中学 第{n}号源 新闻 {v}</title><link>http://feed-{n}.bench.test/a/{v}.html</link>"
        f"<guid>feed-{n}-{v}</guid><pubDate>Mon, 0{1 + v % 9} Jan 2024 08:00:00 +0800</pubDate>"
        f"<description>{'学校今天举行了活动，家长和学生都参加了。' * 8}</description></item>"
        for v in range(version, version + 10)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>源 {n}</title><link>http://feed-{n}.bench.test/</link><ttl>5</ttl>{items}</channel></rss>"
    ).encode()


class _FeedServer:
    """N feeds behind one aiohttp server, each with its own ETag and Last-Modified."""

    def __init__(self, count: int) -> None:
        self.versions = [0] * count
        self.bodies = [_feed_xml(i, 0) for i in range(count)]
        self.requests = 0
        self.answered_304 = 0
        self.port = 0
        self._runner: Any = None

    def etag(self, n: int) -> str:
        return f'"{n}-{self.versions[n]}"'

    def last_modified(self, n: int) -> str:
        return time.strftime(
            "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(1_700_000_000 + 60 * self.versions[n])
        )

    def publish(self, n: int) -> None:
        self.versions[n] += 1
        self.bodies[n] = _feed_xml(n, self.versions[n])

    async def handle(self, request: Any) -> Any:
        from aiohttp import web

        self.requests += 1
        match = re.fullmatch(r"/feed/(\d+)\.xml", request.path)
        if not match or int(match.group(1)) >= len(self.bodies):
            return web.Response(status=404)
        n = int(match.group(1))
        headers = {
            "ETag": self.etag(n),
            "Last-Modified": self.last_modified(n),
            "Cache-Control": "max-age=60",
        }
        if request.headers.get("If-None-Match") == self.etag(n):
            self.answered_304 += 1
            return web.Response(status=304, headers=headers)
        return web.Response(
            body=self.bodies[n],
            content_type="application/rss+xml",
            charset="utf-8",
            headers=headers,
        )

    async def start(self) -> None:
        from aiohttp import web

        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, backlog=1024).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def _polling(count: int, spacing: float) -> dict[str, Any]:
    from yuqing.lib.http import HttpClient, StaticResolver
    from yuqing.monitor.collect.feeds import parse_feed
    from yuqing.monitor.collect.fetcher import FetchRequest, PoliteFetcher

    server = _FeedServer(count)
    await server.start()
    hosts = [f"feed-{i // FEEDS_PER_HOST}.bench.test" for i in range(count)]
    resolver = StaticResolver({h: ["127.0.0.1"] for h in set(hosts)})
    urls = [f"http://{hosts[i]}:{server.port}/feed/{i}.xml" for i in range(count)]
    state: dict[int, tuple[str | None, str | None]] = {}
    parsed_counter = Counter[str]()

    def parse(body: bytes, url: str, headers: dict[str, str]) -> int:
        parsed_counter["parsed"] += 1
        return len(parse_feed(body, url=url, headers=headers).items)

    async def round_(fetcher: PoliteFetcher) -> dict[str, Any]:
        started = time.monotonic()
        requests = [
            FetchRequest(
                u,
                key=i,
                etag=state.get(i, (None, None))[0],
                last_modified=state.get(i, (None, None))[1],
            )
            for i, u in enumerate(urls)
        ]
        counts = Counter[str]()
        items = 0
        before = parsed_counter["parsed"]
        async for response in fetcher.fetch_many(requests):
            res = response.result
            i = response.request.key
            if res.not_modified:
                counts["304"] += 1
            elif res.ok:
                counts["200"] += 1
                items += parse(res.body, res.final_url, res.headers)
                state[i] = (res.etag, res.last_modified)
            else:
                counts[f"error:{res.error}"] += 1
        return {
            "seconds": round(time.monotonic() - started, 3),
            "responses": dict(counts),
            "items_parsed": items,
            "documents_parsed": parsed_counter["parsed"] - before,
        }

    try:
        async with HttpClient(
            allow_hosts=set(hosts), resolver=resolver, max_connections=100
        ) as client:
            fetcher = PoliteFetcher(client, concurrency=100, per_host=2, spacing=spacing)
            cold = await round_(fetcher)
            changed = set(range(0, count, max(1, round(1 / CHANGED_SHARE))))
            for n in changed:
                server.publish(n)
            warm = await round_(fetcher)
        unchanged = count - len(changed)
        share_304 = warm["responses"].get("304", 0) / unchanged if unchanged else 1.0
        reparsed_unchanged = max(0, warm["documents_parsed"] - len(changed))

        # Raw throughput: one host, no spacing, 100 concurrent requests, unconditional.
        async with HttpClient(allow_hosts={"127.0.0.1"}, max_connections=100) as client:
            raw = PoliteFetcher(client, concurrency=100, per_host=100, spacing=0.0)
            n_raw = max(200, count * 2)
            raw_urls = [
                f"http://127.0.0.1:{server.port}/feed/{i % count}.xml" for i in range(n_raw)
            ]
            t0 = time.monotonic()
            ok = 0
            async for response in raw.fetch_many(FetchRequest(u) for u in raw_urls):
                ok += response.result.ok
            raw_seconds = time.monotonic() - t0
    finally:
        await server.stop()
    return {
        "feeds": count,
        "hosts": len(set(hosts)),
        "per_host_spacing_s": spacing,
        "cold_round": cold,
        "changed_feeds": len(changed),
        "conditional_round": warm,
        "round_seconds": warm["seconds"],
        "round_target_s": ROUND_TARGET_S,
        "round_pass": warm["seconds"] <= ROUND_TARGET_S and cold["seconds"] <= ROUND_TARGET_S,
        "unchanged_answered_304_share": round(share_304, 4),
        "unchanged_reparsed": reparsed_unchanged,
        "not_modified_target": NOT_MODIFIED_TARGET,
        "not_modified_pass": share_304 >= NOT_MODIFIED_TARGET and reparsed_unchanged == 0,
        "raw_requests": n_raw,
        "raw_ok": ok,
        "raw_requests_per_s": round(n_raw / raw_seconds, 1),
    }


# --------------------------------------------------------------------------- extraction accuracy

_WS = re.compile(r"\s+")


def _bag_f1(pred: list[str], gold: list[str]) -> tuple[float, float, float]:
    if not gold and not pred:
        return 1.0, 1.0, 1.0
    if not gold or not pred:
        return 0.0, 0.0, 0.0
    overlap = sum((Counter(pred) & Counter(gold)).values())
    precision, recall = overlap / len(pred), overlap / len(gold)
    f1 = 2 * precision * recall / (precision + recall) if overlap else 0.0
    return precision, recall, f1


def char_f1(pred: str, gold: str) -> tuple[float, float, float]:
    """Bag-of-characters precision/recall/F1, whitespace ignored (for Chinese text)."""
    return _bag_f1(list(_WS.sub("", pred)), list(_WS.sub("", gold)))


def token_f1(pred: str, gold: str) -> tuple[float, float, float]:
    """Bag-of-tokens precision/recall/F1 (the article-extraction-benchmark's measure)."""
    return _bag_f1(pred.split(), gold.split())


def _summary(rows: list[tuple[float, float, float]]) -> dict[str, float]:
    if not rows:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    return {
        "precision": round(statistics.mean(r[0] for r in rows), 4),
        "recall": round(statistics.mean(r[1] for r in rows), 4),
        "f1": round(statistics.mean(r[2] for r in rows), 4),
        "f1_median": round(statistics.median(r[2] for r in rows), 4),
    }


def _extract(raw: bytes, url: str) -> Any:
    from yuqing.lib.http import decode_body
    from yuqing.monitor.collect.pages import extract_article

    return extract_article(decode_body(raw, "text/html").text, url)


def _limit(paths: list[Any], limit: int | None) -> list[Any]:
    return paths[:limit] if limit else paths


def eval_chinese_web(root: Path, limit: int | None = None) -> dict[str, Any]:
    """chinese_web_content_extraction: char F1 vs hand-made gold, plus author and date hits."""
    rows, authors, dates, timings = [], [0, 0], [0, 0], []
    for page in _limit(sorted((root / "original").glob("*.html")), limit):
        uid = page.stem
        gold = (root / "cleaned" / f"{uid}.txt").read_text(encoding="utf-8", errors="replace")
        t0 = time.perf_counter()
        item = _extract(page.read_bytes(), f"http://example.cn/{uid}.html")
        timings.append(time.perf_counter() - t0)
        rows.append(char_f1(item.text if item else "", gold))
        gold_author = (root / "author" / f"{uid}.txt").read_text(encoding="utf-8").strip()
        if gold_author and not gold_author.startswith("UNK"):
            authors[1] += 1
            got = _WS.sub("", item.author if item else "")
            names = [n for n in re.split(r"[\s、,，]+", gold_author) if n]
            authors[0] += bool(got) and any(n in got or got in n for n in names)
        gold_date = (root / "date" / f"{uid}.txt").read_text(encoding="utf-8").strip()
        if re.match(r"\d{4}-\d{1,2}-\d{1,2}", gold_date):
            dates[1] += 1
            y, m, d = (int(x) for x in re.findall(r"\d+", gold_date)[:3])
            got_dt = item.published_at if item else None
            dates[0] += got_dt is not None and (got_dt.year, got_dt.month, got_dt.day) == (y, m, d)
    return {
        "pages": len(rows),
        "text_char": _summary(rows),
        "author_accuracy": round(authors[0] / authors[1], 4) if authors[1] else None,
        "author_pages": authors[1],
        "date_accuracy": round(dates[0] / dates[1], 4) if dates[1] else None,
        "date_pages": dates[1],
        "ms_per_page": round(1000 * statistics.mean(timings), 1) if timings else None,
    }


def eval_gne(root: Path, limit: int | None = None) -> dict[str, Any]:
    """gne_chinese_news_pages: no human gold; agreement with GNE's own output (weak)."""
    reference = json.loads((root / "gne_reference_output.json").read_text(encoding="utf-8"))
    rows, titles, found, dated = [], [0, 0], 0, 0
    pages = _limit(sorted((root / "html").glob("*.html")), limit)
    for page in pages:
        item = _extract(page.read_bytes(), f"http://example.cn/{page.stem}.html")
        found += bool(item and len(item.text) >= 50)
        dated += bool(item and item.published_at)
        ref = reference.get(page.name)
        if ref:
            rows.append(char_f1(item.text if item else "", str(ref.get("content", ""))))
            if ref.get("title"):
                titles[1] += 1
                titles[0] += bool(item) and _WS.sub("", str(ref["title"])) in _WS.sub(
                    "", item.title if item else ""
                )
    return {
        "pages": len(pages),
        "with_text_share": round(found / len(pages), 4) if pages else None,
        "with_date_share": round(dated / len(pages), 4) if pages else None,
        "vs_gne_reference_char": _summary(rows),
        "reference_pages": len(rows),
        "title_agreement": round(titles[0] / titles[1], 4) if titles[1] else None,
    }


def eval_trafilatura_subset(root: Path, limit: int | None = None) -> dict[str, Any]:
    """trafilatura_eval_subset: share of must-include found and must-exclude absent."""
    data = json.loads((root / "evaldata_subset.json").read_text(encoding="utf-8"))
    tp = fn = tn = fp = 0
    cjk = [0, 0]
    for url, case in _limit(sorted(data.items()), limit):
        path = root / "html" / case["file"]
        if not path.exists():
            continue
        item = _extract(path.read_bytes(), url)
        text = item.text if item else ""
        hits = [s in text for s in case.get("with", [])]
        tp += sum(hits)
        fn += len(hits) - sum(hits)
        misses = [s not in text for s in case.get("without", [])]
        tn += sum(misses)
        fp += len(misses) - sum(misses)
        if re.search(r"[\u4e00-\u9fff\u3040-\u30ff]", "".join(case.get("with", []))):
            cjk[1] += len(hits)
            cjk[0] += sum(hits)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "snippets": tp + fn + tn + fp,
        "accuracy": round((tp + tn) / max(1, tp + fn + tn + fp), 4),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(2 * precision * recall / (precision + recall), 4)
        if precision + recall
        else 0.0,
        "cjk_must_include_found": f"{cjk[0]}/{cjk[1]}",
    }


def eval_scrapinghub(root: Path, limit: int | None = None) -> dict[str, Any]:
    """scrapinghub article-extraction-benchmark: token F1 vs gold articleBody."""
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    rows = []
    for key, case in _limit(sorted(truth.items()), limit):
        path = root / "html" / f"{key}.html.gz"
        if not path.exists():
            continue
        with gzip.open(path) as handle:
            raw = handle.read(20_000_000)
        item = _extract(raw, case.get("url") or f"http://example.com/{key}")
        rows.append(token_f1(item.text if item else "", case.get("articleBody", "")))
    return {"pages": len(rows), "token": _summary(rows)}


def extraction_accuracy(data_dir: Path, limit: int | None = None) -> dict[str, Any]:
    sets: dict[str, Callable[[Path, int | None], dict[str, Any]]] = {
        "chinese_web_content_extraction": eval_chinese_web,
        "gne_chinese_news_pages": eval_gne,
        "trafilatura_eval_subset": eval_trafilatura_subset,
        "scrapinghub_article_extraction_benchmark": eval_scrapinghub,
    }
    out: dict[str, Any] = {}
    for name, evaluate in sets.items():
        root = data_dir / name
        if not root.is_dir():
            out[name] = {"skipped": f"{root} not found"}
            continue
        t0 = time.monotonic()
        out[name] = evaluate(root, limit)
        out[name]["seconds"] = round(time.monotonic() - t0, 1)
    return out


# --------------------------------------------------------------------------- entry points


def _data_dir() -> Path | None:
    env = os.environ.get("YUQING_SHARED_DATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [here.parents[3] / "shared" / "data", Path("/work/shared/data")]
    return next((p for p in candidates if p.is_dir()), None)


def run(
    quick: bool = False, *, data_dir: Path | None = None, extraction: bool = True
) -> dict[str, Any]:
    """All collection figures; ``quick`` polls 50 feeds and samples the extraction sets."""
    count = 50 if quick else 1000
    # Quick mode (CI, tests) shortens the per-host spacing so 5 hosts × 10 feeds take ~1 s
    # per round instead of 5; the full run uses the production default of 0.5 s.
    polling = asyncio.run(_polling(count, spacing=0.1 if quick else 0.5))
    figures: dict[str, Any] = {"polling": polling}
    data = data_dir or _data_dir()
    if extraction and data is not None:
        figures["extraction"] = extraction_accuracy(data, limit=10 if quick else None)
    elif extraction:
        figures["extraction"] = {"skipped": "shared data folder not found (set YUQING_SHARED_DATA)"}
    figures["pass"] = bool(polling["round_pass"] and polling["not_modified_pass"])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 feeds, sampled extraction sets")
    parser.add_argument("--data", type=Path, default=None, help="shared data folder")
    parser.add_argument("--no-extraction", action="store_true")
    args = parser.parse_args(argv)
    figures = run(args.quick, data_dir=args.data, extraction=not args.no_extraction)
    json.dump(figures, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0 if figures["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
