/** The FEC schemes this engine speaks, by FEC Encoding ID (pluggable: add one here). */
import { compactNoCode } from './compact-no-code';
import { raptorq } from './raptorq';
import type { FecScheme } from './scheme';

const SCHEMES: FecScheme[] = [raptorq, compactNoCode];

export type FecSchemeName = 'raptorq' | 'compact-no-code';

export function fecSchemeById(id: number): FecScheme | undefined {
  return SCHEMES.find((s) => s.id === id);
}

export function fecSchemeByName(name: FecSchemeName): FecScheme {
  const scheme = SCHEMES.find((s) => s.name === name);
  if (!scheme) throw new Error(`unknown FEC scheme ${name as string}`);
  return scheme;
}
