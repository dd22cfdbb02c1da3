// Ethernet for the guest stack (Mirage tcpip src/ethif/ethernet.ml,
// Ethernet.Make): input demultiplexes a received frame by EtherType to ARP or
// IPv4; write() fills the header of a frame the upper layer built (with
// ETH_HLEN bytes left free at the front) and hands it to the netif.
//
// Who talks: the netif (netfront) calls input() from its RX poll, in the
// guest's event loop; write() never blocks: a full TX ring drops the frame
// (counted in tx_dropped), as Mirage's netif write fails. Frames for another
// unicast address are dropped ('not-for-us'): the bridge floods unknown
// destinations to every port.

import { MAC_BROADCAST, isMulticastMac, type Mac } from '../../abi/net/addr.ts';
import { ETH_P_ARP, ETH_P_IP, decodeEthernet, encodeEthernet } from '../../abi/net/ethernet.ts';
import { drop, type Drops } from './drops.ts';

/** The device below: netfront's send (false = not queued). */
export interface Netif {
  send(frame: Uint8Array): boolean;
}

/** An upper layer's input: the payload is b[off, off+len). */
export type EthInput = (b: Uint8Array, off: number, len: number, src: Mac) => void;

export class Ethif {
  readonly stats = { rx_frames: 0, tx_frames: 0, tx_dropped: 0 };
  readonly drops: Drops = {};
  arpv4: EthInput | undefined;
  ipv4: EthInput | undefined;

  constructor(readonly netif: Netif, readonly mac: Mac) {}

  input(frame: Uint8Array): void {
    this.stats.rx_frames++;
    const h = decodeEthernet(frame);
    if (typeof h === 'string') return drop(this.drops, h);
    if (h.dst !== this.mac && h.dst !== MAC_BROADCAST && !isMulticastMac(h.dst)) return drop(this.drops, 'not-for-us');
    const up = h.type === ETH_P_IP ? this.ipv4 : h.type === ETH_P_ARP ? this.arpv4 : undefined;
    if (!up) return drop(this.drops, 'ethertype');
    up(frame, 14, frame.length - 14, h.src);
  }

  /** Fill the header of `frame` (payload from byte 14) and send it. False if the netif refused it. */
  write(frame: Uint8Array, dst: Mac, type: number): boolean {
    encodeEthernet(frame, { dst, src: this.mac, type });
    if (this.netif.send(frame)) {
      this.stats.tx_frames++;
      return true;
    }
    this.stats.tx_dropped++;
    return false;
  }
}
