/** The FLUTE/ALC/LCT + RaptorQ engine: a library free of Nest and TypeORM (see README.md here). */
export { CarouselSender, sendCarousel } from './sender';
export type { Destination, PreparedObject, SenderOptions, SenderStats, CycleStats } from './sender';
export { FluteReceiver } from './receiver';
export type {
  MissingFile,
  ObjectProgress,
  ReceivedFile,
  ReceivedObject,
  ReceiverOptions,
  ReceiverStats,
} from './receiver';
export {
  burstDispersion,
  cutFiles,
  repairSymbolsFor,
  MAX_OBJECT_BYTES,
  DEFAULT_SYMBOL_SIZE,
} from './objects';
export type { BroadcastFile, CarouselObject } from './objects';
export { BernoulliLoss, GilbertElliottLoss, NoLoss, seededRandom } from './loss-model';
export type { LossModel } from './loss-model';
export { TokenBucket, IP_UDP_OVERHEAD } from './pacer';
export { FecWorkerPool } from './fec/worker-pool';
export type { FecSchemeName } from './fec/schemes';
export type { FdtFile, FdtInstance, FilePart } from './flute/fdt';
export type { BroadcastLogger } from './logger';
