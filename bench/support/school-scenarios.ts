import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from 'pg';
import type { Api } from './api';
import { serverSeconds, waitForJob } from './jobs';
import { memoryOf, RssSampler } from './rss';
import { writeSampleVideo } from './sample-video';

const elapsed = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e9;

export interface MatchResult {
  dryRun: boolean;
  gaps: number;
  filled: number;
  created: number;
  proposals: unknown[];
  proposalsTotal: number;
}

export interface MeasuredMatch {
  seconds: number;
  jobSeconds: number | null;
  baselineRssMb: number;
  peakRssMb: number;
  rssSamples: number;
  result: MatchResult;
  storedAssignments: number;
}

/** POST /assignments/match {regionId, dryRun: false} until the job completes; RSS every 100 ms. */
export async function runMatch(
  api: Api,
  token: string,
  db: Client,
  serverPid: number,
  regionId: string,
): Promise<MeasuredMatch> {
  const baselineRssMb = memoryOf(serverPid).rssMb;
  const sampler = new RssSampler(serverPid, 100);
  sampler.start();
  try {
    const started = process.hrtime.bigint();
    const { jobId } = await api.call<{ jobId: string }>('POST', '/assignments/match', {
      token,
      body: { regionId, dryRun: false },
      expect: 202,
    });
    const job = await waitForJob<MatchResult>(api, token, jobId, {
      intervalMs: 200,
      timeoutMs: 30 * 60_000,
    });
    const seconds = elapsed(started);
    const rss = sampler.stop();
    if (!job.result) throw new Error(`matching job ${jobId} completed without a result`);
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM assignment WHERE source = 'gap-match' AND revoked_at IS NULL`,
    );
    return {
      seconds,
      jobSeconds: serverSeconds(job),
      baselineRssMb,
      peakRssMb: rss.peakMb,
      rssSamples: rss.samples,
      result: job.result,
      storedAssignments: rows[0].n,
    };
  } finally {
    sampler.stop();
  }
}

/**
 * A course the way a bureau makes one: `count` ethics lessons for grade 4, each with a small
 * MP4 uploaded as multipart and published, then POST /courses.
 */
export async function createPublishedCourse(
  api: Api,
  token: string,
  workDir: string,
  count: number,
): Promise<{ id: string; lessonIds: string[] }> {
  const lessonIds: string[] = [];
  for (let i = 1; i <= count; i++) {
    const lesson = await api.call<{ id: string }>('POST', '/lessons', {
      token,
      body: {
        title: `道德与法治四年级 第${i}课：我们的班级`,
        subject: 'ethics',
        grades: [4],
        language: 'zh-CN',
        teacherlessReady: true,
        durationMinutes: 40,
      },
    });
    const file = join(workDir, `course-lesson-${i}.mp4`);
    await writeSampleVideo(file, 1024 * 1024);
    const form = new FormData();
    form.append('file', new Blob([await readFile(file)], { type: 'video/mp4' }), 'lesson.mp4');
    const res = await fetch(`${api.baseUrl}/api/v1/lessons/${lesson.id}/files`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
      body: form,
    });
    if (res.status !== 201)
      throw new Error(`file upload answered ${res.status}: ${await res.text()}`);
    await api.call('POST', `/lessons/${lesson.id}/publish`, { token, expect: 200 });
    lessonIds.push(lesson.id);
  }
  const course = await api.call<{ id: string }>('POST', '/courses', {
    token,
    body: { title: '道德与法治四年级（上）无师课堂', subject: 'ethics', grade: 4, lessonIds },
  });
  return { id: course.id, lessonIds };
}

export interface MeasuredAssign {
  mode: 'job' | 'inline';
  seconds: number;
  jobSeconds: number | null;
  created: number;
  existing: number;
  stored: number;
}

/** POST /assignments {courseId, regionId}: inline (201) for small targets, else a job to poll. */
export async function assignCourse(
  api: Api,
  token: string,
  db: Client,
  course: { id: string; lessonIds: string[] },
  regionId: string,
): Promise<MeasuredAssign> {
  const started = process.hrtime.bigint();
  const res = await fetch(`${api.baseUrl}/api/v1/assignments`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ courseId: course.id, regionId }),
  });
  const body = (await res.json()) as { jobId?: string; created?: number; existing?: number };
  let mode: MeasuredAssign['mode'] = 'inline';
  let jobSeconds: number | null = null;
  let result = body;
  if (res.status === 202 && body.jobId) {
    mode = 'job';
    const job = await waitForJob<{ created: number; existing: number }>(api, token, body.jobId, {
      intervalMs: 200,
      timeoutMs: 10 * 60_000,
    });
    jobSeconds = serverSeconds(job);
    result = job.result ?? {};
  } else if (res.status !== 201) {
    throw new Error(`POST /assignments answered ${res.status}: ${JSON.stringify(body)}`);
  }
  const seconds = elapsed(started);
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM assignment WHERE course_id = $1 AND revoked_at IS NULL`,
    [course.id],
  );
  return {
    mode,
    seconds,
    jobSeconds,
    created: result.created ?? -1,
    existing: result.existing ?? -1,
    stored: rows[0].n,
  };
}
