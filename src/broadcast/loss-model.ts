/**
 * Packet loss in user space (the kernel here has no netem): receivers drop datagrams drawn from a
 * seeded model before looking at them, so a test or bench replays exactly the same loss.
 */

/** mulberry32: a small, fast, well-mixed 32-bit PRNG; the same seed gives the same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface LossModel {
  readonly name: string;
  /** Mean loss rate the model is built for. */
  readonly meanLoss: number;
  /** Whether the next datagram is lost. */
  drop(): boolean;
}

export class NoLoss implements LossModel {
  readonly name = 'none';
  readonly meanLoss = 0;
  drop(): boolean {
    return false;
  }
}

/** Independent loss: each datagram is lost with probability p. */
export class BernoulliLoss implements LossModel {
  readonly name = 'bernoulli';
  private readonly random: () => number;
  constructor(
    readonly meanLoss: number,
    seed: number,
  ) {
    if (!(meanLoss >= 0 && meanLoss < 1)) throw new RangeError('loss must be in [0, 1)');
    this.random = seededRandom(seed);
  }
  drop(): boolean {
    return this.random() < this.meanLoss;
  }
}

export interface GilbertElliottParams {
  /** Probability of moving from the good to the bad state, per datagram. */
  pGoodToBad: number;
  /** Probability of moving from the bad back to the good state, per datagram. */
  pBadToGood: number;
  /** Loss probability in the good state (default 0). */
  lossInGood?: number;
  /** Loss probability in the bad state (default 1: a rain fade loses everything). */
  lossInBad?: number;
  seed: number;
}

/** Two-state Markov loss: long good stretches and bursts (fades) of consecutive loss. */
export class GilbertElliottLoss implements LossModel {
  readonly name = 'gilbert-elliott';
  readonly meanLoss: number;
  private readonly random: () => number;
  private bad = false;
  private readonly lossInGood: number;
  private readonly lossInBad: number;

  constructor(readonly params: GilbertElliottParams) {
    const { pGoodToBad: p, pBadToGood: r } = params;
    if (!(p > 0 && p < 1 && r > 0 && r <= 1))
      throw new RangeError('transition probabilities must be in (0, 1]');
    this.lossInGood = params.lossInGood ?? 0;
    this.lossInBad = params.lossInBad ?? 1;
    const piBad = p / (p + r);
    this.meanLoss = piBad * this.lossInBad + (1 - piBad) * this.lossInGood;
    this.random = seededRandom(params.seed);
  }

  /**
   * A model with this mean loss whose bursts last meanBurstPackets datagrams on average
   * (e.g. a 3 s fade at 20 Mbit/s with 1420-byte datagrams is about 5,300 datagrams).
   */
  static withMeanLoss(
    meanLoss: number,
    meanBurstPackets: number,
    seed: number,
  ): GilbertElliottLoss {
    if (!(meanLoss > 0 && meanLoss < 1) || !(meanBurstPackets >= 1))
      throw new RangeError('bad Gilbert-Elliott parameters');
    const r = 1 / meanBurstPackets;
    const p = (r * meanLoss) / (1 - meanLoss);
    return new GilbertElliottLoss({ pGoodToBad: p, pBadToGood: r, seed });
  }

  drop(): boolean {
    if (this.bad) {
      if (this.random() < this.params.pBadToGood) this.bad = false;
    } else if (this.random() < this.params.pGoodToBad) {
      this.bad = true;
    }
    return this.random() < (this.bad ? this.lossInBad : this.lossInGood);
  }
}
