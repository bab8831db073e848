"""Load, soak and restart figures for ``kgrag serve`` (loopback only, bounded).

Starts ``kgrag serve`` on 127.0.0.1 over the default knowledge base (or ``--store``),
then drives ``/v1/retrieve`` and ``/v1/diagnose`` with an async httpx client at 1, 8 and
64 concurrent clients for ``--seconds`` each (throughput, p50/p95/p99, errors), records
the server's RSS (all its processes) at start and end, runs a ``--soak`` on
``/v1/retrieve`` sampling RSS, and times a SIGKILL + restart to ready.

    python benchmarks/serve.py --seconds 60 --soak 600       # the published figures
    python benchmarks/serve.py --seconds 20 --soak 120       # shorter
    python benchmarks/serve.py --seconds 20 --soak 0 --no-restart --workers 1,2 \\
        --store /tmp/kb --label core                          # 1 and 2 workers, memory

The machine these figures come from is noted in the output (cores, load average): on a
shared, loaded machine they are a floor, not what an idle one reaches.

Writes ``benchmarks/out/serve.json`` (one entry per ``--label``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

OUT = Path(__file__).resolve().parent / "out" / "serve.json"
KEY = "benchmark-key"
CASES = [
    "Infant with seizures, hypotonia and developmental delay. No fever.",
    "Fever, cough and shortness of breath for three days. No chest pain.",
    "Chronic diarrhea, abdominal pain and weight loss in a young adult.",
    "Polyuria, polydipsia and weight loss; no abdominal pain.",
    "Short stature, intellectual disability and seizures; no hearing loss.",
    "Jaundice, fatigue and dark urine; denies fever.",
    "Progressive muscle weakness and elevated creatine kinase. No rash.",
    "Joint pain, rash on the cheeks and fatigue. No seizures.",
]


class _Done(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its children, MB."""
    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for q in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += q.memory_info().rss
    return round(total / 2**20, 1)


def memory_mb(pid: int) -> dict[str, Any]:
    """Per process of the server (the parent and its workers): RSS, PSS and USS in MB, and the
    sums. PSS counts a page shared by n processes as 1/n in each, so its sum is what the
    server really holds; USS is what a process holds alone (what one more worker costs)."""
    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return {}
    rows = []
    for q in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            m = q.memory_full_info()
            rows.append(
                {
                    "pid": q.pid,
                    "rss_mb": round(m.rss / 2**20, 1),
                    "pss_mb": round(getattr(m, "pss", 0) / 2**20, 1),
                    "uss_mb": round(m.uss / 2**20, 1),
                }
            )
    rows = [r for r in rows if r["rss_mb"] > 30]  # the python processes, not a shell
    return {
        "processes": rows,
        "rss_sum_mb": round(sum(r["rss_mb"] for r in rows), 1),
        "pss_sum_mb": round(sum(r["pss_mb"] for r in rows), 1),
        "uss_sum_mb": round(sum(r["uss_mb"] for r in rows), 1),
    }


def start(port: int, workers: int, store: str | None) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "kgrag.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "WARNING",
    ]
    if store:
        cmd += ["--store", store]
    return subprocess.Popen(
        cmd,
        env={**os.environ, "KGRAG_SERVE_API_KEYS": KEY, "KGRAG_SERVE_RATE_LIMIT": "1000000/minute"},
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_ready(port: int, timeout: float = 300) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server not ready")


async def drive(base: str, route: str, clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=60, limits=limits
    ) as client:

        async def one(i: int) -> None:
            n = i
            while time.monotonic() < deadline:
                body = {"text": CASES[n % len(CASES)], "top_k": 10}
                n += clients
                t = time.perf_counter()
                try:
                    r = await client.post(route, json=body)
                    key = None if r.status_code == 200 else str(r.status_code)
                except httpx.HTTPError as e:
                    key = type(e).__name__
                latencies.append(time.perf_counter() - t)
                if key:
                    errors[key] = errors.get(key, 0) + 1

        started = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(clients)))
        elapsed = time.monotonic() - started
    ms = np.array(latencies) * 1000
    return {
        "route": route,
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=60, help="per route and concurrency")
    ap.add_argument("--clients", default="1,8,64")
    ap.add_argument("--soak", type=float, default=600, help="soak seconds on /v1/retrieve (0: none)")
    ap.add_argument("--soak-clients", type=int, default=8)
    ap.add_argument("--workers", default="1", help="worker counts to run, e.g. 1,2")
    ap.add_argument("--label", default="core", help="this run's key in the output (core, encoder)")
    ap.add_argument("--store", default=None)
    ap.add_argument("--ready-timeout", type=float, default=300, help="seconds to wait for /readyz")
    ap.add_argument("--no-restart", action="store_true", help="skip the SIGKILL + restart")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    configs = []
    for workers in (int(w) for w in str(args.workers).split(",")):
        configs.append(run_config(args, workers))
    one = next((c for c in configs if c["workers"] == 1), None)
    two = next((c for c in configs if c["workers"] == 2), None)
    summary: dict[str, Any] = {
        "store": args.store or "default",
        "machine": f"{os.cpu_count()} cores shared with other jobs (not idle); load average "
        f"{os.getloadavg()[0]:.1f} at the end",
        "configs": configs,
    }
    if one and two and one.get("memory") and two.get("memory"):
        a, b = one["memory"]["pss_sum_mb"], two["memory"]["pss_sum_mb"]
        summary["second_worker_extra_memory_pct"] = round(100 * (b - a) / a, 1)
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if not isinstance(previous, dict) or "runs" in previous:
        previous = {}  # the old one-configuration format
    previous[args.label] = summary
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(previous, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "configs"}, indent=2))


def run_config(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    """Start the server with ``workers`` workers, load it at each concurrency, stop it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(port, workers, args.store)
    result: dict[str, Any] = {
        "workers": workers,
        "cpu_count": os.cpu_count(),
        "load_average_start": round(os.getloadavg()[0], 2),
        "seconds_each": args.seconds,
        "runs": [],
    }
    try:
        result["start_to_ready_s"] = round(wait_ready(port, args.ready_timeout), 2)
        for case in CASES[:2]:  # warm-up (the first text query builds the linker's caches)
            httpx.post(
                base + "/v1/diagnose",
                json={"text": case},
                headers={"Authorization": f"Bearer {KEY}"},
                timeout=120,
            )
        result["rss_start_mb"] = rss_mb(proc.pid)
        for route in ("/v1/retrieve", "/v1/diagnose"):
            for clients in (int(c) for c in args.clients.split(",")):
                run = asyncio.run(drive(base, route, clients, args.seconds))
                run["rss_end_mb"] = rss_mb(proc.pid)
                print(json.dumps(run), flush=True)
                result["runs"].append(run)
        result["rss_end_mb"] = rss_mb(proc.pid)
        result["memory"] = memory_mb(proc.pid)
        result["load_average_end"] = round(os.getloadavg()[0], 2)
        if args.soak > 0:
            samples = []
            t0 = time.monotonic()
            chunk = min(30.0, args.soak)
            totals = {"requests": 0, "errors": 0}
            while time.monotonic() - t0 < args.soak:
                run = asyncio.run(drive(base, "/v1/retrieve", args.soak_clients, chunk))
                totals["requests"] += run["requests"]
                totals["errors"] += run["errors"]
                samples.append([round(time.monotonic() - t0, 1), rss_mb(proc.pid), run["p95_ms"]])
                print("soak", samples[-1], flush=True)
            rss = [s[1] for s in samples]
            result["soak"] = {
                "seconds": round(time.monotonic() - t0, 1),
                "clients": args.soak_clients,
                **totals,
                "rss_first_mb": rss[0],
                "rss_last_mb": rss[-1],
                "rss_max_mb": max(rss),
                "rss_growth_pct": round(100 * (rss[-1] - rss[0]) / rss[0], 1),
                "samples": samples,
            }
        # fault: SIGKILL, restart, time to ready, same answer
        if args.no_restart:
            raise _Done
        before = httpx.post(
            base + "/v1/diagnose",
            json={"text": CASES[0]},
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=60,
        ).json()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc = start(port, workers, args.store)
        ready = wait_ready(port, args.ready_timeout)
        after = httpx.post(
            base + "/v1/diagnose",
            json={"text": CASES[0]},
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=120,
        ).json()
        before.pop("timings_ms", None)
        after.pop("timings_ms", None)
        result["kill9_restart"] = {"restart_to_ready_s": round(ready, 2), "same_answer": before == after}
    except _Done:
        pass
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
    print(json.dumps({k: v for k, v in result.items() if k not in ("runs", "soak")}, indent=2))
    return result


if __name__ == "__main__":
    main()
