// xenode/abi: Xen's public interface as TypeScript, for kernels and tools
// (package.json "exports"). One module per header or protocol:
//   xen.ts        xen.h, event_channel.h, grant_table.h, hvm/params.h, … (numbers, x86_64 layouts)
//   pvh.ts        the PVH start of day (hvm_start_info, memory map) and xenode's guest memory layout
//   doors.ts      the guest's CPU contract: hypercalls, cli/sti/hlt, EOI, frames
//   evtchn_2l.ts  the 2-level pending walk (evtchn_2l_handle_events)
//   ring.ts       io/ring.h shared rings; netif.ts, blkif.ts (as `netif`, `blkif`) their requests and responses
//   xs_wire.ts    io/xs_wire.h: the xenstore wire protocol and its one codec
//   console.ts    io/console.h: the PV console ring
//   ring_page.ts  the demo ring page between kernels/ring.ts and dom0
//   variant.ts    the runtime's build variants (the historical bugs)
//   net/          Ethernet, ARP, IPv4, ICMP, UDP codecs and MAC/IPv4 addresses (as `net`)
export * from './xen.ts';
export * from './pvh.ts';
export type * from './doors.ts';
export * from './evtchn_2l.ts';
export * from './ring.ts';
export * as netif from './netif.ts';
export * as blkif from './blkif.ts';
export * from './xs_wire.ts';
export * from './console.ts';
export * from './ring_page.ts';
export * from './variant.ts';
export * as net from './net/index.ts';
