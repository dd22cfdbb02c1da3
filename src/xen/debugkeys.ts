// Xen debug keys. 'e' prints the event-channel dump with Xen's exact format
// strings (docs/architecture.md §4.6; common/event_channel.c dump_evtchn_info,
// event_2l.c print_state; for a FIFO domain event_fifo.c print_state, the
// third field of [p/m/s]). Every console line is prefixed "(XEN) ".
import { ECS } from '../abi/xen.ts';
import type { Domain } from './domain.ts';

/** %*pbl: a bitmap as a list of ranges, e.g. "0-1,3". */
export function bitmapList(mask: number, nbits = 32): string {
  const parts: string[] = [];
  for (let i = 0; i < nbits; i++) {
    if (((mask >>> i) & 1) === 0) continue;
    let j = i;
    while (j + 1 < nbits && ((mask >>> (j + 1)) & 1) === 1) j++;
    parts.push(i === j ? `${i}` : `${i}-${j}`);
    i = j;
  }
  return parts.join(',');
}

/** The lines of one domain's part of the 'e' dump (without the "(XEN) " prefix). */
export function domainEvtchnLines(d: Domain): string[] {
  const ch = d.evtchn;
  const out = [`Event channel information for domain ${d.id}:`, `Polling vCPUs: {${bitmapList(d.pollMask, d.vcpus.length)}}`, '    port [p/m/s]'];
  const fifo = ch.fifo;
  for (let port = 1; port < ch.nrValid; port++) {
    const s = ch.state[port]!;
    if (s === ECS.FREE) continue;
    const x = ch.consumer[port]!;
    const usable = ch.usable(port);
    const p = usable && ch.isPending(port) ? 1 : 0;
    const m = !usable || ch.isMasked(port) ? 1 : 0;
    const sel = fifo !== undefined ? fifo.printState(port) : ch.selector(port) ? 1 : 0;
    let line = `    ${String(port).padStart(4)} [${p}/${m}/${sel}]: s=${s} n=${ch.notify[port]} x=${x}`;
    switch (s) {
      case ECS.UNBOUND: line += ` d=${ch.remoteDom[port]}`; break;
      case ECS.INTERDOMAIN: line += ` d=${ch.remoteDom[port]} p=${ch.remotePort[port]}`; break;
      case ECS.PIRQ: line += ` p=0 i=0`; break;
      case ECS.VIRQ: line += ` v=${ch.virq[port]}`; break;
    }
    out.push(line);
  }
  return out;
}

/** The full 'e' dump for `domains` (ascending domid), every line prefixed. */
export function dumpEvtchn(domains: readonly Domain[]): string {
  const lines = [`'e' pressed -> dumping event-channel info`];
  for (const d of [...domains].sort((a, b) => a.id - b.id)) lines.push(...domainEvtchnLines(d));
  return lines.map((l) => `(XEN) ${l}\n`).join('');
}
