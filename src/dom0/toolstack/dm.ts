// Device models and the readiness protocol (docs/architecture.md §6.3).
//
// A device model (QEMU) serves one guest. It runs either in dom0 or in a stub
// domain, and when it is ready it writes `state = running` under *its own
// domain's* xenstore home:
//     /local/domain/<dm-domid>/device-model/<guest-domid>/state
// libxl knows which domain it put the device model in and waits there.
//
// The legacy protocol hard-codes /local/domain/0/device-model/<guest>/state
// for every device model. Two things then go wrong:
//   * collision: with a stub domain, dom0 still runs a "xenpv" QEMU for the
//     guest's PV backends; both publish to the same node, and libxl takes the
//     dom0 one's `running` as the stub domain's readiness;
//   * timeout: the stub domain cannot write dom0's tree (EACCES), so without
//     a dom0 QEMU nobody ever writes the node and libxl times out.
//
// Each device model is a sim thread with its own xenstore connection: dom0's
// are privileged local connections, a stub domain's is an unprivileged
// connection as that domain (xenstored checks its perms like a guest's ring).

import { Sim, SimThread, sleep, type Co } from '../../sim/index.ts';
import type { Xenstored } from '../xenstored/xenstored.ts';
import { Libxenstore, XsError } from './xs.ts';

const MS = 1_000_000;

export interface DmEvent {
  /** Virtual ns. */
  t: number;
  who: string;
  what: string;
}

export interface DmProcess {
  domid: number;
  dmDomid: number;
  role: 'dm' | 'xenpv';
  pid: number;
  thread: SimThread;
  /** The node it published to, once it did (or tried). */
  published?: string;
  error?: string;
}

export interface DeviceModelOptions {
  /** Startup time of a QEMU in dom0 (virtual ns). */
  dom0StartNs?: number;
  /** Startup time of the "xenpv" QEMU (PV backends only). */
  xenpvStartNs?: number;
  /** Boot + startup time of a device model in a stub domain. */
  stubdomStartNs?: number;
}

/** The device-model side of the world (QEMU processes), wired to libxl's SpawnPort.deviceModel. */
export class DeviceModels {
  readonly events: DmEvent[] = [];
  readonly procs: DmProcess[] = [];
  private readonly o: Required<DeviceModelOptions>;

  constructor(
    readonly sim: Sim,
    readonly xsd: Xenstored,
    readonly allocPid: () => number,
    opts: DeviceModelOptions = {},
  ) {
    this.o = { dom0StartNs: 300 * MS, xenpvStartNs: 50 * MS, stubdomStartNs: 2000 * MS, ...opts };
  }

  private note(who: string, what: string): void {
    this.events.push({ t: this.sim.now, who, what });
  }

  /** The path a device model publishes to. */
  static publishPath(domid: number, dmDomid: number, legacy: boolean): string {
    return legacy ? `/local/domain/0/device-model/${domid}/state` : `/local/domain/${dmDomid}/device-model/${domid}/state`;
  }

  spawn(domid: number, dmDomid: number, opts: { legacy: boolean; role: 'dm' | 'xenpv' }): DmProcess {
    const conn = this.xsd.connectLocal(dmDomid);
    const xs = new Libxenstore({
      send: (f) => conn.send(f),
      get onFrame() {
        return conn.onMessage;
      },
      set onFrame(cb) {
        conn.onMessage = cb;
      },
    });
    const who = dmDomid === 0 ? (opts.role === 'xenpv' ? `qemu(xenpv) for d${domid} in dom0` : `qemu for d${domid} in dom0`) : `qemu for d${domid} in stubdom d${dmDomid}`;
    const startNs = dmDomid !== 0 ? this.o.stubdomStartNs : opts.role === 'xenpv' ? this.o.xenpvStartNs : this.o.dom0StartNs;
    const path = DeviceModels.publishPath(domid, dmDomid, opts.legacy);
    const pid = this.allocPid();
    const proc = { domid, dmDomid, role: opts.role, pid } as DmProcess;
    const self = this;
    proc.thread = new SimThread(this.sim, pid, dmDomid === 0 ? 'qemu-system-i38' : `stubdom-dm-${dmDomid}`, function* (): Co {
      self.note(who, 'starting');
      yield* sleep(startNs);
      try {
        yield* xs.write(0, path, 'running');
        proc.published = path;
        self.note(who, `wrote ${path} = running`);
      } catch (e) {
        proc.error = e instanceof XsError ? e.errno : String(e);
        proc.published = path;
        self.note(who, `write ${path} failed: ${proc.error}`);
      }
    }, ['ret_from_fork'], dmDomid);
    this.procs.push(proc);
    return proc;
  }

  destroy(domid: number): void {
    for (const p of this.procs) if (p.domid === domid && p.thread.state !== 'X') p.thread.state = 'X';
  }
}
