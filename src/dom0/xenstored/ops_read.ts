// READ, DIRECTORY, DIRECTORY_PART (cxenstored 4.17 xenstored_core.c:
// do_read, send_directory, send_directory_part).

import { XENSTORE_PAYLOAD_MAX } from '../../abi/xs_wire.ts';
import { asciiz, atoi, countNuls, getStrings, onearg } from './op_args.ts';
import { getNode, nodePath } from './node_access.ts';
import { replyError, type Handler } from './op_context.ts';
import { XS_PERM_READ } from './perms.ts';
import { childList } from './tree/store.ts';

export const doRead: Handler = (x) => {
  // Malformed args: EINVAL (cxenstored returns a stale errno here; deliberate deviation).
  const path = nodePath(x, onearg(x.m.payload));
  return getNode(x, path, XS_PERM_READ).value;
};

export const doDirectory: Handler = (x) => {
  const path = nodePath(x, onearg(x.m.payload));
  const n = getNode(x, path, XS_PERM_READ);
  return childList(n);
};

export const doDirectoryPart: Handler = (x) => {
  const s = getStrings(x.m.payload);
  if (s.length !== 2 || countNuls(x.m.payload) !== 2) replyError('EINVAL');
  const n = getNode(x, nodePath(x, s[0]), XS_PERM_READ);
  const off = atoi(s[1]!);
  const gen = asciiz(String(n.gen));
  const list = childList(n);
  if (off < 0 || off >= list.length) {
    const out = new Uint8Array(gen.length + 1);
    out.set(gen);
    return out;
  }
  // Whole names from the byte offset on, while gen + names stays under 4096.
  let len = 0;
  while (off + len < list.length) {
    const end = list.indexOf(0, off + len);
    const l = end - (off + len) + 1;
    if (gen.length + len + l >= XENSTORE_PAYLOAD_MAX) break;
    len += l;
  }
  const last = off + len === list.length;
  const out = new Uint8Array(gen.length + len + (last ? 1 : 0));
  out.set(gen);
  out.set(list.subarray(off, off + len), gen.length);
  return out;
};
