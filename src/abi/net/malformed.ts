// Why a codec refused a frame. Decoders return one of these instead of
// throwing: a guest's frame is input, and no input may crash its receiver
// (DESIGN.md "No guest can stop the host"). Receivers count them by name.
export type Malformed =
  /** Shorter than the fixed header. */
  | 'truncated'
  /** A length field disagrees with the bytes that arrived. */
  | 'length'
  | 'checksum'
  /** A version or address-format field this codec does not speak. */
  | 'format';
