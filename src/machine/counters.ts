// What one machine holds for its domains, counted: the leak checks (test/
// machine/lifecycle.test.ts, detach/attach, scripts/lifecycle_cycles.ts) and
// the scale bench (bench/scale.ts) read the same numbers, so a resource added
// here is checked by all of them.
//
// HostCounters must come back exactly once the domains that took them are
// gone (each names a table a domain adds to: dom0's ports and grant maps,
// xenstored's nodes, watches and connections, dom0's kernel threads and bridge
// ports, pending timers). MachineCounters adds the logs that grow with every
// domain but have a bound (Xen's conring, the xl history, the NIC capture).
import type { Machine } from './machine.ts';

export interface HostCounters {
  /** Domains the hypervisor lists (dom0 and dying ones included). */
  domains: number;
  /** dom0's bound event channel ports. */
  dom0Ports: number;
  /** Grants dom0 has mapped from other domains. */
  dom0GrantsMapped: number;
  xenstoreNodes: number;
  xenstoreWatches: number;
  xenstoreConnections: number;
  /** dom0's kernel threads (0 without dom0's kernel). */
  kthreads: number;
  /** Ports on dom0's bridge (0 without dom0's kernel). */
  bridgePorts: number;
  /** Pending sim timers. */
  timers: number;
}

/** Every HostCounters key: what a leak check compares exactly. */
export const HOST_COUNTERS: readonly (keyof HostCounters)[] = [
  'domains', 'dom0Ports', 'dom0GrantsMapped', 'xenstoreNodes', 'xenstoreWatches', 'xenstoreConnections', 'kthreads', 'bridgePorts', 'timers',
];

export function hostCounters(m: Machine): HostCounters {
  const k = m.kernel;
  return {
    domains: m.hv.domains().length,
    dom0Ports: m.dom0.evtchn.boundPorts().length,
    dom0GrantsMapped: m.dom0.gnttab.mappedCount,
    xenstoreNodes: m.xsd.store.nodes.size,
    xenstoreWatches: m.xsd.watches.size,
    xenstoreConnections: m.xsd.connections.size,
    kthreads: k ? k.kthreads.list().length : 0,
    bridgePorts: k ? k.bridge.ports.length : 0,
    timers: m.sim.clock.pending,
  };
}

export interface MachineCounters extends HostCounters {
  /** Machine.history entries (bound MACHINE_HISTORY). */
  historyEntries: number;
  /** Bytes in Xen's console ring (bound CONRING_SIZE). */
  xenConsoleBytes: number;
  /** Frames dom0's NIC capture keeps (bound NIC_CAPTURE_FRAMES; 0 without dom0's kernel). */
  nicFrames: number;
}

export function machineCounters(m: Machine): MachineCounters {
  return {
    ...hostCounters(m),
    historyEntries: m.history.length,
    xenConsoleBytes: m.hv.conring.read().length,
    nicFrames: m.kernel ? m.kernel.nic.wire.length : 0,
  };
}
