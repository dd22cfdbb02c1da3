// The network codecs both ends use (the guest stack, dom0's xenbr0 and ping):
// one file per protocol, each with its wire layout, types and one strict
// decoder that returns a Malformed reason instead of throwing.
export * from './addr.ts';
export * from './checksum.ts';
export * from './malformed.ts';
export * from './ethernet.ts';
export * from './arp.ts';
export * from './ipv4.ts';
export * from './icmp.ts';
export * from './udp.ts';
