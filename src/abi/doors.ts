// The doors of a guest kernel: everything a kernel bundle can do to the world
// (docs/architecture.md §3.5). A kernel runs in its own node:vm realm and receives
// one `GuestDoors` object per vCPU; the hypervisor receives one `GuestEntry`
// from the kernel. Nothing else crosses the boundary, and only ArrayBuffers
// (never host typed arrays: they are not `instanceof` the guest realm's) carry
// memory.
//
// Execution model. A vCPU runs guest code until it halts. Guest code is
// synchronous JS, so "running" means: the hypervisor calls `entry.resume()` and
// the guest returns from it when its vCPU has halted (after `hlt()` returned
// true), shut down, or gone down. Each door call is an instruction boundary:
// before it returns, the simulator may run other ready work (a dom0 thread
// sending an event, say) and then, if the vCPU can take an interrupt (IF=1,
// no STI shadow, a vector pending in the LAPIC IRR above the ISR), it calls
// `entry.interrupt(vector)` synchronously, nested inside the door call, just
// as hardware takes an interrupt between two instructions. The handler must
// `eoi()`.
//
// Pointers are guest-physical addresses (gpfn * 4096 + offset) into the
// kernel's own frames; hypercall structs are laid out as in abi/xen.ts.

export interface GuestDoors {
  readonly vcpuId: number;
  /** Number of guest frames; frame(gpfn) is valid for 0 <= gpfn < nrFrames. */
  readonly nrFrames: number;
  /**
   * The 4 KiB frame at `gpfn` now. A frame can be replaced (e.g. when the
   * guest maps shared_info there with XENMEM_add_to_physmap): call again after
   * such a hypercall rather than caching across it.
   */
  frame(gpfn: number): ArrayBuffer;
  /** A hypercall (op numbers in abi/xen.ts); returns >= 0 or -errno. */
  hypercall(op: number, a1?: number, a2?: number, a3?: number, a4?: number, a5?: number): number;
  /** Clear the interrupt flag. */
  cli(): void;
  /** Set the interrupt flag; interrupts stay blocked for one more instruction (STI shadow). */
  sti(): void;
  /**
   * hlt. With IF=0 the vCPU goes down for good (as Xen's hvm_hlt does) and
   * this returns true. With IF=1: if a deliverable vector is pending it is
   * delivered (entry.interrupt) and this returns false: keep running;
   * otherwise the vCPU is now halted and this returns true: the guest must
   * return from resume() without touching anything else.
   */
  hlt(): boolean;
  /** End of interrupt to the local APIC. */
  eoi(): void;
  /**
   * A guest access to shared memory that matters for races: a choice point
   * (other CPUs' work may run here, before the access), no other effect.
   * `label` names the access the guest is about to make ("unmask:test
   * pending"); `port`, if the access concerns one event channel, lets the
   * hypervisor's flight recorder show that port's bits as the guest reads them.
   */
  point(label: string, port?: number): void;
  /** Time stamp counter (ns-scaled: vcpu_time_info uses mul 2^31, shift 1). */
  rdtsc(): number;
}

/** What the kernel gives the hypervisor for each vCPU. */
export interface GuestEntry {
  /** Continue the vCPU after it was halted (its pending interrupt is delivered first). */
  resume(): void;
  /** Deliver `vector`: the kernel's interrupt handler (must eoi()). */
  interrupt(vector: number): void;
}
