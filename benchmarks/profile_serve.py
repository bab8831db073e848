"""Per-request CPU of the sidecar's ``/v1/retrieve`` and ``/v1/diagnose``, with a cProfile.

Runs the real app in process (FastAPI's TestClient: routing, validation, the service, JSON
rendering) over a knowledge base, warms it up, then sends ``--requests`` requests per route and
records the process CPU time (``time.process_time``) per request and the functions that take the
most of it (cumulative, from cProfile).

    KGRAG_CACHE_DIR=... python benchmarks/profile_serve.py --store /tmp/kb --requests 40 \\
        --label after

Writes ``benchmarks/out/serve_profile.json`` (one entry per ``--label``, kept across runs, so
``before`` and ``after`` sit side by side) and prints the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from kgrag.serve.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import CASES as SERVE_CASES

from kgrag.serve.config import ServeConfig
from kgrag.serve.models import DiagnoseRequest, RetrieveRequest
from kgrag.serve.service import KnowledgeService

OUT = Path(__file__).resolve().parent / "out" / "serve_profile.json"
CASES = SERVE_CASES  # the load benchmark's cases (benchmarks/serve.py)


def profile_route(
    client: TestClient, svc: KnowledgeService, route: str, n: int, top: int
) -> dict[str, Any]:
    """CPU ms per request through the app, and where the service spends it.

    The CPU per request is the whole process's (``time.process_time`` counts every thread:
    routing, validation, the service in its worker thread, JSON rendering). cProfile sees one
    thread only, so the profile is of the same requests served in this thread: the service
    call and the JSON rendering of its answer.
    """
    for case in CASES:  # warm: lazy structures, caches
        assert client.post(route, json={"text": case, "top_k": 10}).status_code == 200
    cpu: list[float] = []
    for i in range(n):
        body = {"text": CASES[i % len(CASES)], "top_k": 10}
        t = time.process_time()
        r = client.post(route, json=body)
        cpu.append((time.process_time() - t) * 1000)
        assert r.status_code == 200, r.text
    prof = cProfile.Profile()
    for i in range(n):
        text = CASES[i % len(CASES)]
        prof.enable()
        if route.endswith("retrieve"):
            answer: Any = svc.retrieve(RetrieveRequest(text=text, top_k=10))
        else:
            answer = svc.diagnose(DiagnoseRequest(text=text, top_k=10))
        answer.model_dump_json()
        prof.disable()
    stream = io.StringIO()
    stats = pstats.Stats(prof, stream=stream).sort_stats("cumulative")
    stats.print_stats(top)
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in sorted(
        stats.stats.items(),  # type: ignore[attr-defined]
        key=lambda kv: -kv[1][3],
    ):
        if "kgrag" in file or "pydantic" in file or "sqlite" in func or "numpy" in file:
            rows.append(
                {
                    "function": f"{Path(file).name}:{line}:{func}",
                    "calls_per_request": round(nc / n, 1),
                    "cumulative_ms_per_request": round(ct * 1000 / n, 2),
                    "own_ms_per_request": round(tt * 1000 / n, 2),
                }
            )
    cpu.sort()
    return {
        "route": route,
        "requests": n,
        "cpu_ms_mean": round(sum(cpu) / n, 1),
        "cpu_ms_p50": round(cpu[n // 2], 1),
        "top": rows[:top],
        "text": stream.getvalue(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=None, help="knowledge base (default: the settings')")
    ap.add_argument("--requests", type=int, default=40, help="per route")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--label", default="after", help="name of this run (before, after)")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args()
    svc = KnowledgeService(a.store)
    app = create_app(ServeConfig(rate_limit="1000000/minute"), svc)
    t0 = time.perf_counter()
    with TestClient(app) as client:
        while client.get("/readyz").status_code != 200:
            if svc.error and not svc.rebuilding:
                raise SystemExit(f"not ready: {svc.error}")
            time.sleep(0.05)
        ready = time.perf_counter() - t0
        runs = [
            profile_route(client, svc, r, a.requests, a.top) for r in ("/v1/retrieve", "/v1/diagnose")
        ]
    for run in runs:
        print(f"== {run['route']}: {run['cpu_ms_mean']} ms CPU per request (mean)")
        print("\n".join(line[:160] for line in run.pop("text").splitlines()[: a.top + 12]))
    previous = json.loads(a.out.read_text()) if a.out.is_file() else {}
    previous[a.label] = {
        "store": a.store,
        "load_seconds": round(ready, 2),
        "cpu_count": os.cpu_count(),
        "machine": "shared 2-core machine, other jobs running (not idle)",
        "runs": runs,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(previous, indent=1) + "\n")


if __name__ == "__main__":
    main()
