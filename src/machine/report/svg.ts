// The hang report's sequence diagram as one SVG: time flows down, one row per
// recorded step. A lane per guest vCPU, one for Xen, one per dom0 thread.
// A hypercall (send, unmask, set_timer_op) is an arrow from the caller's lane
// to Xen; Xen's delivery (upcall_pending 0 -> 1, a wake) an arrow from Xen to
// the vCPU; everything else (a door of the guest: cli, the block check, eoi,
// hlt; a VIRQ Xen raises) a dot on its own lane. Right of the lanes, the
// state after the step: each port's p/m/s and the vCPU's upcall_pending
// (bold where the step read it, grey where carried from an earlier step).
// The steps of the numbered interleaving carry their number in a badge.
//
// Every row is a <g class="step"> with data-seq, data-kind and (picked steps)
// data-key, and a <title> with the full sentence: the page's script and the
// browser test find the steps by those.
import { bitsText, type ReportCell, type ReportModel, type ReportRow } from './model.ts';

const ROW = 24;
const HEAD = 56;
const LEFT = 64;
const LANE = 176;
const CELL = 84;

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The class of a p/m/s cell: what the bits mean for delivery. */
function cellClass(c: ReportCell): string {
  const f = c.fresh ? ' fresh' : '';
  if (c.bits < 0) return `cell unknown${f}`;
  const p = (c.bits >> 2) & 1;
  const m = (c.bits >> 1) & 1;
  const s = c.bits & 1;
  if (p && !m && !s) return `cell wedged${f}`; // [1/0/0]: nothing will raise it
  if (p && !m) return `cell due${f}`; // pending, unmasked, selector set: an upcall is owed
  if (p && m) return `cell masked${f}`;
  return `cell idle${f}`;
}

export function renderSequenceSvg(m: ReportModel): string {
  const x = new Map(m.lanes.map((l, i) => [l.id, LEFT + LANE / 2 + i * LANE]));
  const stateX = LEFT + m.lanes.length * LANE + 8;
  const width = stateX + (m.ports.length + 1) * CELL + 8;
  const height = HEAD + m.rows.length * ROW + 12;
  const out: string[] = [];
  out.push(
    `<svg class="seq" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="sequence diagram of the last ${m.rows.length} steps">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="head"/></marker></defs>',
  );
  // Lane headers and lifelines.
  out.push('<g class="lanes">');
  for (const l of m.lanes) {
    const cx = x.get(l.id)!;
    out.push(
      `<rect class="lane-head ${l.kind}" x="${cx - LANE / 2 + 6}" y="6" width="${LANE - 12}" height="26" rx="4"/>`,
      `<text class="lane-title" x="${cx}" y="24" text-anchor="middle">${escapeXml(l.title)}</text>`,
      `<line class="lifeline ${l.kind}" x1="${cx}" y1="34" x2="${cx}" y2="${height - 6}"/>`,
    );
  }
  m.ports.forEach((p, i) => {
    out.push(`<text class="col-title" x="${stateX + i * CELL + CELL / 2}" y="20" text-anchor="middle">port ${p.port}</text>`);
    out.push(`<text class="col-sub" x="${stateX + i * CELL + CELL / 2}" y="34" text-anchor="middle">${escapeXml(p.name.replace(/^\d+ ?/, '') || 'p/m/s')}</text>`);
  });
  const ux = stateX + m.ports.length * CELL + CELL / 2;
  out.push(`<text class="col-title" x="${ux}" y="20" text-anchor="middle">upcall</text>`, `<text class="col-sub" x="${ux}" y="34" text-anchor="middle">d${m.domid}v${m.vcpu}</text>`);
  out.push(`<text class="col-sub" x="${LEFT / 2}" y="34" text-anchor="middle">step</text>`);
  out.push('</g>');
  m.rows.forEach((r, i) => out.push(row(r, HEAD + i * ROW, x, stateX, width)));
  out.push('</svg>');
  return out.join('\n');
}

function row(r: ReportRow, y: number, x: Map<string, number>, stateX: number, width: number): string {
  const mid = y + ROW / 2;
  const attrs = `class="step${r.key !== undefined ? ' key' : ''}${r.kind === 'gap' ? ' gap' : ''}" id="step-${r.seq}" data-seq="${r.seq}" data-kind="${r.kind}"${r.key !== undefined ? ` data-key="${r.key}"` : ''} data-lane="${escapeXml(r.lane)}"`;
  const g: string[] = [`<g ${attrs}>`, `<title>${escapeXml(`#${r.seq} t=${(r.t / 1e6).toFixed(6)} ms — ${r.detail}`)}</title>`];
  g.push(`<rect class="band" x="0" y="${y}" width="${width}" height="${ROW}"/>`);
  if (r.kind === 'gap') {
    g.push(`<text class="gap-text" x="${stateX / 2}" y="${mid + 4}" text-anchor="middle">${escapeXml(r.text)}</text>`);
  } else {
    g.push(`<text class="seqno" x="${LEFT - 8}" y="${mid + 4}" text-anchor="end">${r.seq}</text>`);
    const from = x.get(r.lane)!;
    const to = r.to !== undefined ? x.get(r.to) : undefined;
    if (to !== undefined && to !== from) {
      const dir = to > from ? 1 : -1;
      g.push(`<line class="arrow ${r.kind}" x1="${from}" y1="${mid + 3}" x2="${to - dir * 4}" y2="${mid + 3}" marker-end="url(#arrow)"/>`);
      const lx = Math.min(from, to) + 8;
      g.push(`<text class="label" x="${lx}" y="${mid - 1}">${escapeXml(r.text)}</text>`);
    } else {
      g.push(`<circle class="dot ${r.kind}" cx="${from}" cy="${mid}" r="${r.kind === 'halt' ? 6 : 4}"/>`);
      g.push(`<text class="label" x="${from + 10}" y="${mid + 4}">${escapeXml(r.text)}</text>`);
    }
    if (r.key !== undefined) {
      g.push(`<circle class="badge" cx="14" cy="${mid}" r="9"/>`, `<text class="badge-n" x="14" y="${mid + 4}" text-anchor="middle">${r.key}</text>`);
    }
  }
  r.cells.forEach((c, i) => g.push(cell(c, stateX + i * CELL, y, bitsText(c.bits))));
  g.push(cell(r.upcall, stateX + r.cells.length * CELL, y, r.upcall.bits < 0 ? '?' : String(r.upcall.bits), r.upcall.bits === 1 ? ' up' : ''));
  g.push('</g>');
  return g.join('');
}

function cell(c: ReportCell, x0: number, y: number, text: string, extra = ''): string {
  const cls = extra ? `cell upcall${extra}${c.fresh ? ' fresh' : ''}` : cellClass(c);
  return `<rect class="${cls}" x="${x0 + 4}" y="${y + 3}" width="${CELL - 8}" height="${ROW - 6}" rx="3"/><text class="cell-text${c.fresh ? ' fresh' : ''}" x="${x0 + CELL / 2}" y="${y + ROW / 2 + 4}" text-anchor="middle">${text}</text>`;
}
