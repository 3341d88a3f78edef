/**
 * Child processes for the packaging bench: the CLI tools that make the sample term and the
 * anchors it is measured against (zip, rsync, tar | zstd | sha256sum), and the CPU time they use.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Enough stderr to explain a failure; ffmpeg at `-v info` can print much more. */
const KEEP_OUTPUT_CHARS = 256 * 1024;

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  /** Kill the child after this long (default 20 minutes). */
  timeoutMs?: number;
}

function keepTail(text: string, chunk: Buffer): string {
  const next = text + chunk.toString('utf8');
  return next.length > KEEP_OUTPUT_CHARS ? next.slice(-KEEP_OUTPUT_CHARS) : next;
}

/** Runs a program without a shell; rejects with its stderr tail on a non-zero exit. */
export function run(command: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout = keepTail(stdout, chunk)));
    child.stderr.on('data', (chunk: Buffer) => (stderr = keepTail(stderr, chunk)));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20 * 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${command}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const tail = stderr.trim().split('\n').slice(-5).join('\n');
      const how = signal ? `signal ${signal}` : `exit ${code}`;
      reject(new Error(`${command} ${args.join(' ')} failed (${how}):\n${tail}`));
    });
  });
}

/** ffmpeg quietly: errors only, never reading stdin, overwriting outputs. */
export function ffmpeg(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(
    'ffmpeg',
    ['-hide_banner', '-nostdin', '-nostats', '-v', 'error', '-y', ...args],
    opts,
  );
}

const hasCommand = (name: string): boolean =>
  spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;

const REQUIRED = ['ffmpeg', 'ffprobe', 'zstd', 'tar', 'sha256sum', 'cp'];
/** Debian packages the anchors need that a slim image may lack; installed when missing. */
const INSTALLABLE: Record<string, string> = { zip: 'zip', rsync: 'rsync' };

/**
 * Fails early on a missing tool, instead of halfway through a ten-minute run. zip and rsync are
 * installed with apt-get when absent (and the bench says so): they are anchors, not dependencies.
 */
export function ensureTools(): string[] {
  const missing = REQUIRED.filter((tool) => !hasCommand(tool));
  if (missing.length) throw new Error(`missing tools: ${missing.join(', ')}`);
  const packages = Object.keys(INSTALLABLE)
    .filter((tool) => !hasCommand(tool))
    .map((tool) => INSTALLABLE[tool]);
  if (packages.length === 0) return [];
  console.log(`installing ${packages.join(', ')} with apt-get (needed by the anchors)`);
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], {
      stdio: 'inherit',
    }).status === 0;
  if (!install()) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    if (!install()) throw new Error(`apt-get install ${packages.join(' ')} failed`);
  }
  return packages;
}

export function toolVersions(): Record<string, string> {
  const first = (cmd: string, args: string[]) =>
    (spawnSync(cmd, args, { encoding: 'utf8' }).stdout ?? '').split('\n')[0].trim();
  return {
    ffmpeg: first('ffmpeg', ['-version']),
    zstd: first('zstd', ['--version']),
    rsync: first('rsync', ['--version']),
    zip: (spawnSync('zip', ['-v'], { encoding: 'utf8' }).stdout ?? '').split('\n')[1]?.trim() ?? '',
    tar: first('tar', ['--version']),
  };
}

const CLOCK_TICKS = 100;

/**
 * CPU seconds (user + system) of this process and of its children that have been waited for:
 * zstd, tar and friends do the work in children, which process.cpuUsage() does not see.
 */
export function cpuSecondsSoFar(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return ticks / CLOCK_TICKS;
}

export interface RsyncStats {
  sentBytes: number;
  receivedBytes: number;
  literalBytes: number;
  matchedBytes: number;
  /** Bytes put on the wire for each transferred file (rsync's %b), by relative path. */
  perFile: Map<string, number>;
}

/** `rsync -a --stats --no-whole-file` from `source/` into `dest/`, plus `extra` options. */
export async function rsyncStats(
  source: string,
  dest: string,
  extra: string[] = [],
): Promise<RsyncStats> {
  const { stdout } = await run('rsync', [
    '-a',
    '--stats',
    '--no-whole-file',
    '--out-format=FILE|%n|%b',
    ...extra,
    `${source}/`,
    `${dest}/`,
  ]);
  const number = (label: string): number => {
    const match = new RegExp(`^${label}: ([\\d,]+)`, 'm').exec(stdout);
    if (!match) throw new Error(`rsync --stats: no "${label}" in:\n${stdout}`);
    return Number(match[1].replace(/,/g, ''));
  };
  const perFile = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const [tag, name, bytes] = line.split('|');
    if (tag === 'FILE' && name && !name.endsWith('/')) perFile.set(name, Number(bytes));
  }
  return {
    sentBytes: number('Total bytes sent'),
    receivedBytes: number('Total bytes received'),
    literalBytes: number('Literal data'),
    matchedBytes: number('Matched data'),
    perFile,
  };
}

/** The throughput anchor: `tar cf - . | zstd -<level> | sha256sum` in `dir`, through bash. */
export async function tarZstdSha(dir: string, level: number): Promise<string> {
  const { stdout } = await run(
    'bash',
    ['-c', `set -o pipefail; tar cf - . | zstd -q -${level} | sha256sum`],
    { cwd: dir },
  );
  return stdout.trim().split(' ')[0];
}

/** Member name -> stored size of a tar, from GNU tar's verbose listing. */
export async function tarMemberSizes(path: string): Promise<Map<string, number>> {
  const { stdout } = await run('tar', ['tvf', path]);
  const sizes = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const match = /^\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+(.+)$/.exec(line);
    if (match) sizes.set(match[2], Number(match[1]));
  }
  return sizes;
}
