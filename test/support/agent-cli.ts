import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The built agent (`npx nest build` first), run as the terminal runs it: a separate process. */
export const AGENT_MAIN = join(__dirname, '..', '..', 'dist', 'src', 'agent', 'main.js');

export interface AgentRun {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function spawnAgent(args: string[], env: Record<string, string> = {}): ChildProcess {
  if (!existsSync(AGENT_MAIN))
    throw new Error(`${AGENT_MAIN} is missing: run npx nest build first`);
  return spawn(process.execPath, [AGENT_MAIN, ...args], {
    env: { ...process.env, CLASSCAST_AGENT_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function runAgent(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<AgentRun> {
  const started = Date.now();
  const child = spawnAgent(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

export interface IndexFile {
  lessons: Record<
    string,
    {
      lessonId: string;
      version: number;
      dir: string;
      files: { path: string; sha256: string; size: number }[];
    }
  >;
}

export async function readIndex(dir: string): Promise<IndexFile> {
  try {
    return JSON.parse(await readFile(join(dir, 'library', 'index.json'), 'utf8')) as IndexFile;
  } catch {
    return { lessons: {} };
  }
}

/**
 * Every lesson the index shows is complete and byte-exact; returns the problems found (none
 * means the library is consistent).
 */
export async function libraryProblems(dir: string): Promise<string[]> {
  const index = await readIndex(dir);
  const problems: string[] = [];
  for (const l of Object.values(index.lessons)) {
    for (const f of l.files) {
      const full = join(dir, 'library', 'lessons', l.lessonId, l.dir, f.path);
      try {
        const sha = createHash('sha256')
          .update(await readFile(full))
          .digest('hex');
        if (sha !== f.sha256) problems.push(`${l.lessonId}/${f.path}: wrong bytes`);
      } catch {
        problems.push(`${l.lessonId}/${f.path}: missing`);
      }
    }
  }
  return problems;
}

/** Pseudo-random incompressible bytes (a stand-in for lecture video). */
export function noise(size: number, seed: number): Buffer {
  const buf = Buffer.alloc(size);
  let s = seed * 2654435761 || 1;
  for (let i = 0; i + 4 <= size; i += 4) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    buf.writeInt32LE(s | 0, i);
  }
  return buf;
}
