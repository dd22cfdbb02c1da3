// Public surface of the xenstore daemon.
export { Xenstored, type XenstoredOptions } from './xenstored.ts';
export { LocalConnection, encodeRequest, decodeReply, type DecodedReply } from './local.ts';
export { RingConnection, type RingMapping } from './ring.ts';
export { listenUnix, type SocketServer } from './socket.ts';
export { DEFAULT_QUOTAS, type Quotas } from './quota.ts';
