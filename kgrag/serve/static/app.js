// kgrag's page: plain DOM, no framework, no network but this server.
"use strict";

const EXAMPLES = [
  "Infant with prolonged seizures, hypotonia and global developmental delay. No fever.",
  "Fever, cough and shortness of breath for three days, with chest pain when breathing. No wheezing.",
  "Chronic diarrhea with abdominal pain and weight loss. No fever.",
  "Adult with muscle weakness and headache. Denies seizures.",
];

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
};
const SVG = "http://www.w3.org/2000/svg";
const svgEl = (tag, attrs = {}, text) => {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
};

let report = null;
const documents = new Map();

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("apikey").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function api(path, body) {
  const res = await fetch(path, body === undefined
    ? { headers: headers() }
    : { method: "POST", headers: headers(), body: JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.message || `HTTP ${res.status}`);
  return data;
}

function status(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function fillList(id, items) {
  const ul = $(id);
  ul.replaceChildren(...items.map((t) => el("li", {}, t)));
  if (!items.length) ul.append(el("li", {}, "none"));
}

async function run() {
  const text = $("case").value.trim();
  if (!text) { status("Type a case or choose an example.", true); return; }
  sessionStorage.setItem("kgrag-key", $("apikey").value);
  $("run").disabled = true;
  status("Diagnosing…");
  try {
    const topK = Math.max(1, Math.min(50, parseInt($("topk").value, 10) || 10));
    report = await api("/v1/diagnose", { text, top_k: topK });
    show(report);
    const hypotheses = $("hypotheses").value.split("\n").map((h) => h.trim()).filter(Boolean);
    if (hypotheses.length) {
      showGrounded(await api("/v1/ground", { text, hypotheses }));
    } else {
      $("grounded").hidden = true;
    }
    status(`${report.candidates.length} candidates in ${Math.round(report.timings_ms.total || 0)} ms.`);
  } catch (e) {
    status(e.message, true);
  } finally {
    $("run").disabled = false;
  }
}

function show(r) {
  const q = r.query;
  const absent = q.absent || q.excluded || [];
  fillList("present", q.present.map((c) => `${c.name} (${c.id})`));
  fillList("absent", absent.map((c) => `${c.name} (${c.id})`));
  fillList("ignored", q.ignored || []);
  $("findings").hidden = false;

  const rows = r.candidates.map((c, i) => {
    const p = c.probability;
    const path = (c.category_path || []).map((x) => x.name).reverse().join(" › ");
    const tr = el("tr", { "data-rank": c.rank },
      el("td", {}, c.rank),
      el("td", {}, c.name, el("br"), el("span", { class: "code" }, c.concept_id)),
      el("td", {}, el("span", { class: "bar", style: `width:${Math.max(2, Math.round(p * 120))}px` }),
        (p * 100).toFixed(1) + " %"),
      el("td", { class: "path" }, path || "—"));
    tr.addEventListener("click", () => choose(i));
    return tr;
  });
  $("candidates").replaceChildren(...rows);
  $("differential").hidden = false;

  const names = new Map(r.candidates.map((c) => [c.concept_id, c.name]));
  const named = (ids) => ids.map((i) => names.get(i) || i).join(", ");
  const qs = (r.follow_ups || []).map((f) => el("li", {}, f.question,
    el("span", { class: "path" }, f.supports.length ? `  (suggests ${named(f.supports)})` : "")));
  $("questions").replaceChildren(...qs);
  $("followups").hidden = !qs.length;
  if (r.candidates.length) choose(0); else $("evidence").hidden = true;
}

function evidenceItem(f, side) {
  const how = { fact: "fact", passage: "passage", not_shown: "the disease does not show it" }[f.basis] || f.basis;
  const llr = f.log_lr === null || f.log_lr === undefined ? "" : `, log LR ${f.log_lr >= 0 ? "+" : ""}${f.log_lr.toFixed(2)}`;
  const li = el("li", { class: side }, `${side === "for" ? "for" : "against"}: ${f.absent ? "absent " : ""}${f.finding.name} (${how}${llr})`);
  const cites = (f.citations || []).slice(0, 2).map((c) => el("div", { class: "cite" },
    c.kind === "passage"
      ? el("span", { class: c.verified ? "verified" : "unverified" }, c.verified ? "✓ " : "✗ ")
      : "", c.kind === "passage" ? `“${(c.quote || "").slice(0, 140)}” (${c.document} [${c.start}–${c.end}])` : `${c.source}: ${c.reference || "curated"}`));
  li.append(...cites);
  return li;
}

function showGrounded(g) {
  const cards = g.hypotheses.map((h) => {
    const name = h.concept ? `${h.concept.name} (${h.concept.id})` : "unresolved";
    const card = el("div", { class: "hypothesis", "data-rank": h.rank },
      el("h3", {}, `${h.rank}. ${h.hypothesis}`),
      el("div", { class: "meta" }, `${name} · ${h.resolution.status} · score ${h.score === null ? "–" : h.score.toFixed(2)} · `
        + `coverage ${h.coverage.level} (${h.coverage.facts} facts, ${h.coverage.passages} passages)`));
    const ul = el("ul", {});
    h.support.forEach((f) => ul.append(evidenceItem(f, "for")));
    h.against.forEach((f) => ul.append(evidenceItem(f, "against")));
    if (!h.support.length && !h.against.length) {
      ul.append(el("li", {}, h.concept ? "no evidence in the knowledge base (not evidence against)" : "nearest: "
        + (h.resolution.alternatives || []).map((a) => a.name).join(", ")));
    }
    if (h.unexplained.length) ul.append(el("li", { class: "path" }, "unexplained: " + h.unexplained.map((u) => u.name).join(", ")));
    if (h.to_ask.length) ul.append(el("li", { class: "path" }, "ask: " + h.to_ask.map((a) => a.finding.name).join(", ")));
    card.append(ul);
    return card;
  });
  $("hypothesis-cards").replaceChildren(...cards);
  $("consider").replaceChildren(...g.consider_also.map((c) => el("li", {}, `${c.name} (${c.concept_id}), margin ${c.margin.toFixed(2)}`)));
  $("grounded").hidden = false;
}

function drawGraph(c) {
  const up = (c.category_path || []).slice().reverse(); // category first
  const chain = [...up.map((x) => ({ name: x.name, kind: x.tier || "group" })), { name: c.name, kind: "disease" }];
  const findings = c.findings || [];
  const rowH = 34, width = 900;
  const height = Math.max(chain.length, findings.length, 1) * rowH + 30;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `evidence graph for ${c.name}` });
  const box = (x, y, w, label, fill, stroke) => {
    svg.append(svgEl("rect", { x, y: y - 12, width: w, height: 24, rx: 5, fill, stroke }));
    svg.append(svgEl("text", { x: x + 8, y: y + 4, "font-size": 12 }, label.length > 42 ? label.slice(0, 41) + "…" : label));
  };
  const chainY = (i) => 22 + i * rowH;
  chain.forEach((n, i) => {
    if (i) svg.append(svgEl("line", { x1: 150, y1: chainY(i - 1) + 12, x2: 150, y2: chainY(i) - 12, stroke: "#888" }));
    const fill = n.kind === "disease" ? "#dbe9f6" : "#eef0f3";
    box(20, chainY(i), 300, `${n.kind}: ${n.name}`, fill, "#7a8797");
  });
  const dy = chainY(chain.length - 1);
  findings.forEach((f, i) => {
    const y = 22 + i * rowH;
    const absent = f.excluded ?? f.absent ?? false;
    const color = absent ? "#b00020" : "#1b7a3a";
    svg.append(svgEl("line", { x1: 320, y1: dy, x2: 560, y2: y, stroke: color, "stroke-dasharray": absent ? "5,4" : "" }));
    svg.append(svgEl("text", { x: 440, y: (dy + y) / 2 - 3, "font-size": 10, fill: "#555" },
      `${f.log_lr >= 0 ? "+" : ""}${f.log_lr.toFixed(2)}`));
    box(560, y, 320, `${absent ? "absent" : "present"}: ${f.finding.name}`, absent ? "#fbe9ec" : "#e7f5ec", color);
  });
  $("graph").replaceChildren(svg);
}

async function documentText(id) {
  if (!documents.has(id)) {
    documents.set(id, api(`/v1/documents/${encodeURIComponent(id)}/span`));
  }
  return (await documents.get(id)).text;
}

async function citationBlock(cit, title) {
  const div = el("div", { class: "passage" });
  const mark = cit.verified
    ? el("span", { class: "verified", title: "the quote matches the stored document" }, "✓ verified")
    : el("span", { class: "unverified", title: "the quote did not match the stored document" }, "✗ not verified");
  div.append(el("div", { class: "meta" }, mark, `  ${title || cit.document}  [${cit.start}–${cit.end}]  (${cit.source})`));
  let before = "", quote = cit.quote || "", after = "";
  try {
    const text = await documentText(cit.document);
    const a = Math.max(0, cit.start - 160), b = Math.min(text.length, cit.end + 160);
    before = (a > 0 ? "…" : "") + text.slice(a, cit.start);
    quote = text.slice(cit.start, cit.end);
    after = text.slice(cit.end, b) + (b < text.length ? "…" : "");
  } catch (e) { /* the quote alone */ }
  div.append(before, el("mark", {}, quote), after);
  return div;
}

async function choose(i) {
  const c = report.candidates[i];
  for (const tr of $("candidates").children) tr.classList.toggle("chosen", tr.dataset.rank == c.rank);
  $("chosen").textContent = c.name;
  drawGraph(c);
  $("evidence").hidden = false;
  const cites = [];
  for (const f of c.findings || []) {
    for (const cit of f.citations || []) if (cit.kind === "passage") cites.push([cit, `${f.finding.name}`]);
  }
  for (const p of c.passages || []) cites.push([p.citation, p.title]);
  const blocks = await Promise.all(cites.slice(0, 8).map(([cit, t]) => citationBlock(cit, t)));
  $("passages").replaceChildren(...blocks);
  if (!blocks.length) $("passages").append(el("p", { class: "path" }, "No passage cites this candidate; its evidence is the curated annotations above."));
}

function init() {
  const sel = $("example");
  EXAMPLES.forEach((t, i) => sel.append(el("option", { value: String(i) }, t.length > 70 ? t.slice(0, 69) + "…" : t)));
  sel.addEventListener("change", () => { if (sel.value !== "") $("case").value = EXAMPLES[+sel.value]; });
  $("apikey").value = sessionStorage.getItem("kgrag-key") || "";
  $("run").addEventListener("click", run);
  $("case").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run(); });
}
init();
