/**
 * The packaging bench's tables: ours side by side with each anchor, with the target it must meet.
 */
import { cpus } from 'node:os';
import { formatTable } from './stats';
import type { RsyncStats } from './term-process';
import { SSIM_TOLERANCE, type VideoComparison } from './term-video-anchor';

export const TARGETS = {
  /** bundle bytes / zip -r of the uploads */
  bytesVsZip: 0.3,
  /** update bundle bytes / rsync bytes sent + received */
  updateVsRsync: 1.0,
  /** our MB/s at zstd 3 / tar | zstd -3 | sha256sum MB/s */
  throughputVsAnchor: 0.6,
  ssimTolerance: SSIM_TOLERANCE,
};

export interface BytesResult {
  uploadBytes: number;
  zipBytes: number;
  producedBytes: number;
  bundleBytes: number;
  byKind: {
    kind: string;
    files: number;
    uploadBytes: number;
    producedBytes: number;
    bundleBytes: number;
    outcomes: string;
  }[];
  renderSeconds: number;
}

export interface UpdateResult {
  description: string[];
  termBytes: number;
  changedFiles: number;
  changedUploadBytes: number;
  uploadBytes: number;
  changedProducedBytes: number;
  rsync: RsyncStats;
  rsyncCompressed: RsyncStats;
  updateBundleBytes: number;
  fullBundleBytes: number;
  perFile: {
    path: string;
    oldBytes: number;
    newBytes: number;
    encoding: string;
    bundleBytes: number;
    rsyncBytes: number;
  }[];
}

export interface ThroughputRun {
  seconds: number;
  cpuSeconds: number;
  encodeSeconds: number;
}

export interface ThroughputResult {
  bytes: number;
  files: number;
  load1: number[];
  methods: (ThroughputRun & { method: string; mbPerSecond: number; runs: ThroughputRun[] })[];
}

const MB = 1024 * 1024;
const mb = (bytes: number, digits = 2) => (bytes / MB).toFixed(digits);
const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)} %`;
const verdict = (pass: boolean) => (pass ? 'PASS' : 'FAIL');

export function printBytes(r: BytesResult): void {
  const ratio = r.bundleBytes / r.zipBytes;
  console.log('\n1. Bytes: a term for a 480p device\n');
  console.log(
    formatTable(
      ['what', 'MB', 'vs zip -r', `target (<= ${TARGETS.bytesVsZip})`],
      [
        ['uploads (sum of files)', mb(r.uploadBytes), (r.uploadBytes / r.zipBytes).toFixed(3), ''],
        ['anchor A: zip -r of the uploads', mb(r.zipBytes), '1.000', 'anchor'],
        [
          'ours: renditions (sum of files)',
          mb(r.producedBytes),
          (r.producedBytes / r.zipBytes).toFixed(3),
          '',
        ],
        [
          'ours: bundle, zstd 19, signed',
          mb(r.bundleBytes),
          ratio.toFixed(3),
          verdict(ratio <= TARGETS.bytesVsZip),
        ],
      ],
    ),
  );
  console.log('');
  console.log(
    formatTable(
      [
        'kind',
        'files',
        'upload MB',
        'rendition MB',
        'in bundle MB',
        'share of bundle',
        'what became of them',
      ],
      r.byKind.map((k) => [
        k.kind,
        k.files,
        mb(k.uploadBytes),
        mb(k.producedBytes),
        mb(k.bundleBytes),
        pct(k.bundleBytes, r.bundleBytes),
        k.outcomes,
      ]),
    ),
  );
  console.log(`(rendering took ${r.renderSeconds.toFixed(0)} s in all)`);
}

export function printVideos(videos: VideoComparison[]): void {
  console.log(
    `\n1c. Video renditions: ours (480p) vs ricecooker defaults (CRF 32, 480p, AAC 32k mono); ` +
      `SSIM 'All' vs the source\n`,
  );
  console.log(
    formatTable(
      [
        'video',
        'source',
        'ours MB',
        'ricecooker MB',
        'ours/rc',
        'ours/rc video stream',
        'SSIM ours',
        'SSIM rc',
        `SSIM (same = +-${SSIM_TOLERANCE})`,
      ],
      videos.map((v) => [
        v.path,
        `${v.durationSeconds.toFixed(0)} s ${(v.sourceKbps / 1000).toFixed(1)} Mbit/s`,
        mb(v.oursBytes, 3),
        mb(v.ricecookerBytes, 3),
        v.bytesRatio.toFixed(2),
        v.videoBytesRatio.toFixed(2),
        v.oursSsim.all.toFixed(4),
        v.ricecookerSsim.all.toFixed(4),
        v.ssimPass ? 'PASS (same or better)' : 'FAIL (worse)',
      ]),
    ),
  );
  const total = (pick: (v: VideoComparison) => number) => videos.reduce((n, v) => n + pick(v), 0);
  const bytes = total((v) => v.oursBytes) / total((v) => v.ricecookerBytes);
  const video = total((v) => v.oursStreams.video) / total((v) => v.ricecookerStreams.video);
  console.log(
    `all videos: ours/ricecooker bytes ${bytes.toFixed(2)}, video streams ${video.toFixed(2)} ` +
      '(audio: ours AAC 48k mono, ricecooker 32k mono)',
  );
  for (const v of videos) {
    const iso = v.isoSsim;
    if (!iso) continue;
    const points = iso.points
      .map((p) => `CRF ${p.crf} ${mb(p.videoBytes, 3)} MB SSIM ${p.ssim.toFixed(4)}`)
      .join('; ');
    const at =
      iso.videoBytesAtOurSsim === null
        ? 'not bracketed'
        : `${mb(iso.videoBytesAtOurSsim, 3)} MB, so ours/ricecooker at equal SSIM ` +
          (iso.oursOverRicecookerVideo ?? 0).toFixed(2);
    console.log(
      `  equal-SSIM check, ${v.path}, video streams: ours ${mb(v.oursStreams.video, 3)} MB ` +
        `SSIM ${v.oursSsim.all.toFixed(4)}; ricecooker ${points} -> at our SSIM ${at}`,
    );
  }
}

export function printUpdate(r: UpdateResult): void {
  const rsyncTotal = r.rsync.sentBytes + r.rsync.receivedBytes;
  const rsyncZTotal = r.rsyncCompressed.sentBytes + r.rsyncCompressed.receivedBytes;
  const ratio = r.updateBundleBytes / rsyncTotal;
  console.log("\n2. Updates: the term after a teacher's corrections\n");
  for (const line of r.description) console.log(`  - ${line}`);
  console.log(
    `  ${r.changedFiles} files changed: ${pct(r.changedUploadBytes, r.uploadBytes)} of the upload bytes, ` +
      `${pct(r.changedProducedBytes, r.termBytes)} of the rendered term (${mb(r.changedProducedBytes)} of ${mb(r.termBytes)} MB)\n`,
  );
  console.log(
    formatTable(
      [
        'how the school gets it',
        'bytes',
        'vs rsync',
        `target (<= ${TARGETS.updateVsRsync}x rsync)`,
      ],
      [
        [
          'anchor: rsync -a --no-whole-file (sent + received)',
          `${rsyncTotal} (${r.rsync.sentBytes} + ${r.rsync.receivedBytes})`,
          '1.00',
          'anchor',
        ],
        [
          'info: rsync -z (sent + received)',
          `${rsyncZTotal} (${r.rsyncCompressed.sentBytes} + ${r.rsyncCompressed.receivedBytes})`,
          (rsyncZTotal / rsyncTotal).toFixed(2),
          'info',
        ],
        [
          'ours: update bundle (patches from held files)',
          String(r.updateBundleBytes),
          ratio.toFixed(2),
          verdict(ratio <= TARGETS.updateVsRsync),
        ],
        [
          'full re-send: the new full bundle',
          String(r.fullBundleBytes),
          (r.fullBundleBytes / rsyncTotal).toFixed(2),
          '',
        ],
      ],
    ),
  );
  console.log(
    `  rsync: literal ${r.rsync.literalBytes} B, matched ${r.rsync.matchedBytes} B; ` +
      `update bundle = ${pct(r.updateBundleBytes, r.fullBundleBytes)} of a full re-send\n`,
  );
  console.log(
    formatTable(
      ['changed file', 'old B', 'new B', 'ours: encoding', 'ours B', 'rsync B (%b)'],
      r.perFile.map((f) => [
        f.path,
        f.oldBytes,
        f.newBytes,
        f.encoding,
        f.bundleBytes,
        f.rsyncBytes,
      ]),
    ),
  );
}

const spread = (runs: ThroughputRun[]) => {
  const seconds = runs.map((x) => x.seconds);
  return `${Math.min(...seconds).toFixed(3)}-${Math.max(...seconds).toFixed(3)}`;
};

export function printThroughput(r: ThroughputResult): void {
  const anchor = r.methods.find((m) => m.method.startsWith('anchor'));
  if (!anchor) return;
  console.log(
    `\n3. Packaging throughput: ${r.files} rendered files, ${mb(r.bytes)} MB; median of ${anchor.runs.length} ` +
      `(load average ${r.load1.map((l) => l.toFixed(1)).join(', ')})\n`,
  );
  console.log(
    formatTable(
      [
        'method',
        'seconds (min-max)',
        'MB/s',
        'vs anchor',
        'CPU s',
        'MB per CPU s',
        'encode s',
        `target (>= ${TARGETS.throughputVsAnchor})`,
      ],
      r.methods.map((m) => {
        const ratio = m.mbPerSecond / anchor.mbPerSecond;
        const ours = m.method === 'ours zstd 3';
        return [
          m.method,
          `${m.seconds.toFixed(3)} (${spread(m.runs)})`,
          m.mbPerSecond.toFixed(1),
          ratio.toFixed(2),
          m.cpuSeconds.toFixed(2),
          (r.bytes / MB / Math.max(m.cpuSeconds, 0.01)).toFixed(1),
          m.method.startsWith('anchor') ? '' : m.encodeSeconds.toFixed(3),
          m.method.startsWith('anchor')
            ? 'anchor'
            : ours
              ? verdict(ratio >= TARGETS.throughputVsAnchor)
              : 'info (default level)',
        ];
      }),
    ),
  );
  console.log(
    '  encode s = until every file was checked and encoded (sha256, zstd); the rest is the tar ' +
      '(sha256 + blake2b of every byte), fsync and signatures',
  );
  const load = Math.max(...r.load1);
  if (load > cpus().length) {
    console.log(
      `  NOTE: load average ${load.toFixed(1)} on ${cpus().length} cores while measuring: ` +
        'runs this short swing widely with other work, so read the ratio as indicative',
    );
  }
}
