/**
 * Every background job Classcast runs: its name, its payload and the queue it travels on.
 * Adding a job means adding it here; the worker refuses to boot while any job lacks a handler.
 */
export interface JobPayloads {
  /** Removes resumable uploads idle longer than UPLOAD_IDLE_HOURS, and old job records. */
  'maintenance.expire-uploads': { idleHours: number };
  /** Removes what nothing references any more: old blobs, renditions, bundles, work files. */
  'maintenance.gc': { graceDays: number };
  /** Re-derives pending work from PostgreSQL (what a lost Redis forgot). */
  'maintenance.reconcile': Record<string, never>;
  /** Upserts schools from a CSV file held in the blob store. */
  'schools.import': { sha256: string; size: number; charset: 'utf-8' | 'gb18030'; userId: string };
  /** Folds a burst of need changes of one school into a new need version (debounced per school). */
  'schools.need-changed': { schoolId: string };
  /** Creates assignments for a target too large to answer inline. */
  'assignments.assign': AssignPayload;
  /** Fills teacher gaps with published lessons and courses (dry run or apply). */
  'assignments.match': { regionId: string | null; dryRun: boolean; userId: string };
  /** Renders one source file for one device profile (cached by both). */
  'media.render': {
    sourceSha256: string;
    profile: string;
    mediaType: string;
    size: number;
    device: { maxVideoHeight: number; videoCodecs: string[]; imageFormats: string[] };
  };
  /** Works out what a school still lacks and queues the bundle that brings it. */
  'packaging.plan': { schoolId: string };
  /** Builds one bundle from its stored plan; requests coalesce by bundle id, a built bundle is left as it is. */
  'packaging.build': { bundleId: string };
  /** Decides broadcast or unicast for what broadcast-capable schools need; schedules the carousel. */
  'broadcast.plan': Record<string, never>;
  /** Folds changed schools into the coverage rollups (and time-driven changes: due dates, terminals). */
  'coverage.refresh': Record<string, never>;
  /** Recomputes and re-signs one school's sync manifest (debounced per school). */
  'delivery.manifest': { schoolId: string };
}

export interface AssignPayload {
  userId: string;
  lessonIds: string[];
  courseId: string | null;
  target: { schoolIds?: string[]; regionId?: string; gap?: { subject: string; grade: number } };
  dueDate: string | null;
  priority: number;
}

export type JobName = keyof JobPayloads;

export const QUEUE_NAMES = [
  'maintenance',
  'schools',
  'assignments',
  'media',
  'packaging',
  'delivery',
] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export const JOB_QUEUE: { [N in JobName]: QueueName } = {
  'maintenance.expire-uploads': 'maintenance',
  'maintenance.reconcile': 'maintenance',
  'maintenance.gc': 'maintenance',
  'schools.import': 'schools',
  'schools.need-changed': 'schools',
  'assignments.assign': 'assignments',
  'assignments.match': 'assignments',
  'media.render': 'media',
  'packaging.plan': 'packaging',
  'packaging.build': 'packaging',
  'broadcast.plan': 'packaging',
  'coverage.refresh': 'maintenance',
  'delivery.manifest': 'delivery',
};

export const JOB_NAMES = Object.keys(JOB_QUEUE) as JobName[];

export interface JobContext {
  jobId: string;
  attempt: number;
  /** 0-100; shown by GET /jobs/:id. */
  progress(percent: number): Promise<void>;
}

export type JobHandler<N extends JobName> = (
  payload: JobPayloads[N],
  ctx: JobContext,
) => Promise<unknown>;
