/**
 * What a transmission costs in satellite bytes, broadcast against unicast, and the repair overhead
 * a region's loss calls for. Pure: the planner and the benchmark share it.
 */

/** UDP payload per packet: LCT header (TSI, TOI, EXT_FTI only in the FDT) + FEC payload id + symbol. */
export const SYMBOL_BYTES = 1400;
/** IPv4 20 + UDP 8 + LCT/ALC 16 + FEC payload id 4 per 1400-byte symbol. */
export const PACKET_OVERHEAD = (SYMBOL_BYTES + 48) / SYMBOL_BYTES;

/** Loss above this is treated as this: a link that loses half its packets is not tuned for. */
export const MAX_PLANNED_LOSS = 0.5;

/**
 * Repair overhead for an expected loss rate p: enough symbols that K arrive on average
 * (p / (1 - p)), half the loss again as margin for bursts, and half a percent for the decoder
 * (RaptorQ fails at exactly K about 0.4 % of the time, essentially never at K+2).
 * 5 % loss gives about 8 %.
 */
export function overheadForLoss(loss: number): number {
  const p = Math.min(MAX_PLANNED_LOSS, Math.max(0, Number.isFinite(loss) ? loss : 0));
  return round4(p / (1 - p) + 0.5 * p + 0.005);
}

export interface CostInput {
  /** Bytes of the item (the files the schools install). */
  bytes: number;
  /** Schools that need it and can receive the broadcast. */
  schools: number;
  /** Repair overhead planned for the worst region of the audience. */
  overhead: number;
  /** Carousel cycles per broadcast. */
  cycles: number;
  /** Fraction of the item the average school still fetches over unicast after the broadcast. */
  repairFraction: number;
  /** Fewest schools a broadcast is planned for. */
  minSchools: number;
}

export type DecisionReason = 'broadcast_cheaper' | 'unicast_cheaper' | 'too_few_schools';

export interface Decision {
  via: 'broadcast' | 'unicast';
  reason: DecisionReason;
  /** Satellite bytes if broadcast: every cycle on the carousel plus the expected repair. */
  broadcastBytes: number;
  /** Satellite bytes if every school downloads it. */
  unicastBytes: number;
}

/** Broadcast costs the same whatever the audience; unicast grows with every school. */
export function decide(c: CostInput): Decision {
  const broadcastBytes = Math.ceil(
    c.cycles * c.bytes * (1 + c.overhead) * PACKET_OVERHEAD +
      c.schools * c.bytes * c.repairFraction,
  );
  const unicastBytes = c.schools * c.bytes;
  if (c.schools < c.minSchools) {
    return { via: 'unicast', reason: 'too_few_schools', broadcastBytes, unicastBytes };
  }
  return broadcastBytes < unicastBytes
    ? { via: 'broadcast', reason: 'broadcast_cheaper', broadcastBytes, unicastBytes }
    : { via: 'unicast', reason: 'unicast_cheaper', broadcastBytes, unicastBytes };
}

/** Bytes one carousel cycle puts on the channel for an object set of `bytes`. */
export function cycleBytes(bytes: number, overhead: number): number {
  return Math.ceil(bytes * (1 + overhead) * PACKET_OVERHEAD);
}

/**
 * Exponentially weighted loss: recent receipts count more, one outlier does not swing a region.
 * The first sample is taken as is.
 */
export function blendLoss(previous: number | null, sample: number, weight = 0.2): number {
  const s = Math.min(1, Math.max(0, sample));
  return round4(previous === null ? s : previous * (1 - weight) + s * weight);
}

function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}
