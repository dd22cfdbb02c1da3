// iputils `ping` (ping/ping.c, ping/ping_common.c) for dom0's shell, on the
// virtual clock: a raw ICMP socket on dom0's xenbr0 address (kernel/inet.ts),
// run as a dom0 process (a sim thread) until it prints its statistics.
//
//   ping [-f] [-q] [-c N] [-i S] [-s SIZE] [-W S] [-w S] IP   (-c or -w: there is no ^C)
//
// What follows iputils, step for step (so the output is byte for byte):
//   - the header `PING a (a) N(N+28) bytes of data.`; the identifier is the
//     pid (BSD ping's getpid() & 0xffff; iputils takes rand() on a raw socket);
//     data bytes are 0, 1, 2, … with the send time (struct timeval, 16 bytes)
//     over the first 16 when there is room for it (`timing`);
//   - pinger(): the token bucket of `interval` ms; with interval 0 (flood
//     without -i) a probe goes out as soon as nothing is in flight, else after
//     MININTERVAL (10 ms): "as fast as they come back or one hundred times per
//     second, whichever is more";
//   - main_loop(): wait for a reply until the next probe is due; -c ends when
//     replies + errors reach N, or when the linger after the last probe runs
//     out (__schedule_exit: 2 × max rtt, at least the interval; -W, default
//     10 s, if nothing came back);
//   - gather_statistics(): rtt from the timeval the reply carries, the
//     reply line (or "\b \b" in flood mode), duplicates, the ewma;
//   - finish(): the statistics block, `%g` loss, integer-sqrt mdev, pipe,
//     ipg/ewma; exit 0 if any reply came back, else 1.
// Errors reported by dom0's stack (ARP failed: "Destination Host
// Unreachable") arrive as ping4_receive_error_msg's do and count as errors.

import { ipv4ToString, parseIpv4 } from '../abi/net/addr.ts';
import { ICMP_DEST_UNREACH, ICMP_ECHOREPLY } from '../abi/net/icmp.ts';
import { waitEvent, type Co, type Sim } from '../sim/index.ts';
import type { Inet, InetMsg } from './kernel/inet.ts';

export interface PingOptions {
  target: string;
  flood: boolean;
  quiet: boolean;
  /** -c: 0 = until interrupted. */
  npackets: number;
  /** -i in ms (iputils keeps an int of ms). */
  interval: number;
  datalen: number;
  /** -W in ms. */
  lingertime: number;
  /** -w in s: 0 = none. */
  deadline: number;
}

export interface PingResult {
  code: number;
  stdout: string;
  stderr: string;
}

const MININTERVAL = 10;
const MAXWAIT_MS = 10_000;
const DEFDATALEN = 56;
const MAX_DUP_CHK = 0x10000;
const TIMEVAL = 16;
/** The largest -s that fits one 1500-byte frame: dom0's stack does not fragment. */
const MAX_DATALEN = 1500 - 20 - 8;
const LONG_MAX = '9223372036854775807';

const err = (stderr: string, code = 2): PingResult => ({ code, stdout: '', stderr: `ping: ${stderr}\n` });

/** getopt("fqnc:i:s:W:w:") and the option checks of ping.c main(). */
export function parsePing(argv: string[]): PingOptions | PingResult {
  const o: PingOptions = { target: '', flood: false, quiet: false, npackets: 0, interval: 1000, datalen: DEFDATALEN, lingertime: MAXWAIT_MS, deadline: 0 };
  let intervalSet = false;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      rest.push(a);
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      if (c === 'f') o.flood = true;
      else if (c === 'q') o.quiet = true;
      else if (c === 'n') continue;
      else if ('ciSsWw'.includes(c)) {
        const v = j + 1 < a.length ? a.slice(j + 1) : argv[++i];
        if (v === undefined) return err(`option requires an argument -- '${c}'`);
        if (c === 'c' || c === 's' || c === 'w') {
          if (!/^\d+$/.test(v)) return err(`invalid argument: '${v}'`);
          const n = Number(v);
          if (c === 'c' && n < 1) return err(`invalid argument: '${v}': out of range: 1 <= value <= ${LONG_MAX}`);
          if (c === 's' && n > MAX_DATALEN) return err(`invalid -s value: '${v}': xenbr0 does not fragment, the largest is ${MAX_DATALEN}`);
          if (c === 'c') o.npackets = n;
          else if (c === 'w') o.deadline = n;
          else o.datalen = n;
        } else {
          const n = Number(v);
          if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 2147483.647) return err(`${c === 'i' ? 'bad timing interval' : 'bad linger time'}: ${v}`);
          if (c === 'i') {
            o.interval = Math.trunc(n * 1000);
            intervalSet = true;
          } else o.lingertime = Math.trunc(n * 1000);
        }
        break;
      } else return err(`invalid option -- '${c}'\nusage: ping [-f] [-q] [-c count] [-i interval] [-s packetsize] [-W timeout] destination`);
    }
  }
  if (rest.length === 0) return err('usage error: Destination address required', 1);
  // Real ping runs until ^C; the emulated shell has no ^C, and an endless
  // ping would keep virtual time running forever.
  if (!o.npackets && !o.deadline) return err('the emulated shell cannot interrupt ping: give -c COUNT or -w SECONDS');
  o.target = rest[rest.length - 1]!;
  // setup(): flood without -i means interval 0.
  if (o.flood && !intervalSet) o.interval = 0;
  return o;
}

/** printf("%g", (float)x) for 0 ≤ x ≤ 100. */
export function fmtG(x: number): string {
  const f = Math.fround(x);
  if (f === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(f)));
  if (exp < -4 || exp >= 6) {
    const [m, e] = f.toExponential(5).split('e') as [string, string];
    const mm = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m;
    const n = Number(e);
    return `${mm}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const s = f.toFixed(Math.max(0, 5 - exp));
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

const d3 = (n: number) => String(n % 1000).padStart(3, '0');

/** Time in µs as gather_statistics prints it. */
export function fmtTime(t: number): string {
  if (t >= 100000 - 50) return ` time=${Math.trunc((t + 500) / 1000)} ms`;
  if (t >= 10000 - 5) return ` time=${Math.trunc((t + 50) / 1000)}.${Math.trunc(((t + 50) % 1000) / 100)} ms`;
  if (t >= 1000) return ` time=${Math.trunc((t + 5) / 1000)}.${String(Math.trunc(((t + 5) % 1000) / 10)).padStart(2, '0')} ms`;
  return ` time=${Math.trunc(t / 1000)}.${d3(t)} ms`;
}

function le32(d: Uint8Array, o: number): number {
  return (d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16) | (d[o + 3]! << 24)) >>> 0;
}

function llsqrt(a: bigint): bigint {
  if (a <= 0n) return a;
  let prev = a + 1n;
  let x = a;
  while (x < prev) {
    prev = x;
    x = (x + a / x) / 2n;
  }
  return x;
}

/** The ping process: `inet` is dom0's stack, `pid` its process id. Output goes to `out` (stdout) and `errOut` as iputils writes it. */
export function* ping(sim: Sim, inet: Inet, o: PingOptions, pid: number, out: (s: string) => void, errOut: (s: string) => void): Co<number> {
  const dst = parseIpv4(o.target);
  if (dst === undefined) {
    errOut(`ping: ${o.target}: Name or service not known\n`);
    return 2;
  }
  if (!inet.onLink(dst)) {
    errOut('ping: connect: Network is unreachable\n');
    return 2;
  }
  const host = ipv4ToString(dst);
  const sock = inet.socket('icmp');
  const ident = pid & 0xffff;
  const timing = o.datalen >= TIMEVAL;
  const outpack = new Uint8Array(o.datalen);
  for (let i = 0; i < o.datalen; i++) outpack[i] = i & 0xff;
  const rcvd = new Uint8Array(MAX_DUP_CHK / 8);
  let ntransmitted = 0, nreceived = 0, nrepeats = 0, nerrors = 0, acked = 0, pipesize = -1;
  let tmin = Number.MAX_SAFE_INTEGER, tmax = 0, tsum = 0, tsum2 = 0n, rtt = 0;
  let curTime: number | undefined;
  let tokens = 0;
  let exiting = false;
  let waittime = -1;
  let alarm: ReturnType<Sim['clock']['after']> | undefined;
  const usec = (ns: number) => Math.floor(ns / 1000);
  /** (tv_sec, tv_usec) differences in ms, as pinger computes them (C division truncates). */
  const msBetween = (a: number, b: number) => (Math.floor(a / 1e9) - Math.floor(b / 1e9)) * 1000 + Math.trunc(((usec(a) % 1e6) - (usec(b) % 1e6)) / 1000);
  const inFlight = () => {
    const diff = (ntransmitted - acked) & 0xffff;
    return diff <= 0x7fff ? diff : 0;
  };
  const acknowledge = (seq: number) => {
    const diff = (ntransmitted - seq) & 0xffff;
    if (diff <= 0x7fff) {
      if (diff + 1 > pipesize) pipesize = diff + 1;
      if (((seq - acked) << 16 >> 16) > 0 || ((ntransmitted - acked) & 0xffff) > 0x7fff) acked = seq;
    }
  };
  // rcvd_tbl: one bit per sequence number (mod MAX_DUP_CHK).
  const rcvdTest = (seq: number) => (rcvd[(seq % MAX_DUP_CHK) >> 3]! & (1 << (seq % 8))) !== 0;
  const rcvdSet = (seq: number) => void (rcvd[(seq % MAX_DUP_CHK) >> 3]! |= 1 << (seq % 8));
  const rcvdClear = (seq: number) => void (rcvd[(seq % MAX_DUP_CHK) >> 3]! &= ~(1 << (seq % 8)));
  const outDv = new DataView(outpack.buffer);

  const start = sim.now;
  // setup(): -w arms SIGALRM for the whole run.
  const deadlineAlarm = o.deadline ? sim.clock.after(o.deadline * 1e9, () => {
    exiting = true;
    sock.wq.wakeAll();
  }, 'ping: SIGALRM (-w)') : undefined;
  out(`PING ${o.target} (${host}) ${o.datalen}(${o.datalen + 8 + 20}) bytes of data.\n`);

  const pinger = (): number => {
    if (exiting || (o.npackets && ntransmitted >= o.npackets && !o.deadline)) return 1000;
    const now = sim.now;
    if (curTime === undefined) {
      curTime = now;
      tokens = 0;
    } else {
      let ntokens = msBetween(now, curTime);
      if (o.interval === 0 && ntokens < MININTERVAL && inFlight() >= 1) return MININTERVAL - ntokens;
      ntokens += tokens;
      if (o.interval < ntokens) ntokens = o.interval;
      if (ntokens < o.interval) return o.interval - ntokens;
      curTime = now;
      tokens = ntokens - o.interval;
    }
    const seq = (ntransmitted + 1) & 0xffff;
    if (timing) {
      // struct timeval on x86_64: tv_sec and tv_usec, two little-endian longs
      // (virtual time stays far below 2^32 s: the high words are 0).
      outDv.setUint32(0, Math.floor(now / 1e9), true);
      outDv.setUint32(4, 0, true);
      outDv.setUint32(8, usec(now) % 1e6, true);
      outDv.setUint32(12, 0, true);
    }
    inet.sendEcho(dst, ident, seq, outpack);
    ntransmitted++;
    rcvdClear(ntransmitted);
    if (!o.quiet && o.flood) out('.');
    return o.interval - tokens;
  };

  const scheduleExit = (next: number): number => {
    if (!(o.npackets && ntransmitted >= o.npackets && !o.deadline)) return next;
    if (waittime >= 0) return next;
    waittime = nreceived ? Math.max(2 * tmax, 1000 * o.interval) : o.lingertime * 1000;
    if (next < 0 || next < waittime / 1000) next = Math.trunc(waittime / 1000);
    alarm = sim.clock.after(waittime * 1000, () => {
      exiting = true;
      sock.wq.wakeAll();
    }, 'ping: SIGALRM');
    return next;
  };

  const onReply = (m: InetMsg) => {
    const cc = 8 + m.data.length;
    nreceived++;
    acknowledge(m.seq);
    let triptime = 0;
    if (timing && m.data.length >= TIMEVAL) {
      const d = m.data;
      const sent = (le32(d, 0) + le32(d, 4) * 2 ** 32) * 1e6 + le32(d, 8) + le32(d, 12) * 2 ** 32;
      triptime = Math.max(0, usec(m.at) - sent);
      tsum += triptime;
      tsum2 += BigInt(triptime) * BigInt(triptime);
      if (triptime < tmin) tmin = triptime;
      if (triptime > tmax) tmax = triptime;
      rtt = rtt ? rtt + triptime - Math.trunc(rtt / 8) : triptime * 8;
    }
    let dup = false;
    if (rcvdTest(m.seq)) {
      nrepeats++;
      nreceived--;
      dup = true;
    } else rcvdSet(m.seq);
    if (o.quiet) return;
    if (o.flood) {
      out('\b \b');
      return;
    }
    let line = `${cc} bytes from ${host}: icmp_seq=${m.seq} ttl=${m.ttl}`;
    if (cc < o.datalen + 8) {
      out(`${line} (truncated)\n`);
      return;
    }
    if (timing) line += fmtTime(triptime);
    if (dup) line += ' (DUP!)';
    out(`${line}\n`);
  };

  // poll(2)'s timeout, as one timer kept armed across waits: a reply usually
  // comes first, and re-arming per probe would put a timer per packet on the
  // clock. An earlier armed deadline is kept: waking early only makes the
  // loop ask pinger() again, as a short poll() does in iputils.
  let pollAt = Infinity;
  let pollTimer: ReturnType<Sim['clock']['at']> | undefined;
  let polled = false;
  const armPoll = (at: number) => {
    if (at >= pollAt) return;
    sim.clock.cancel(pollTimer);
    pollAt = at;
    pollTimer = sim.clock.at(at, () => {
      pollAt = Infinity;
      polled = true;
      sock.wq.wakeAll();
    }, 'ping: poll timeout');
  };

  const onError = (m: InetMsg) => {
    nerrors++;
    acknowledge(m.seq);
    if (o.quiet) return;
    if (o.flood) out('\bE');
    else out(`From ${ipv4ToString(m.src)} icmp_seq=${m.seq} Destination Host Unreachable\n`);
  };

  try {
    for (;;) {
      if (exiting) break;
      if (o.npackets && nreceived + nerrors >= o.npackets) break;
      if (o.deadline && nerrors) break;
      let next: number;
      do {
        next = scheduleExit(pinger());
      } while (next <= 0);
      armPoll(sim.now + next * 1e6);
      polled = false;
      yield* waitEvent(sock.wq, () => sock.rcvq.length > 0 || exiting || polled, 'S');
      while (sock.rcvq.length > 0) {
        const m = sock.rcvq.shift()!;
        if (m.src === dst && m.type === ICMP_ECHOREPLY && m.id === ident) onReply(m);
        else if (m.type === ICMP_DEST_UNREACH && m.id === ident) onError(m);
      }
    }
  } finally {
    sock.close();
    sim.clock.cancel(alarm);
    sim.clock.cancel(pollTimer);
    sim.clock.cancel(deadlineAlarm);
  }

  // finish()
  // tvsub() of two timevals: µs, each truncated first.
  const tvUs = usec(curTime ?? start) - usec(start);
  let s = '\n';
  s += `--- ${o.target} ping statistics ---\n`;
  s += `${ntransmitted} packets transmitted, ${nreceived} received`;
  if (nrepeats) s += `, +${nrepeats} duplicates`;
  if (nerrors) s += `, +${nerrors} errors`;
  if (ntransmitted) {
    s += `, ${fmtG(((ntransmitted - nreceived) * 100.0) / ntransmitted)}% packet loss`;
    s += `, time ${Math.floor(tvUs / 1e6) * 1000 + Math.trunc(((tvUs % 1e6) + 500) / 1000)}ms`;
  }
  s += '\n';
  let comma = '';
  if (nreceived && timing) {
    const total = nreceived + nrepeats;
    const tmavg = Math.trunc(tsum / total);
    const bsum = BigInt(tsum), btotal = BigInt(total);
    const tmvar = tsum < 2147483647 ? (tsum2 - (bsum * bsum) / btotal) / btotal : tsum2 / btotal - BigInt(tmavg) * BigInt(tmavg);
    const tmdev = Number(llsqrt(tmvar));
    const f = (v: number) => `${Math.trunc(v / 1000)}.${d3(v)}`;
    s += `rtt min/avg/max/mdev = ${f(tmin)}/${f(tmavg)}/${f(tmax)}/${f(tmdev)} ms`;
    comma = ', ';
  }
  if (pipesize > 1) {
    s += `${comma}pipe ${pipesize}`;
    comma = ', ';
  }
  if (nreceived && (o.interval === 0 || o.flood) && ntransmitted > 1) {
    const ipg = Math.trunc(tvUs / (ntransmitted - 1));
    s += `${comma}ipg/ewma ${Math.trunc(ipg / 1000)}.${d3(ipg)}/${Math.trunc(rtt / 8000)}.${d3(Math.trunc(rtt / 8))} ms`;
  }
  s += '\n';
  out(s);
  return !nreceived || (o.deadline && nreceived < o.npackets) ? 1 : 0;
}
