// The hang report as one self-contained HTML page (`--report FILE.html` on
// `xenode run` and `xenode scenario`): inline CSS and script, no fonts,
// images or anything else fetched, so the file can be mailed, attached to an
// issue or opened offline. Sections: the verdict, the replay command, the
// sequence diagram (svg.ts), the numbered interleaving that lost the event
// (explain.ts; each number is linked to its step in the diagram), the (XEN)
// 'e' dump, and the transcript.
import type { Explanation } from '../explain.ts';
import type { ReportModel } from './model.ts';
import { escapeXml as esc, renderSequenceSvg } from './svg.ts';

export interface HangReportInput {
  /** The page's heading: what ran. */
  title: string;
  /** hang | stall | recovered | ok | failed | … */
  outcome: string;
  /** The verdict's sentence (verdict.ts), or the failed checks. */
  detail: string;
  /** The command that replays the run. */
  replay: string;
  explanations: Explanation[];
  /** The (XEN) 'e' dump. */
  dump: string;
  model: ReportModel;
  /** The terminal transcript or console, shown folded. */
  transcript?: string;
  /** xenode's version, for the footer. */
  version: string;
}

const CSS = `
:root { --fg:#1d2330; --muted:#6b7385; --line:#c9cfdb; --bg:#fff; --band:#f4f6fa; --key:#d9480f; --due:#ffd8a8; --wedged:#ffa8a8; --masked:#d0ebff; --idle:#f1f3f5; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1500px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 20px; margin: 0 0 6px; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #f8f9fb; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; overflow: auto; margin: 6px 0; }
.verdict { display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap; }
.outcome { font-weight: 700; text-transform: uppercase; letter-spacing: .04em; padding: 2px 10px; border-radius: 12px; color: #fff; background: #c92a2a; }
.outcome.ok, .outcome.recovered { background: #2b8a3e; }
.outcome.stall { background: #e67700; }
.replay { display: flex; gap: 8px; align-items: center; }
.replay pre { flex: 1; margin: 0; }
button { font: inherit; padding: 4px 10px; border: 1px solid var(--line); background: #fff; border-radius: 4px; cursor: pointer; }
.legend { color: var(--muted); font-size: 12.5px; margin: 4px 0 8px; }
.legend span.sw { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -2px; margin: 0 3px 0 10px; border: 1px solid #0002; }
.diagram { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
svg.seq { display: block; font: 11.5px ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
svg.seq .lane-head { fill: #edf2ff; stroke: #91a7ff; }
svg.seq .lane-head.xen { fill: #fff4e6; stroke: #ffa94d; }
svg.seq .lane-head.dom0 { fill: #ebfbee; stroke: #69db7c; }
svg.seq .lane-title { font-weight: 700; font-family: system-ui, sans-serif; font-size: 12.5px; }
svg.seq .col-title { font-weight: 700; font-family: system-ui, sans-serif; }
svg.seq .col-sub { fill: var(--muted); font-size: 10.5px; }
svg.seq .lifeline { stroke: #adb5bd; stroke-dasharray: 4 3; }
svg.seq .band { fill: transparent; }
svg.seq .step:nth-of-type(even) .band { fill: var(--band); }
svg.seq .step.key .band { fill: #fff0e6; }
svg.seq .step:hover .band, svg.seq .step.focus .band { fill: #fff3bf; }
svg.seq .seqno { fill: var(--muted); }
svg.seq .label { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
svg.seq .step.key .label { font-weight: 700; }
svg.seq .arrow { stroke: #495057; stroke-width: 1.4; }
svg.seq .arrow.upcall, svg.seq .arrow.wake { stroke: #e8590c; }
svg.seq .head { fill: #495057; }
svg.seq .dot { fill: #4263eb; }
svg.seq .dot.halt { fill: #c92a2a; }
svg.seq .dot.virq { fill: #f08c00; }
svg.seq .badge { fill: var(--key); }
svg.seq .badge-n { fill: #fff; font-weight: 700; font-family: system-ui, sans-serif; }
svg.seq .cell { fill: var(--idle); }
svg.seq .cell.due { fill: var(--due); }
svg.seq .cell.wedged { fill: var(--wedged); }
svg.seq .cell.masked { fill: var(--masked); }
svg.seq .cell.unknown { fill: none; }
svg.seq .cell.upcall.up { fill: var(--due); }
svg.seq .cell-text { fill: #868e96; }
svg.seq .cell-text.fresh { fill: #000; font-weight: 700; }
svg.seq .gap-text { fill: var(--muted); font-style: italic; }
ol.interleaving { padding-left: 0; list-style: none; margin: 6px 0; }
ol.interleaving li { padding: 3px 8px; border-radius: 4px; cursor: pointer; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
ol.interleaving li:hover { background: #fff3bf; }
ol.interleaving .n { display: inline-block; min-width: 22px; height: 20px; border-radius: 10px; background: var(--key); color: #fff; text-align: center; font-weight: 700; margin-right: 8px; font-family: system-ui, sans-serif; }
dl.bugfix dt { font-weight: 700; margin-top: 6px; }
dl.bugfix dd { margin: 2px 0 0 16px; }
footer { color: var(--muted); font-size: 12px; margin-top: 30px; }
`;

// Links the numbered interleaving to the diagram: a click on a line scrolls
// to its step and highlights it; a click on a step highlights it.
const SCRIPT = `
(function () {
  function focus(el) {
    document.querySelectorAll('svg.seq .step.focus').forEach(function (s) { s.classList.remove('focus'); });
    if (!el) return;
    el.classList.add('focus');
    el.scrollIntoView({ block: 'center', behavior: 'smooth' });
  }
  document.querySelectorAll('ol.interleaving li[data-seq]').forEach(function (li) {
    li.addEventListener('click', function () { focus(document.getElementById('step-' + li.getAttribute('data-seq'))); });
  });
  document.querySelectorAll('svg.seq .step').forEach(function (g) {
    g.addEventListener('click', function () { focus(g); });
  });
  var copy = document.getElementById('copy-replay');
  if (copy) copy.addEventListener('click', function () {
    var text = document.getElementById('replay').textContent;
    if (navigator.clipboard) navigator.clipboard.writeText(text).then(function () { copy.textContent = 'copied'; });
  });
})();
`;

function explanationHtml(e: Explanation, i: number): string {
  const items = e.raw.map((s, k) => `<li data-seq="${s.seq}"><span class="n">${k + 1}</span>${esc(e.steps[k]!.replace(/^\s*\d+\.\s*/, ''))}</li>`).join('\n');
  return [
    `<h3 class="why">${i > 0 ? `(${i + 1}) ` : ''}${esc(e.title)}</h3>`,
    `<ol class="interleaving" data-kind="${esc(e.kind)}">\n${items}\n</ol>`,
    `<dl class="bugfix"><dt>bug</dt><dd>${esc(e.bug)}</dd><dt>fix</dt><dd>${esc(e.fix)}</dd></dl>`,
  ].join('\n');
}

/** The explanation section: the interleavings, or why there is none. */
function why(r: HangReportInput): string {
  if (r.explanations.length > 0) return `<h2>Why it ${r.outcome === 'stall' ? 'stalled' : 'hung'}</h2>\n${r.explanations.map(explanationHtml).join('\n')}`;
  if (r.outcome === 'ok') return '<h2>No hang</h2>\n<p>The run ended without a hang: the diagram shows its last steps.</p>';
  return '<h2>Why it failed</h2>\n<p>No suspect port: the hang oracle found no halted vCPU to explain (see the verdict, the dump and the transcript).</p>';
}

export function renderHangReport(r: HangReportInput): string {
  const m = r.model;
  const shown = m.rows.filter((x) => x.kind !== 'gap').length;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>${esc(`xenode: ${r.outcome} — ${r.title}`)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>${esc(r.title)}</h1>
<div class="verdict"><span class="outcome ${esc(r.outcome)}" id="outcome">${esc(r.outcome)}</span><span id="detail">${esc(r.detail)}</span></div>
<h2>Replay</h2>
<div class="replay"><pre id="replay">${esc(r.replay)}</pre><button id="copy-replay" type="button">copy</button></div>
<h2>The last ${shown} steps (of ${m.total} recorded)</h2>
<div class="legend">time flows down; arrows are hypercalls into Xen and Xen's deliveries; numbered steps are the interleaving below.
 After each step: <span class="sw" style="background:var(--due)"></span>pending, unmasked, selector set (an upcall is owed)
 <span class="sw" style="background:var(--wedged)"></span>[1/0/0] wedged <span class="sw" style="background:var(--masked)"></span>masked
 <span class="sw" style="background:var(--idle)"></span>idle; bold: read by this step, grey: carried from an earlier one, ?: not seen yet.</div>
<div class="diagram">
${renderSequenceSvg(m)}
</div>
${why(r)}
<h2>Xen's event channels ('e')</h2>
<pre id="dump">${esc(r.dump)}</pre>
${r.transcript ? `<details><summary>Transcript</summary><pre id="transcript">${esc(r.transcript)}</pre></details>` : ''}
<footer>xenode ${esc(r.version)} · domain ${m.domid} vCPU ${m.vcpu} · ${m.held} steps held by Xen's flight recorder (src/xen/recorder.ts)</footer>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
