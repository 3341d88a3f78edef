import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface NginxOptions {
  /** Work directory: config, pid, logs and temp paths go here. */
  dir: string;
  /** DATA_DIR/blobs of the server. */
  blobsDir: string;
  /** The Classcast api to proxy to (omit for a static-only nginx). */
  upstream?: string;
  /** The internal location of SYNC_BYTES=x-accel. */
  accelPrefix?: string;
  /** Also serve DATA_DIR/blobs directly under /static/ (the benchmark's anchor). */
  staticBlobs?: boolean;
}

/**
 * The nginx configuration README.md documents, without TLS (loopback tests and benchmarks):
 * sendfile, keepalive to the api, and the internal location that serves blobs for
 * X-Accel-Redirect with the strong ETag `"<sha256>"`, so nginx applies Range and If-Range itself.
 */
export function nginxConfig(o: NginxOptions, port: number): string {
  const blobs = o.blobsDir.replace(/\/$/, '');
  const accel = (o.accelPrefix ?? '/_classcast_blobs/').replace(/\/$/, '');
  const runAsRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return `
${runAsRoot ? 'user root;' : ''}
worker_processes 1;
daemon off;
pid ${o.dir}/nginx.pid;
error_log ${o.dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 75s;
  keepalive_requests 10000;
  default_type application/octet-stream;
  client_body_temp_path ${o.dir}/body;
  proxy_temp_path ${o.dir}/proxy;
  fastcgi_temp_path ${o.dir}/fastcgi;
  uwsgi_temp_path ${o.dir}/uwsgi;
  scgi_temp_path ${o.dir}/scgi;
${o.upstream ? `  upstream classcast { server ${o.upstream.replace(/^https?:\/\//, '')}; keepalive 64; }` : ''}
  server {
    listen 127.0.0.1:${port};
    location ~ "^${accel}/(?<blobpath>[0-9a-f]{2}/[0-9a-f]{2}/(?<blobsha>[0-9a-f]{64}))$" {
      internal;
      alias ${blobs}/$blobpath;
      etag off;
      add_header ETag "\\"$blobsha\\"";
    }
${
  o.staticBlobs
    ? `    location /static/ {
      alias ${blobs}/;
    }`
    : ''
}
${
  o.upstream
    ? `    location / {
      proxy_pass http://classcast;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_buffering off;
      proxy_request_buffering off;
      client_max_body_size 0;
    }`
    : ''
}
  }
}
`;
}

export function nginxAvailable(): boolean {
  return spawnSync('nginx', ['-v']).status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export interface RunningNginx {
  url: string;
  pid: number;
  stop: () => Promise<void>;
}

/** nginx as our own child process on a free loopback port; stop() ends it (and only it). */
export async function startNginx(o: NginxOptions): Promise<RunningNginx> {
  await mkdir(o.dir, { recursive: true });
  const port = await freePort();
  const conf = join(o.dir, 'nginx.conf');
  await writeFile(conf, nginxConfig(o, port));
  const child: ChildProcess = spawn('nginx', ['-p', o.dir, '-c', conf], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      const log = await readFile(join(o.dir, 'error.log'), 'utf8').catch(() => '');
      throw new Error(`nginx exited: ${err}${log}`);
    }
    const up = await fetch(`${url}/__probe`).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  process.once('exit', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return {
    url,
    pid: child.pid as number,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGQUIT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
