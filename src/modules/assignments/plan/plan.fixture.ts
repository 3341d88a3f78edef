import { PlanItemInput, PlanSchool } from './delivery-plan';

/** Test-only builders: an always-reachable 8 Mbit/s UTC school with room to spare. */
export function school(overrides: Partial<PlanSchool> = {}): PlanSchool {
  return {
    timezone: 'UTC',
    downlinkKbps: 8000,
    windows: [],
    monthlyCapBytes: null,
    bytesSentThisMonth: 0,
    storageCapacityBytes: 1e15,
    heldBytes: 0,
    ...overrides,
  };
}

export function item(overrides: Partial<PlanItemInput> = {}): PlanItemInput {
  return {
    lessonId: 'lesson-a',
    version: 1,
    bytes: 1000,
    dueDate: null,
    priority: 5,
    assignedAt: '2026-11-01T00:00:00Z',
    ...overrides,
  };
}

/** Items named lesson-0, lesson-1, ... in plan order (same due date and priority, later assignedAt). */
export function numbered(count: number, bytes: number): PlanItemInput[] {
  return sized(...Array.from({ length: count }, () => bytes));
}

/** Like `numbered`, one item per size given. */
export function sized(...sizes: number[]): PlanItemInput[] {
  return sizes.map((bytes, i) =>
    item({
      lessonId: `lesson-${i}`,
      bytes,
      assignedAt: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
    }),
  );
}
