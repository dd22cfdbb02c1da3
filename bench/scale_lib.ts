// The scale group's domains (bench/scale.ts, scripts/scale_probe.ts): idle
// xenstore clients (kernels/xs.ts) and netfronts sending unicast frames to
// dom0 (kernels/netfront.ts with dst = xenbr0's MAC), each with its own MAC,
// and the host counters a destroy-all must bring back (src/machine/counters.ts).
import { hostCounters, type HostCounters } from '../src/machine/counters.ts';

/** The i-th domain's MAC (00:16:3e:xx:xx:xx, Xen's OUI; i >= 0). */
export function scaleMac(i: number): string {
  const n = i + 1;
  return [0x00, 0x16, 0x3e, (n >> 16) & 255, (n >> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** One frame each way per netfront every interval of virtual time: traffic linear in N. */
export const SCALE_TX_INTERVAL_NS = 100e6;

/** The config of the i-th domain of a kind; `dst` is dom0's xenbr0 MAC (macToString(kernel.inet.mac)). */
export function scaleConfigs(kind: 'xs' | 'nf', i: number, dst: string): { name: string; text: string } {
  if (kind === 'xs') return { name: `xs${i}`, text: `name = "xs${i}"\nkernel = "kernels/xs.ts"\nmemory = 4\n` };
  return {
    name: `nf${i}`,
    text:
      `name = "nf${i}"\nkernel = "kernels/netfront.ts"\nmemory = 4\n` +
      `vif = [ 'mac=${scaleMac(i)},bridge=xenbr0' ]\n` +
      `extra = "tx=200 interval=${SCALE_TX_INTERVAL_NS / 1e6}ms mac=${scaleMac(i)} dst=${dst}"\n`,
  };
}

/** The host counters (src/machine/counters.ts), under the names bench/scale.ts imports. */
export type ScaleCounters = HostCounters;
export const scaleCounters = hostCounters;
