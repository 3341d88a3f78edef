/**
 * Errors the agent reports to the person at the terminal. `code` is stable (tests and scripts
 * match on it); `exitCode` is what the CLI exits with.
 */
export type AgentErrorCode =
  | 'usage'
  | 'not_enrolled'
  | 'manifest_refused'
  | 'key_refused'
  | 'bundle_refused'
  | 'disk_full'
  | 'server_unavailable'
  | 'server_refused'
  | 'tls_refused'
  | 'insecure_refused'
  | 'outside_window'
  | 'incomplete'
  | 'usb_refused';

const EXIT: Record<AgentErrorCode, number> = {
  usage: 2,
  not_enrolled: 3,
  manifest_refused: 4,
  key_refused: 4,
  bundle_refused: 5,
  disk_full: 6,
  server_unavailable: 7,
  server_refused: 8,
  tls_refused: 9,
  insecure_refused: 9,
  outside_window: 10,
  incomplete: 1,
  usb_refused: 5,
};

export class AgentError extends Error {
  readonly exitCode: number;
  constructor(
    readonly code: AgentErrorCode,
    message: string,
    /** Seconds the server asked to wait (Retry-After), for retry loops. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AgentError';
    this.exitCode = EXIT[code];
  }
}

/** Failures worth retrying after a pause: the link or the server, not the data or the trust. */
export function isTransient(err: unknown): boolean {
  if (err instanceof AgentError) return err.code === 'server_unavailable';
  return true;
}
