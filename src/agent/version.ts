/**
 * The agent's release. BUILD_TIME is a floor for "now" on terminals without a reliable clock: a
 * manifest or certificate that had expired before this agent was built is never accepted.
 * Bump both with every agent release.
 */
export const AGENT_VERSION = '0.1.0';
export const AGENT_BUILD_TIME = '2026-11-28T00:00:00Z';
