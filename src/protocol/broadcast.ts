/**
 * How Classcast names what it puts on the broadcast carousel (FLUTE Content-Location), shared by
 * the sender (the broadcast role) and the receiver (`agent receive`). Pure, no I/O.
 */
export const BROADCAST_BUNDLE_PREFIX = 'classcast:bundle/';
export const BROADCAST_MANIFEST_PREFIX = 'classcast:sync/';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const bundleLocation = (bundleId: string) => `${BROADCAST_BUNDLE_PREFIX}${bundleId}.tar`;
export const manifestLocation = (schoolId: string) =>
  `${BROADCAST_MANIFEST_PREFIX}${schoolId}.json`;

export type BroadcastObjectName =
  | { kind: 'bundle'; bundleId: string }
  | { kind: 'manifest'; schoolId: string }
  | { kind: 'unknown' };

/** What a Content-Location names; anything not in this shape is unknown (and ignored). */
export function parseBroadcastLocation(location: string): BroadcastObjectName {
  if (location.startsWith(BROADCAST_BUNDLE_PREFIX) && location.endsWith('.tar')) {
    const id = location.slice(BROADCAST_BUNDLE_PREFIX.length, -'.tar'.length);
    if (UUID.test(id)) return { kind: 'bundle', bundleId: id };
  }
  if (location.startsWith(BROADCAST_MANIFEST_PREFIX) && location.endsWith('.json')) {
    const id = location.slice(BROADCAST_MANIFEST_PREFIX.length, -'.json'.length);
    if (UUID.test(id)) return { kind: 'manifest', schoolId: id };
  }
  return { kind: 'unknown' };
}
