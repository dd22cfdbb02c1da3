// PVH start of day, Solo5-style (bindings/xen/platform.c, evtchn.c, time.c):
// read hvm_start_info (magic, command line), map shared_info with
// XENMEM_add_to_physmap, mask all 4096 ports, register the upcall vector
// (HVMOP_set_evtchn_upcall_vector, vector 32) and then set
// HVM_PARAM_CALLBACK_IRQ = 1 "to trick the toolstack into thinking we are
// enlightened" (variant upcall=global-callback: CALLBACK_IRQ = 2<<56 | 32
// instead), bind VIRQ_TIMER and unmask it, set up the console.

import type { GuestDoors } from '../abi/doors.ts';
import { HVM_PARAM, HVM_PARAM_CALLBACK_TYPE, HVM_START_INFO, PAGE_SIZE, VIRQ, XEN_HVM_START_MAGIC_VALUE } from '../abi/xen.ts';
import { Activations } from './activations.ts';
import { Console } from './console.ts';
import { Evtchn } from './evtchn.ts';
import { Hyper } from './hypercall.ts';
import { LAYOUT, UPCALL_VECTOR } from '../abi/pvh.ts';
import { Time } from './time.ts';
import { buildVariant, type Variant } from '../abi/variant.ts';

export interface Platform {
  doors: GuestDoors;
  variant: Variant;
  hyper: Hyper;
  evtchn: Evtchn;
  activations: Activations;
  time: Time;
  console: Console;
  cmdline: string;
  /** key=value pairs of the command line. */
  args: Record<string, string>;
  virqTimerPort: number;
  nrFrames: number;
  /** Next free frame for alloc_page(). */
  nextFree: number;
}

export class BootError extends Error {}

function readCString(buf: ArrayBuffer, off: number): string {
  const b = new Uint8Array(buf);
  let s = '';
  for (let i = off; i < b.length && b[i] !== 0; i++) s += String.fromCharCode(b[i]!);
  return s;
}

export function parseCmdline(cmdline: string): Record<string, string> {
  const args: Record<string, string> = {};
  for (const tok of cmdline.split(/\s+/).filter(Boolean)) {
    const eq = tok.indexOf('=');
    if (eq < 0) args[tok] = '';
    else args[tok.slice(0, eq)] = tok.slice(eq + 1);
  }
  return args;
}

export function startOfDay(doors: GuestDoors, startInfoPaddr: number, variant: Variant = buildVariant): Platform {
  if (doors.nrFrames < LAYOUT.MIN_FRAMES) throw new BootError(`only ${doors.nrFrames} frames (need ${LAYOUT.MIN_FRAMES})`);
  const siPage = doors.frame(Math.floor(startInfoPaddr / PAGE_SIZE));
  const sv = new DataView(siPage, startInfoPaddr % PAGE_SIZE);
  const magic = sv.getUint32(HVM_START_INFO.magic, true);
  if (magic !== XEN_HVM_START_MAGIC_VALUE) throw new BootError(`bad hvm_start_info magic 0x${magic.toString(16)}`);
  const cmdPaddr = sv.getUint32(HVM_START_INFO.cmdline_paddr, true) + sv.getUint32(HVM_START_INFO.cmdline_paddr + 4, true) * 4294967296;
  const cmdline = cmdPaddr ? readCString(doors.frame(Math.floor(cmdPaddr / PAGE_SIZE)), cmdPaddr % PAGE_SIZE) : '';

  const hyper = new Hyper(doors, LAYOUT.SCRATCH_GPFN, LAYOUT.CONSOLEIO_GPFN);
  hyper.addToPhysmapSharedInfo(LAYOUT.SHARED_INFO_GPFN);
  const evtchn = new Evtchn(doors, hyper, LAYOUT.SHARED_INFO_GPFN, 0, variant);
  evtchn.mask_all();
  if (variant.upcall === 'global-callback') {
    // f4b47d1: the domain-global callback vector, level-triggered on upcall_pending.
    hyper.setParam(HVM_PARAM.CALLBACK_IRQ, UPCALL_VECTOR, HVM_PARAM_CALLBACK_TYPE.VECTOR << 24);
  } else {
    hyper.setUpcallVector(0, UPCALL_VECTOR);
    hyper.setParam(HVM_PARAM.CALLBACK_IRQ, 1, 0);
  }
  const time = new Time(doors, LAYOUT.SHARED_INFO_GPFN, 0);
  const virqTimerPort = hyper.bindVirq(VIRQ.TIMER, 0);
  evtchn.unmask(virqTimerPort);
  const console = new Console(hyper);
  // Solo5 console_init: the PV console ring the builder set up, if any.
  const conPort = hyper.getParam(HVM_PARAM.CONSOLE_EVTCHN);
  const conPfn = hyper.getParam(HVM_PARAM.CONSOLE_PFN);
  if (conPort !== 0 && conPfn !== 0) {
    console.attachRing(doors.frame(conPfn), conPort);
    console.write(`Solo5: Xen console: port 0x${conPort.toString(16)}, ring @0x${(conPfn * PAGE_SIZE).toString(16).padStart(16, '0')}\n`);
  }
  return {
    doors, variant, hyper, evtchn, activations: new Activations(evtchn), time, console, cmdline,
    args: parseCmdline(cmdline), virqTimerPort, nrFrames: doors.nrFrames, nextFree: LAYOUT.FIRST_FREE_GPFN,
  };
}
