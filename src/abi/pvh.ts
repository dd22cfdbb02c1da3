// Guest-physical layout shared by the domain builder (builder.ts, host side)
// and the start of day (start.ts): the builder writes hvm_start_info, the
// memory map and the command line; frames 5..7 are "the kernel image's own
// pages" (Solo5 keeps the shared_info page and friends in its BSS); the page
// allocator hands out frames from FIRST_FREE_GPFN.

export const LAYOUT = {
  /** hvm_start_info at the start of this frame; the memory map follows at +64. */
  START_INFO_GPFN: 1,
  MEMMAP_OFFSET: 64,
  CMDLINE_GPFN: 2,
  /** Xenstore ring page (HVM_PARAM_STORE_PFN) when the builder sets one up. */
  XENSTORE_GPFN: 3,
  /** PV console ring page (HVM_PARAM_CONSOLE_PFN) when the builder sets one up. */
  CONSOLE_GPFN: 4,
  /** Where the kernel maps shared_info (XENMEM_add_to_physmap). */
  SHARED_INFO_GPFN: 5,
  /** Hypercall argument scratch page. */
  SCRATCH_GPFN: 6,
  /** CONSOLEIO_write buffer. */
  CONSOLEIO_GPFN: 7,
  FIRST_FREE_GPFN: 8,
  /** Smallest domain the layout fits in. */
  MIN_FRAMES: 16,
} as const;

/** struct hvm_memmap_table_entry { u64 addr; u64 size; u32 type; u32 reserved; } */
export const HVM_MEMMAP_ENTRY = { size: 24, addr: 0, sz: 8, type: 16 } as const;
export const E820_RAM = 1;

/** The upcall vector Solo5 uses. */
export const UPCALL_VECTOR = 32;
