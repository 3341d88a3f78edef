/** The slice of a pino logger the engine uses, so the agent and the server can pass theirs. */
export interface BroadcastLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
