"""Render the benchmark JSON in benchmarks/out/ as Markdown tables inside README.md and
docs/benchmarks.md, between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` markers.

    python benchmarks/readme_tables.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out"


def ontology(d: dict) -> str:  # type: ignore[type-arg]
    rows = ["| vocabulary | concepts | synonyms | is_a edges | xrefs |", "|---|---:|---:|---:|---:|"]
    for c in d["per_source"]:
        rows.append(
            f"| {c['source']} | {c['concepts']:,} | {c['synonyms']:,} | "
            f"{c['is_a_edges']:,} | {c['xrefs']:,} |"
        )
    u = d["unified"]
    rows.append(
        f"| **unified** | **{u['concepts']:,}** | **{u['synonyms']:,}** | "
        f"**{u['is_a_edges']:,}** | {u['codes']:,} codes, {u['conflicts']:,} refused "
        "merges |"
    )
    rows += [
        "",
        "Source rows count each loader's records before unification (MONDO's include "
        "the OMIM, Orphanet, NCIt, ... labels its mapping sets carry; HPOA's are the "
        "annotated diseases).",
        "",
        "| load | time | peak RSS | target |",
        "|---|---:|---:|---|",
        f"| cold: load 7 vocabularies, unify, write ({d['compiled_size_mb']} MB) | "
        f"{d['cold_compile']['seconds']:.1f} s | {d['cold_compile']['peak_rss_mb']} MB | |",
        f"| warm: load the compiled table (3 runs) | {d['warm_load']['seconds_min']:.2f}-"
        f"{d['warm_load']['seconds_max']:.2f} s | {d['warm_load']['peak_rss_mb']} MB | "
        "< 2 s, < 1.5 GB |",
        "",
        "Coverage of gold ids (MeSH and OMIM; composite ids split) that resolve to a unified concept:",
        "",
        "| corpus split | unique ids | ids resolved | mentions resolved | unresolved |",
        "|---|---:|---:|---:|---|",
    ]
    for k, v in d["coverage"].items():
        ex = ", ".join(v["unresolved_examples"][:4]) + (
            " …" if len(v["unresolved_examples"]) > 4 else ""
        )
        rows.append(
            f"| {k} | {v['unique_ids']} | {100 * v['id_coverage']:.1f}% | "
            f"{100 * v['mention_coverage']:.1f}% | {ex} |"
        )
    return "\n".join(rows)


def linking(d: dict) -> str:  # type: ignore[type-arg]
    corpora = [c for c in ("ncbi_disease", "bc5cdr_disease") if c in d]
    names = [n for n in d[corpora[0]] if not n.startswith("end to end")]
    rows = [
        "| normalization (gold mentions) | "
        + " | ".join(f"{c} Acc@1 | Acc@5 | mentions/s" for c in corpora)
        + " |",
        "|---|" + "---:|---:|---:|" * len(corpora),
    ]
    for n in names:
        cells = []
        for c in corpora:
            r = d[c].get(n, {})
            cells += [
                f"{r.get('acc@1', '')}",
                f"{r.get('acc@5', '')}",
                f"{r.get('mentions_per_s', ''):,}" if r else "",
            ]
        rows.append(f"| {n} | " + " | ".join(cells) + " |")
    rows += [
        "",
        "| end to end (detection + linking) | "
        + " | ".join(f"{c} P | R | F1 | docs/s" for c in corpora)
        + " |",
        "|---|" + "---:|---:|---:|---:|" * len(corpora),
    ]
    for n in [n for n in d[corpora[0]] if n.startswith("end to end")]:
        cells = []
        for c in corpora:
            r = d[c][n]
            cells += [str(r["precision"]), str(r["recall"]), str(r["f1"]), f"{r['docs_per_s']:,}"]
        rows.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def graph(d: dict) -> str:  # type: ignore[type-arg]
    stores = [k for k, v in d.items() if isinstance(v, dict) and "build_s" in v]
    rows = [
        "| store | graph build | + retrieval artifacts | nodes | edges | nodes/s | edges/s | on disk "
        "| neighbours p50/p99 | ancestors (5) p50/p99 | 2-hop subgraph, 20 diseases p50/p99 "
        "| passage search, top 20 p50/p99 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    extra = [
        "",
        "| store | rebuild after one document removed | after it is added back |",
        "|---|---|---|",
    ]
    for k in stores:
        v = d[k]
        q = v["queries"]

        def lat(t: dict) -> str:  # type: ignore[type-arg]
            return f"{t['p50_ms']} / {t['p99_ms']} ms"

        disk = f"{v['disk_mb']} MB" if "disk_mb" in v else "(server)"
        vs = v.get("vector_search")
        search = f"{lat(vs['search_top20'])} ({vs['index']})" if vs else "n/a"
        rows.append(
            f"| {k} | {v.get('graph_s', v['build_s'])} s | {v.get('retrieval_artifacts_s', 'n/a')} s "
            f"| {v['nodes']:,} | {v['edges']:,} | "
            f"{v['nodes_per_s']:,} | {v['edges_per_s']:,} | {disk} | "
            f"{lat(q['neighbours'])} | {lat(q['ancestors_depth5'])} | "
            f"{lat(q['subgraph_2hop_20_diseases'])} | {search} |"
        )
        if "rebuild" in v:
            cells = []
            for step in ("one_document_removed", "one_document_added"):
                r = v["rebuild"][step]
                docs = ", ".join(f"{n} {c}" for c, n in r["documents"].items() if n)
                cells.append(f"{r['seconds']} s ({r['corpus_seconds']} s corpus; {docs})")
            extra.append(f"| {k} | {cells[0]} | {cells[1]} |")
    return "\n".join(rows + (extra if len(extra) > 3 else []))


def diagnosis(d: dict) -> str:  # type: ignore[type-arg]
    rows = [
        f"| variant | all {d['cases']:,} cases: top-1 / top-3 / top-10, median rank "
        f"| {d['covered_cases']:,} cases whose disease the KB annotates: top-1 / top-3 / top-10, "
        "median rank | top-1 even / odd half |",
        "|---|---|---|---|",
    ]

    def cell(m: dict) -> str:  # type: ignore[type-arg]
        med = m.get("median_rank")
        return f"{m['top1']} / {m['top3']} / {m['top10']} %, {med if med is not None else 'n/a'}"

    for name, r in d["results"].items():
        rows.append(
            f"| {name} | {cell(r['all'])} | {cell(r['covered'])} | "
            f"{r['even_half_covered']['top1']} / {r['odd_half_covered']['top1']} % |"
        )
    lat = d["latency_fused_top10_with_evidence"]
    rows.append("")
    if "coded" in lat and "text" in lat:  # absent after --latency-cases 0
        rows.append(
            f"`diagnose` warm, top 10 with evidence and passages: coded findings p50 "
            f"{lat['coded']['p50_ms']} ms / p99 {lat['coded']['p99_ms']} ms; text p50 "
            f"{lat['text']['p50_ms']} ms / p99 {lat['text']['p99_ms']} ms "
            f"({lat['coded']['n']} cases each). Start-up {d['startup_s']} s; peak RSS of the "
            f"whole benchmark process {d['peak_rss_mb']:,} MB; passages encoder `{d['encoder']}`."
        )
    tput = d.get("throughput_coded_cases_per_s")
    if tput:
        rows.append("")
        rows.append(
            "| `diagnose`, top 10, coded cases, one process | cases/s (wall) | cases per CPU second |"
        )
        rows.append("|---|---:|---:|")
        for level, t in tput.items():
            rows.append(
                f"| `evidence={level}` ({t['cases']} cases) | {t['cases_per_s']} | "
                f"{t.get('cases_per_cpu_s', 'n/a')} |"
            )
    return "\n".join(rows)


def clinical(d: dict) -> str:  # type: ignore[type-arg]
    """benchmarks/clinical.py: top-k per setting and the three everyday presentations."""

    def pct(m: dict) -> str:  # type: ignore[type-arg]
        return " / ".join(f"{m[k] * 100:.1f}" for k in ("top1", "top3", "top10"))

    rows = [
        "| setting | all cases: top-1 / top-3 / top-10 % | cases whose diagnosis has findings "
        "in the KB: top-1 / top-3 / top-10 % | misses of the top 10: no facts / nothing linked "
        "/ outranked |",
        "|---|---|---|---|",
    ]
    for setting, r in d["results"].items():
        m = r["misses_top10"]
        rows.append(
            f"| {setting} | {pct(r['all'])} | {pct(r['with_facts'])} (n = {r['with_facts']['n']}) "
            f"| {m['no facts']} / {m['no present finding linked']} / {m['outranked']} |"
        )
    rows += [
        "",
        "| example | expected | rank, uniform | rank, general | top 3, general |",
        "|---|---|---:|---:|---|",
    ]
    for e in d["examples"]:
        rank = {s: e[s]["rank_of_expected"] for s in ("uniform", "general")}
        rows.append(
            f"| {e['text']} | {e['expected'][0]} | {rank['uniform'] or '-'} | {rank['general'] or '-'} "
            f"| {', '.join(e['general']['top3'])} |"
        )
    return "\n".join(rows)


def main() -> None:
    for page in (REPO / "README.md", REPO / "docs" / "benchmarks.md"):
        if page.is_file():
            render_into(page)


def render_into(readme: Path) -> None:
    """Replace the text between each pair of markers of ``readme`` with its table."""
    text = readme.read_text()
    for name, render in (
        ("ontology", ontology),
        ("linking", linking),
        ("graph", graph),
        ("diagnosis", diagnosis),
        ("clinical", clinical),
    ):
        path = OUT / f"{name}.json"
        if not path.is_file():
            continue
        table = render(json.loads(path.read_text()))
        pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
        text = pattern.sub(lambda m, t=table: m.group(1) + t + "\n" + m.group(2), text)
    readme.write_text(text)


if __name__ == "__main__":
    main()
