// The FIFO event channel ABI (Xen 4.4+): xen/include/public/event_channel.h
// (EVTCHNOP_init_control/expand_array/set_priority, the event word, the
// control block; Xen 4.17, L265-357). Shared by the hypervisor
// (src/xen/evtchn_fifo.ts) and guest-side consumers, like
// xen/include/public. Pure data: no code with effects.
//
// Who writes what (the rules both ends rely on):
//  - The event array: one u32 event word per port, in guest pages the guest
//    hands over one at a time (expand_array); port p is word p % 1024 of page
//    p / 1024. Xen sets PENDING, LINKED, BUSY and the LINK field; the guest
//    sets/clears MASKED, clears PENDING, and clears LINKED|LINK when it takes
//    a port off a queue. Xen links a word only while it is LINKED (cmpxchg),
//    and holds BUSY on a tail word while it retries, so a guest unmask
//    (cmpxchg expecting BUSY clear) waits for it.
//  - The control block (one per vCPU, in a guest page at an 8-aligned
//    offset): Xen sets bit q of `ready` when queue q gets a new head, and
//    writes head[q] only when queue q was empty; the guest swaps `ready`
//    with 0 and walks each queue from head[q] along the LINK fields.
//  - Xen keeps each queue's tail to itself (struct evtchn_fifo_queue).

/** EVTCHNOP numbers of the FIFO sub-ops (event_channel_op, hypercall 32). */
export const EVTCHNOP_FIFO = { init_control: 11, expand_array: 12, set_priority: 13 } as const;

/**
 * struct evtchn_init_control { IN uint64 control_gfn @0; IN uint32 offset @8;
 * IN uint32 vcpu @12; OUT uint8 link_bits @16; uint8 _pad[7]; } (24 bytes)
 */
export const EVTCHN_INIT_CONTROL = { size: 24, control_gfn: 0, offset: 8, vcpu: 12, link_bits: 16 } as const;
/** struct evtchn_expand_array { IN uint64 array_gfn @0; } */
export const EVTCHN_EXPAND_ARRAY = { size: 8, array_gfn: 0 } as const;
/** struct evtchn_set_priority { IN uint32 port @0; IN uint32 priority @4; } */
export const EVTCHN_SET_PRIORITY = { size: 8, port: 0, priority: 4 } as const;

/** Priorities: 0 is the highest; bound ports start at DEFAULT. */
export const EVTCHN_FIFO_PRIORITY_MAX = 0;
export const EVTCHN_FIFO_PRIORITY_DEFAULT = 7;
export const EVTCHN_FIFO_PRIORITY_MIN = 15;
/** Queues per vCPU, one per priority. */
export const EVTCHN_FIFO_MAX_QUEUES = EVTCHN_FIFO_PRIORITY_MIN + 1;

/** Event word bits (bit numbers, as Xen names them). */
export const EVTCHN_FIFO_PENDING = 31;
export const EVTCHN_FIFO_MASKED = 30;
export const EVTCHN_FIFO_LINKED = 29;
export const EVTCHN_FIFO_BUSY = 28;
/** The LINK field: the next port in the queue (0 = none). */
export const EVTCHN_FIFO_LINK_BITS = 17;
export const EVTCHN_FIFO_LINK_MASK = (1 << EVTCHN_FIFO_LINK_BITS) - 1;
/** Ports the ABI can name: 1 << LINK_BITS. */
export const EVTCHN_FIFO_NR_CHANNELS = 1 << EVTCHN_FIFO_LINK_BITS;

/** Event words per 4 KiB event array page, and the most pages a domain can add. */
export const EVTCHN_FIFO_EVENT_WORDS_PER_PAGE = 1024;
export const EVTCHN_FIFO_MAX_EVENT_ARRAY_PAGES = EVTCHN_FIFO_NR_CHANNELS / EVTCHN_FIFO_EVENT_WORDS_PER_PAGE;

/**
 * struct evtchn_fifo_control_block { uint32 ready @0; uint32 _rsvd @4;
 * uint32 head[16] @8; } (72 bytes). init_control rejects an offset that is
 * not 8-aligned or lets the block cross the page (offset > 4096 - 72).
 */
export const EVTCHN_FIFO_CONTROL_BLOCK = { size: 72, ready: 0, head: 8 } as const;

/** The bits as masks (unsigned: PENDING is bit 31). */
export const FIFO_PENDING = (1 << EVTCHN_FIFO_PENDING) >>> 0;
export const FIFO_MASKED = 1 << EVTCHN_FIFO_MASKED;
export const FIFO_LINKED = 1 << EVTCHN_FIFO_LINKED;
export const FIFO_BUSY = 1 << EVTCHN_FIFO_BUSY;

/**
 * struct evtchn_reset { domid_t dom @0; } (EVTCHNOP_reset, 10): close every
 * port of `dom` (DOMID_SELF, or a paused domain for its controller) and, if it
 * used FIFO, go back to 2L: the only way back.
 */
export const EVTCHN_RESET = { size: 2, dom: 0 } as const;
