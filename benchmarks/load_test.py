"""Load test of a running `fakelens serve` on loopback: requests/s and latency
at several concurrencies, then an overload burst that must yield 503s, not
timeouts or 5xx crashes. Bounded in requests and time.

    fakelens serve --port 8765 &        # the default detector
    python benchmarks/load_test.py --url http://127.0.0.1:8765 --requests 200
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, sample_images  # noqa: E402


def run_level(url: str, payloads: list[bytes], concurrency: int, n_requests: int, max_seconds: float, form: dict | None = None) -> dict:
    statuses: Counter = Counter()
    latencies: list[float] = []
    deadline = time.perf_counter() + max_seconds

    def one(i: int) -> None:
        if time.perf_counter() > deadline:
            statuses["skipped (time bound)"] += 1
            return
        t = time.perf_counter()
        try:
            r = client.post(url + "/v1/detect", files={"file": ("face.jpg", payloads[i % len(payloads)], "image/jpeg")}, data=form)
            statuses[r.status_code] += 1
            if r.status_code == 200:
                latencies.append(time.perf_counter() - t)
        except httpx.HTTPError as exc:
            statuses[type(exc).__name__] += 1

    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(concurrency) as pool:
        start = time.perf_counter()
        list(pool.map(one, range(n_requests)))
        elapsed = time.perf_counter() - start
    lat = np.asarray(latencies) * 1000 if latencies else np.asarray([np.nan])
    return {"concurrency": concurrency, "requests": n_requests, "ok": statuses.get(200, 0),
            "rps (ok)": f"{statuses.get(200, 0) / elapsed:.1f}", "p50 ms": f"{np.median(lat):.0f}", "p95 ms": f"{np.percentile(lat, 95):.0f}",
            "statuses": dict(statuses)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8765")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--levels", type=int, nargs="*", default=[1, 4, 16])
    ap.add_argument("--overload", type=int, default=64, help="concurrency of the final burst (0: skip)")
    ap.add_argument("--max-seconds", type=float, default=120)
    ap.add_argument("--crop", action="store_true", help="send crop=true: score the crops whole, no face detection")
    args = ap.parse_args()
    host = urlparse(args.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("load tests only target this machine's loopback")
    payloads = [Path(p).read_bytes() for p in sample_images(64)]
    httpx.get(args.url + "/healthz", timeout=10).raise_for_status()
    form = {"crop": "true"} if args.crop else None
    run_level(args.url, payloads, 2, 10, 30, form)  # warm-up
    rows = [run_level(args.url, payloads, c, args.requests, args.max_seconds, form) for c in args.levels]
    if args.overload:
        rows.append(run_level(args.url, payloads, args.overload, max(args.requests, 4 * args.overload), args.max_seconds, form))
    print_table(rows, ["concurrency", "requests", "ok", "rps (ok)", "p50 ms", "p95 ms", "statuses"])
    five_xx = sum(v for r in rows[: len(args.levels)] for k, v in r["statuses"].items() if isinstance(k, int) and k >= 500)
    print(f"5xx below saturation: {five_xx}")


if __name__ == "__main__":
    main()
