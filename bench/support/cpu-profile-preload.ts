/**
 * Preload for profiling the bench server's JavaScript: Node refuses `--cpu-prof` in NODE_OPTIONS,
 * but accepts `--require`, so this starts the V8 sampling profiler in-process and writes
 * `<tmpdir>/classcast-server-<pid>.cpuprofile` (Chrome DevTools or speedscope open it) when the
 * server gets SIGTERM, which is how the bench stops it; `.meta.json` beside it holds the wall-clock
 * start, to line samples up with the `phases` of a bench report. Delete them when done.
 *
 *   BENCH_SERVER_NODE_OPTIONS="--require $PWD/dist/bench/support/cpu-profile-preload.js" \
 *     npm run bench:schools
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const session = new Session();
session.connect();
let wallStartMs = 0;
session.post('Profiler.enable', () =>
  session.post('Profiler.setSamplingInterval', { interval: 500 }, () =>
    session.post('Profiler.start', () => {
      wallStartMs = Date.now();
    }),
  ),
);

let written = false;
process.prependListener('SIGTERM', () => {
  if (written) return;
  written = true;
  // An in-process session answers synchronously, before the server's own SIGTERM handling.
  session.post('Profiler.stop', (err, res) => {
    if (err) return;
    const base = join(tmpdir(), `classcast-server-${process.pid}`);
    writeFileSync(`${base}.cpuprofile`, JSON.stringify(res.profile));
    writeFileSync(`${base}.meta.json`, JSON.stringify({ wallStartMs }));
  });
});
