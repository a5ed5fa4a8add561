"""Search benchmark: build the index over the law pack + ../shared/corpus/laws and time queries.

    .venv/bin/python bench/bench_search.py [--index-dir DIR] [--reuse] [--rounds 3] [--mode combined]
    .venv/bin/python bench/bench_search.py --index-dir DIR --reuse --deleted-copies 4500

Reports: document count, time to read the texts and to index them, index size on disk, the first
query of a freshly started process (after the app's warm-up), and p50 / p95 / max latency over a
mixed list of realistic queries (keywords, colloquial questions, citations, with and without
filters and facets), single-threaded and with four threads.  Not a timed test: figures depend on
the machine and on whatever else runs on it.

``--deleted-copies N`` measures instead what the daily date refresh does to cold queries: on a
copy of the index, N documents (whole regulations, in three commits, as a refresh leaves them) are
re-indexed unchanged, and the first pass over the requests (a fresh service: nothing cached) is
timed on the fresh build, with the N deleted copies, and after the background merge drops them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.corpus_loader import DEFAULT_CORPUS, load_all  # noqa: E402
from portal.search.interfaces import SearchDocument, SearchQuery  # noqa: E402
from portal.search.whoosh_index import WhooshSearchService  # noqa: E402

SYNONYMS = ROOT / "knowledge_base" / "synonyms.yaml"
DEV = DEFAULT_CORPUS.parent.parent / "eval" / "search_queries_dev.tsv"

# What dispatchers and citizens type: short keywords, questions, citations in several shapes.
QUERIES = [
    "井盖", "窨井盖丢失", "占道经营", "户外广告设置", "建筑垃圾运输", "违法建设 拆除", "噪声扰民", "生活垃圾分类",
    "共享单车乱停放", "门前三包", "油烟 餐饮", "工地夜间施工", "绿地 占用", "古树名木 保护", "停车 收费",
    "供水 停水 通知", "排水许可", "化粪池", "户外广告 牌匾 坠落", "街道办事处 职责", "网格化管理",
    "小区里有人私搭乱建怎么办", "楼上装修太吵能投诉吗", "路边烧烤冒烟找谁", "狗在小区随地大小便谁管",
    "商店门口摆东西占人行道罚多少", "渣土车把路面弄脏了", "马路上的坑谁来修", "物业不让业主装充电桩",
    "城管可以没收小贩的东西吗", "罚款交不起怎么办", "行政处罚 申辩 听证", "查封扣押 期限",
    "政府信息公开 申请 期限", "执法人员 出示证件", "行政复议 期限", "个人信息 处理 告知同意",
    "行政处罚法第三十二条", "行政处罚法 第51条", "城市道路管理条例第二十八条", "道交法第九十条",
    "《中华人民共和国行政强制法》第三十五条", "民法典第二百八十六条", "固废法第六十条", "广告法 第四十一条",
    "北京 垃圾分类 罚款", "上海 违法建筑 举报", "杭州 生活垃圾 投放", "宁波 市容 广告", "济南 建筑垃圾",
    "浙江 综合行政执法", "青岛 门前责任区", "郑州 占道", "重庆 市容环境卫生",
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def query_list() -> list[SearchQuery]:
    texts = list(QUERIES)
    if DEV.exists():
        for line in DEV.read_text(encoding="utf-8").splitlines()[1:]:
            parts = line.split("\t")
            if len(parts) >= 2:
                texts.append(parts[1])
    queries: list[SearchQuery] = []
    rng = random.Random(7)
    for text in texts:
        queries.append(SearchQuery(text=text))
        # Some with filters or a second page, as the HTML page and the API send them.
        roll = rng.random()
        if roll < 0.15:
            queries.append(SearchQuery(text=text, level="地方性法规"))
        elif roll < 0.25:
            queries.append(SearchQuery(text=text, doc_types=("article",), page=2))
        elif roll < 0.3:
            import datetime as dt

            queries.append(SearchQuery(text=text, in_force_on=dt.date(2020, 1, 1)))
    return queries


def first_query_in_fresh_process(index_dir: Path, text: str) -> dict:
    """Start a new interpreter, warm up as the app factory does, then time one query."""
    code = f"""
import json, sys, time
sys.path.insert(0, {str(ROOT)!r})
t0 = time.perf_counter()
from portal.search.whoosh_index import WhooshSearchService
from portal.search.interfaces import SearchQuery
svc = WhooshSearchService({str(index_dir)!r}, {str(SYNONYMS)!r})
svc.warm_up()
t1 = time.perf_counter()
r = svc.search(SearchQuery(text={text!r}))
t2 = time.perf_counter()
print(json.dumps({{"startup_s": t1 - t0, "first_query_ms": (t2 - t1) * 1000, "hits": len(r.hits)}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(svc: WhooshSearchService, queries: list[SearchQuery]) -> list[float]:
    out = []
    for q in queries:
        t = time.perf_counter()
        svc.search(q)
        out.append((time.perf_counter() - t) * 1000)
    return out


def line(name: str, values: list[float]) -> str:
    return (f"{name}: n={len(values)} p50={percentile(values, 50):.1f} ms p95={percentile(values, 95):.1f} ms "
            f"max={max(values):.1f} ms mean={statistics.mean(values):.1f} ms")


def cold_pass(index_dir: Path, mode: str, seed: int) -> list[float]:
    """The first pass over the shuffled requests of a fresh service (nothing cached)."""
    svc = WhooshSearchService(index_dir, SYNONYMS, analysis_mode=mode)
    svc.warm_up()
    order = query_list()
    random.Random(seed).shuffle(order)
    out = timed(svc, order)
    svc.close()
    return out


def deleted_copies(index_dir: Path, mode: str, count: int, rounds: int) -> None:
    """Cold latency on the fresh build, with ``count`` deleted copies, and after their merge;
    the three indexes are measured in turn, ``rounds`` times, so that a change of the machine's
    load during the run affects all three alike."""
    work = Path(tempfile.mkdtemp(prefix="portal-bench-merge-"))
    try:
        fresh, deleted, merged = work / "fresh", work / "deleted", work / "merged"
        shutil.copytree(index_dir, fresh)
        shutil.copytree(index_dir, deleted)
        docs, _mapping = load_all()
        by_regulation: dict[object, list[SearchDocument]] = {}
        for doc in docs:
            by_regulation.setdefault(doc.regulation_id, []).append(doc)
        regulations = sorted(by_regulation, key=str)
        random.Random(5).shuffle(regulations)
        chosen: list[SearchDocument] = []
        for rid in regulations:
            if len(chosen) >= count:
                break
            chosen.extend(by_regulation[rid])
        svc = WhooshSearchService(deleted, SYNONYMS, analysis_mode=mode, merge_deleted_share=0)
        third = len(chosen) // 3 + 1
        t = time.perf_counter()
        for i in range(0, len(chosen), third):  # three commits: three new segments, as a refresh leaves them
            svc.index(chosen[i:i + third])
        health = svc.health()
        print(f"re-indexed {len(chosen)} documents in {time.perf_counter() - t:.1f} s: {health['segments']} segments, "
              f"{health['deleted_copies']} deleted copies ({svc.deleted_share():.1%})")
        svc.close()
        shutil.copytree(deleted, merged)
        svc = WhooshSearchService(merged, SYNONYMS, analysis_mode=mode)
        t = time.perf_counter()
        dropped = svc.merge_deleted(min_share=1e-9)
        print(f"merge: {dropped} copies dropped in {time.perf_counter() - t:.1f} s (load average "
              f"{os.getloadavg()[0]:.2f}), {svc.health()['segments']} segment(s)")
        svc.close()
        timings: dict[str, list[float]] = {"fresh build": [], f"{len(chosen)} deleted copies": [], "merged": []}
        for r in range(rounds):
            for name, path in zip(timings, (fresh, deleted, merged), strict=True):
                timings[name].extend(cold_pass(path, mode, seed=11 + r))
        for name, values in timings.items():
            print(line(f"{name}, cold ({rounds} fresh services)", values))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index-dir", default=None, help="keep the index here (default: a temp dir)")
    ap.add_argument("--reuse", action="store_true", help="reuse an existing index in --index-dir")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mode", default="combined")
    ap.add_argument("--deleted-copies", type=int, default=0,
                    help="measure cold queries with this many deleted copies, and after their merge")
    args = ap.parse_args()
    tmp = None
    if args.index_dir:
        index_dir = Path(args.index_dir)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="portal-bench-")
        index_dir = Path(tmp.name) / "index"

    print(f"machine: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f} at start")
    svc = WhooshSearchService(index_dir, SYNONYMS, analysis_mode=args.mode)
    if not (args.reuse and svc.health()["ok"]):
        t = time.perf_counter()
        docs, _mapping = load_all()
        read_s = time.perf_counter() - t
        t = time.perf_counter()
        n = svc.rebuild(docs)
        build_s = time.perf_counter() - t
        print(f"documents: {n} ({sum(d.doc_type == 'article' for d in docs)} articles)")
        print(f"read texts: {read_s:.1f} s; index build: {build_s:.1f} s")
    health = svc.health()
    print(f"index size: {health['size_bytes'] / 1e6:.1f} MB ({health['documents']} documents)")
    svc.close()
    if args.deleted_copies:
        deleted_copies(index_dir, args.mode, args.deleted_copies, args.rounds)
        print(f"load average at end {os.getloadavg()[0]:.2f}")
        if tmp is not None:
            tmp.cleanup()
        return

    fresh = [first_query_in_fresh_process(index_dir, text) for text in ("马路上窨井盖丢了谁负责", "行政处罚法第63条",
                                                                           "上海 渣土车 撒漏 罚款")]
    for f in fresh:
        print(f"fresh process: start-up + warm-up {f['startup_s']:.2f} s, first query {f['first_query_ms']:.1f} ms")

    svc = WhooshSearchService(index_dir, SYNONYMS, analysis_mode=args.mode)
    svc.warm_up()
    queries = query_list()
    rng = random.Random(11)
    order = list(queries)
    rng.shuffle(order)
    first_pass = timed(svc, order)  # every term's postings read for the first time
    steady: list[float] = []
    for _ in range(args.rounds):
        rng.shuffle(order)
        steady.extend(timed(svc, order))

    print(f"queries: {len(queries)} distinct requests ({len({q.text for q in queries})} texts)")
    print(line("first pass (cold term cache)", first_pass))
    print(line("steady state", steady))

    results: list[float] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        mine = list(queries)
        random.Random(seed).shuffle(mine)
        t = timed(svc, mine)
        with lock:
            results.extend(t)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    print(line("4 threads", results) + f" throughput={len(results) / wall:.0f} q/s")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    svc.close()
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
