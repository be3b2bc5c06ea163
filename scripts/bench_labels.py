"""Time ``Classifier.label_many`` per post on 300-character posts (a benchmark, not a test).

Run:  .venv/bin/python scripts/bench_labels.py [--n 2000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from yuqing.text.classify import Classifier  # noqa: E402
from yuqing.text.types import Post  # noqa: E402

SCHEME = {
    "name": "白鹭一中",
    "subject_words": ["白鹭一中", "白鹭市第一中学", "白鹭市一中"],
    "region_words": ["白鹭", "白鹭市"],
    "exclude_words": ["白鹭一中路", "白鹭一中站"],
}
# Sentences mixed at random so posts differ (complaints, notices, praise, filler).
SENTENCES = [
    "白鹭一中高二年级本周开展研学活动，学生们参观了博物馆和科技馆。",
    "有家长反映白鹭一中食堂的饭菜又贵又难吃，米饭经常夹生，孩子根本吃不饱。",
    "学校回应称将尽快整改，并邀请家长代表参与陪餐。",
    "据了解，一名学生在体育课上摔伤，已送医院治疗，目前没有生命危险。",
    "白鹭市教育局发布通知，全市中小学下周一正式开学。",
    "这种学校真是好样的🙂，收了三百块资料费连个收据都没有！",
    "本周全市以多云天气为主，周末有小雨，最高气温二十二度。",
    "白鹭一中合唱团获得全省一等奖，孩子们太棒了👏",
    "网传白鹭一中出现传染病，经核实该信息不实，请勿信谣传谣。",
    "晚自习上到十点半，作业还写到凌晨一点，孩子都快崩溃了。",
]


def make_posts(n: int, rng: random.Random) -> list[Post]:
    posts = []
    for i in range(n):
        body = ""
        while len(body) < 300:
            body += rng.choice(SENTENCES)
        posts.append(Post(id=str(i), text=body[:300], source_type="weibo", source_name="微博"))
    return posts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    posts = make_posts(args.n, random.Random(1))
    clf = Classifier.default()
    clf.label_many(posts[:20], None, SCHEME)  # load the models and lexicon first

    def run() -> None:
        for i in range(0, len(posts), args.batch):
            clf.label_many(posts[i : i + args.batch], None, SCHEME)

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        run()
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
        return
    # CPU time as well as wall time: the machine is shared, and CPU time is what one core
    # would spend; BLAS threads are not used on this path, so the two agree on an idle box.
    best_wall = best_cpu = float("inf")
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        run()
        best_wall = min(best_wall, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    n = len(posts)
    print(
        f"label_many: {best_wall / n * 1e6:.0f} µs/post wall, {best_cpu / n * 1e6:.0f} µs/post "
        f"CPU (best of {args.repeat}, {n} posts of 300 chars, batches of {args.batch})"
    )


if __name__ == "__main__":
    main()
