/**
 * A realistic term of lessons as a bureau uploads it: slide lectures with a webcam inset, a field
 * trip video, photos and screenshots, PDF worksheets with pictures, an HTML5 quiz package and
 * captions. Then the same term after a teacher's corrections (one slide of one lecture, two
 * annotated photos, two worksheet pages, 1 % of the transcript): the update a school must receive.
 */
import { mkdir, readFile, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { movingVideo, photo, scene, slideLecture, slidePng, SLIDE_SECONDS } from './term-media';
import { writePdf, type PdfPage } from './term-pdf';
import { run } from './term-process';
import {
  cueCount,
  lectureCues,
  quizCss,
  quizHtml,
  quizScript,
  seeded,
  sentence,
  transcriptJson,
  vendorScript,
  vtt,
  type Cue,
} from './term-text';

export type FileKind = 'lecture' | 'video' | 'photo' | 'screenshot' | 'pdf' | 'html5' | 'captions';

export interface TermFile {
  lessonId: string;
  /** The file's path inside its lesson. */
  path: string;
  kind: FileKind;
  mediaType: string;
  /** The uploaded bytes on local disk. */
  localPath: string;
}

export interface Term {
  files: TermFile[];
  lessonIds: string[];
}

export interface TermPlan {
  lectures: number;
  movingVideos: number;
  photos: number;
  pdfs: number;
}

/** Scale 1: 4 lectures, 1 field-trip video, 10 photos/screenshots, 5 worksheets. */
export function termPlan(scale: number): TermPlan {
  const n = (base: number, min: number) => Math.max(min, Math.round(base * scale));
  return { lectures: n(4, 1), movingVideos: n(1, 1), photos: n(10, 2), pdfs: n(5, 1) };
}

const LECTURE_SECONDS = [70, 80, 60, 90];
const MOVING_SECONDS = 60;
/** Photos: mostly camera JPEGs, some PNG screenshots (slides), one lossless PNG. */
const PHOTO_SIZES = [
  [3000, 2000],
  [2400, 1600],
  [2000, 3000],
  [2560, 1920],
];
/** 2000-era JPEG illustrations in worksheets: 1400 px wide, medium quality. */
const ILLUSTRATION = { width: 1400, height: 875 };

const lessonId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const pad = (n: number) => String(n).padStart(2, '0');

function photoKind(i: number): { kind: FileKind; ext: 'jpg' | 'png'; mediaType: string } {
  if (i % 4 === 2) return { kind: 'screenshot', ext: 'png', mediaType: 'image/png' };
  if (i % 8 === 5) return { kind: 'photo', ext: 'png', mediaType: 'image/png' };
  return { kind: 'photo', ext: 'jpg', mediaType: 'image/jpeg' };
}

/** Where the update draws its box on an edited photo: across the middle band. */
const markFor = (width: number, height: number) => ({
  x: Math.round(width * 0.3),
  y: Math.round(height * 0.45),
  w: Math.round(width * 0.25),
  h: Math.round(height * 0.15),
});

interface Layout {
  plan: TermPlan;
  lessons: string[];
  /** Lessons of the lectures, then of the moving videos, then the "extras" lesson. */
  lectureLesson: (i: number) => string;
  movingLesson: (i: number) => string;
  extrasLesson: string;
  /** Photos and worksheets are spread over all lessons. */
  spread: (i: number) => string;
}

function layout(plan: TermPlan): Layout {
  const count = plan.lectures + plan.movingVideos + 1;
  const lessons = Array.from({ length: count }, (_, i) => lessonId(i + 1));
  return {
    plan,
    lessons,
    lectureLesson: (i) => lessons[i],
    movingLesson: (i) => lessons[plan.lectures + i],
    extrasLesson: lessons[count - 1],
    spread: (i) => lessons[i % count],
  };
}

function worksheetPages(
  sheet: number,
  illustrations: string[],
  editedPages: number[],
): { title: string; lines: string[]; imagePath?: string }[] {
  const pages = 8 + ((sheet * 3) % 9);
  return Array.from({ length: pages }, (_, p) => {
    const rng = seeded(sheet * 100 + p + (editedPages.includes(p) ? 50_000 : 0));
    const imagePath =
      p % 3 === 0 ? illustrations[(sheet * 3 + p / 3) % illustrations.length] : undefined;
    const lines = Array.from({ length: imagePath ? 18 : 44 }, () => sentence(rng, 9, 14));
    return { title: `Worksheet ${sheet + 1}, page ${p + 1}`, lines, imagePath };
  });
}

async function writeWorksheet(
  path: string,
  sheet: number,
  illustrations: string[],
  editedPages: number[] = [],
): Promise<void> {
  const jpegs = new Map<string, Buffer>();
  const pages: PdfPage[] = [];
  for (const page of worksheetPages(sheet, illustrations, editedPages)) {
    let image: PdfPage['image'];
    if (page.imagePath) {
      const jpeg = jpegs.get(page.imagePath) ?? (await readFile(page.imagePath));
      jpegs.set(page.imagePath, jpeg);
      image = { jpeg, ...ILLUSTRATION };
    }
    pages.push({ title: page.title, lines: page.lines, image });
  }
  await writePdf(path, pages);
}

async function writeQuizPackage(dir: string, out: string, scenePath: string): Promise<void> {
  await mkdir(join(dir, 'js'), { recursive: true });
  await mkdir(join(dir, 'css'), { recursive: true });
  await mkdir(join(dir, 'img'), { recursive: true });
  const images = ['img/card-1.png', 'img/card-2.png', 'img/photo-1.jpg', 'img/photo-2.jpg'];
  await writeFile(join(dir, 'index.html'), quizHtml(images));
  await writeFile(join(dir, 'js', 'quiz.js'), quizScript(160));
  await writeFile(join(dir, 'js', 'vendor.min.js'), vendorScript(90 * 1024));
  await writeFile(join(dir, 'css', 'style.css'), quizCss());
  await slidePng(join(dir, images[0]), 90, 0, scenePath, 800, 450);
  await slidePng(join(dir, images[1]), 90, 1, scenePath, 800, 450);
  await photo(join(dir, images[2]), 3, 800, 600);
  await photo(join(dir, images[3]), 6, 800, 600);
  // Fixed times, so the package's bytes do not depend on when the bench ran.
  const when = new Date('2024-01-01T00:00:00Z');
  const stampAll = async (d: string): Promise<void> => {
    for (const entry of await readdir(d)) {
      const p = join(d, entry);
      if ((await stat(p)).isDirectory()) await stampAll(p);
      await utimes(p, when, when);
    }
  };
  await stampAll(dir);
  await run('zip', ['-q', '-r', '-X', out, '.'], { cwd: dir });
}

export interface MadeTerm extends Term {
  layout: Layout;
  scenePath: string;
  illustrations: string[];
  lectureCues: { lecture: number; cues: Cue[] }[];
  workDir: string;
}

/**
 * Writes the term's uploads under `<dir>/uploads` (one folder per lesson), scratch under
 * `<dir>/scratch`. `log` reports each step.
 */
export async function makeTerm(
  dir: string,
  plan: TermPlan,
  log: (what: string) => void,
): Promise<MadeTerm> {
  const uploads = join(dir, 'uploads');
  const scratch = join(dir, 'scratch');
  await mkdir(scratch, { recursive: true });
  const lay = layout(plan);
  for (const id of lay.lessons) await mkdir(join(uploads, id), { recursive: true });
  const files: TermFile[] = [];
  const add = async (
    lesson: string,
    path: string,
    kind: FileKind,
    mediaType: string,
    write: (localPath: string) => Promise<unknown>,
  ): Promise<void> => {
    const localPath = join(uploads, lesson, path.replace(/\//g, '__'));
    await write(localPath);
    files.push({ lessonId: lesson, path, kind, mediaType, localPath });
  };

  const scenePath = join(scratch, 'scene.png');
  await scene(scenePath);
  const cues: { lecture: number; cues: Cue[] }[] = [];
  for (let i = 0; i < plan.lectures; i += 1) {
    const seconds = LECTURE_SECONDS[i % LECTURE_SECONDS.length];
    log(`lecture ${i + 1}: ${seconds} s of slides with a webcam inset`);
    const slides = await lectureSlides(scratch, i + 1, seconds, scenePath);
    const lesson = lay.lectureLesson(i);
    await add(lesson, `video/lecture-${pad(i + 1)}.mp4`, 'lecture', 'video/mp4', (p) =>
      slideLecture(p, slides, seconds, scratch),
    );
    const lectureCueList = lectureCues(i + 1, seconds);
    cues.push({ lecture: i + 1, cues: lectureCueList });
    await add(lesson, `captions/lecture-${pad(i + 1)}.vtt`, 'captions', 'text/vtt', (p) =>
      writeFile(p, vtt(lectureCueList)),
    );
  }
  for (let i = 0; i < plan.movingVideos; i += 1) {
    log(`field-trip video ${i + 1}: ${MOVING_SECONDS} s camera pan`);
    await add(
      lay.movingLesson(i),
      `video/field-trip-${pad(i + 1)}.mp4`,
      'video',
      'video/mp4',
      (p) => movingVideo(p, scenePath, MOVING_SECONDS),
    );
  }
  log(`${plan.photos} photos and screenshots`);
  for (let i = 0; i < plan.photos; i += 1) {
    const { kind, ext, mediaType } = photoKind(i);
    const [w, h] = PHOTO_SIZES[i % PHOTO_SIZES.length];
    await add(lay.spread(i), `images/${kind}-${pad(i + 1)}.${ext}`, kind, mediaType, (p) =>
      kind === 'screenshot' ? slidePng(p, 50 + i, i, scenePath, 2560, 1440) : photo(p, i, w, h),
    );
  }
  log(`${plan.pdfs} worksheets (PDF with pictures)`);
  const illustrations: string[] = [];
  for (let i = 0; i < Math.max(3, plan.pdfs * 2); i += 1) {
    const path = join(scratch, `illustration-${i}.jpg`);
    await photo(path, i + 3, ILLUSTRATION.width, ILLUSTRATION.height, undefined, 5);
    illustrations.push(path);
  }
  for (let i = 0; i < plan.pdfs; i += 1) {
    await add(
      lay.spread(i + 1),
      `docs/worksheet-${pad(i + 1)}.pdf`,
      'pdf',
      'application/pdf',
      (p) => writeWorksheet(p, i, illustrations),
    );
  }
  log('HTML5 quiz package and the term transcript');
  await add(lay.extrasLesson, 'interactive/quiz.zip', 'html5', 'application/zip', (p) =>
    writeQuizPackage(join(scratch, 'quiz'), p, scenePath),
  );
  await add(lay.extrasLesson, 'captions/transcript.json', 'captions', 'application/json', (p) =>
    writeFile(p, transcriptJson(cues)),
  );
  return {
    files,
    lessonIds: lay.lessons,
    layout: lay,
    scenePath,
    illustrations,
    lectureCues: cues,
    workDir: scratch,
  };
}

async function lectureSlides(
  scratch: string,
  lecture: number,
  seconds: number,
  scenePath: string,
  replaced?: { slide: number; seed: number },
): Promise<string[]> {
  const slides: string[] = [];
  for (let s = 0; s < Math.ceil(seconds / SLIDE_SECONDS); s += 1) {
    const changed = replaced?.slide === s;
    const path = join(scratch, `slide-${lecture}-${s}${changed ? '-v2' : ''}.png`);
    await slidePng(path, changed ? replaced.seed : lecture, s, scenePath);
    slides.push(path);
  }
  return slides;
}

export interface TermUpdate {
  term: Term;
  /** Lesson paths (`<lessonId>/<path>`) of the files that changed. */
  changed: string[];
  description: string[];
}

/**
 * The term after a teacher's corrections. Unchanged files keep their v1 bytes (same local path);
 * changed ones are written under `<dir>/uploads-v2`.
 */
export async function makeUpdate(made: MadeTerm, dir: string): Promise<TermUpdate> {
  const { plan } = made.layout;
  const out = join(dir, 'uploads-v2');
  await mkdir(out, { recursive: true });
  const replacements = new Map<TermFile, string>();
  const description: string[] = [];
  const target = (prefix: string, index: number): TermFile => {
    const list = made.files.filter((f) => f.path.startsWith(prefix));
    return list[Math.min(index, list.length - 1)];
  };

  // One lecture: its 4th slide replaced, re-exported whole, as editing software does.
  const lectureIndex = Math.min(1, plan.lectures - 1);
  const lectureSeconds = LECTURE_SECONDS[lectureIndex % LECTURE_SECONDS.length];
  const slide = 3;
  const slides = await lectureSlides(
    made.workDir,
    lectureIndex + 1,
    lectureSeconds,
    made.scenePath,
    {
      slide,
      seed: 500 + lectureIndex,
    },
  );
  const lecture = target('video/lecture-', lectureIndex);
  const lecturePath = join(out, 'lecture.mp4');
  await slideLecture(lecturePath, slides, lectureSeconds, made.workDir);
  replacements.set(lecture, lecturePath);
  description.push(`${lecture.path}: slide ${slide + 1} of ${slides.length} replaced, re-exported`);

  // The captions of that slide rewritten: about 1 % of the transcript's cues.
  const total = cueCount(made.lectureCues);
  const editCount = Math.max(1, Math.round(total * 0.01));
  const firstCue = Math.floor((slide * SLIDE_SECONDS) / 3);
  const before = made.lectureCues.slice(0, lectureIndex).reduce((n, l) => n + l.cues.length, 0);
  const edited = new Set(Array.from({ length: editCount }, (_, i) => before + firstCue + i));
  const transcript = made.files.find((f) => f.path === 'captions/transcript.json');
  if (!transcript) throw new Error('the term has no transcript');
  const transcriptPath = join(out, 'transcript.json');
  await writeFile(transcriptPath, transcriptJson(made.lectureCues, edited));
  replacements.set(transcript, transcriptPath);
  description.push(`${transcript.path}: ${editCount} of ${total} cues rewritten`);

  // Two photos annotated (a box drawn on them) and saved again.
  const photos = made.files.filter((f) => f.kind === 'photo' && f.mediaType === 'image/jpeg');
  for (const [n, file] of photos.slice(0, 2).entries()) {
    const index = made.files.filter((f) => f.path.startsWith('images/')).indexOf(file);
    const [w, h] = PHOTO_SIZES[index % PHOTO_SIZES.length];
    const path = join(out, `photo-${n}.jpg`);
    await photo(path, index, w, h, markFor(w, h));
    replacements.set(file, path);
    description.push(`${file.path}: annotated (a box drawn), saved again`);
  }

  // Two pages of the first worksheet rewritten.
  const sheet = target('docs/worksheet-', 0);
  const sheetPath = join(out, 'worksheet.pdf');
  await writeWorksheet(sheetPath, 0, made.illustrations, [1, 2]);
  replacements.set(sheet, sheetPath);
  description.push(`${sheet.path}: pages 2 and 3 rewritten`);

  const files = made.files.map((f) => {
    const replacement = replacements.get(f);
    return replacement ? { ...f, localPath: replacement } : f;
  });
  const changed = [...replacements.keys()].map((f) => `${f.lessonId}/${f.path}`);
  return { term: { files, lessonIds: made.lessonIds }, changed, description };
}
