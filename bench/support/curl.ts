import { spawn } from 'node:child_process';

export interface CurlResult {
  status: number;
  seconds: number;
}

/**
 * Runs curl with `args` and returns the HTTP status and curl's own `time_total`, so client-side
 * timing is identical for the anchor and for the API.
 */
export function curl(args: string[]): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    // `Expect:` off for everyone: curl would otherwise wait for 100-continue on big bodies.
    const child = spawn(
      'curl',
      ['-sS', '-H', 'Expect:', '-w', '%{http_code} %{time_total}', ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.once('error', reject);
    child.once('close', (code) => {
      const match = /(\d{3}) ([\d.]+)\s*$/.exec(out);
      if (code !== 0 || !match) {
        reject(new Error(`curl exited with ${code}: ${err.trim() || out.trim()}`));
        return;
      }
      resolve({ status: Number(match[1]), seconds: Number(match[2]) });
    });
  });
}

export function curlVersion(): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('curl', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.once('close', () => resolve(out.split('\n')[0] ?? 'curl'));
    child.once('error', () => resolve('curl (unknown version)'));
  });
}
