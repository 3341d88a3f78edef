/**
 * Text for the sample term: slide bullets, worksheet pages, captions and the HTML5 package's code.
 * Seeded, so a run makes the same term every time and an "edited" file differs from its original
 * only where the edit says.
 */

/** mulberry32: small, fast and good enough for sample text. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the of and to in is that for it as was with be by on not this are or from at which but have ' +
  'an they you were their has would when if so no more time some can music art english song ' +
  'rhythm melody colour shape line paint sketch draw listen repeat sentence word read write ' +
  'story picture lesson class teacher pupil school village river mountain market family friend ' +
  'morning evening number letter sound voice practice together example question answer group'
).split(' ');

export function word(rng: () => number): string {
  return WORDS[Math.floor(rng() * WORDS.length)];
}

export function sentence(rng: () => number, minWords: number, maxWords: number): string {
  const count = minWords + Math.floor(rng() * (maxWords - minWords + 1));
  const words = Array.from({ length: count }, () => word(rng));
  words[0] = words[0][0].toUpperCase() + words[0].slice(1);
  return `${words.join(' ')}.`;
}

/** One caption cue every CUE_SECONDS, the way lecture captions are usually split. */
const CUE_SECONDS = 3;

export interface Cue {
  start: number;
  end: number;
  text: string;
}

export function lectureCues(lecture: number, durationSeconds: number): Cue[] {
  const rng = seeded(1000 + lecture);
  const cues: Cue[] = [];
  for (let start = 0; start < durationSeconds; start += CUE_SECONDS) {
    cues.push({
      start,
      end: Math.min(durationSeconds, start + CUE_SECONDS),
      text: sentence(rng, 5, 11),
    });
  }
  return cues;
}

const stamp = (seconds: number): string => {
  const whole = Math.floor(seconds);
  const hh = String(Math.floor(whole / 3600)).padStart(2, '0');
  const mm = String(Math.floor((whole % 3600) / 60)).padStart(2, '0');
  const ss = String(whole % 60).padStart(2, '0');
  return `${hh}:${mm}:${ss}.${String(Math.round((seconds - whole) * 1000)).padStart(3, '0')}`;
};

export function vtt(cues: Cue[]): string {
  const body = cues.map((c, i) => `${i + 1}\n${stamp(c.start)} --> ${stamp(c.end)}\n${c.text}\n`);
  return `WEBVTT\n\n${body.join('\n')}`;
}

/**
 * The term's transcript as a player would load it: every cue with word-level timings, pretty
 * printed. `editedCues` lists global cue indexes whose text is rewritten (a teacher's correction).
 */
export function transcriptJson(
  lectures: { lecture: number; cues: Cue[] }[],
  editedCues: ReadonlySet<number> = new Set(),
): string {
  let index = 0;
  const edit = seeded(77);
  const doc = {
    format: 'classcast-transcript/1',
    language: 'en',
    lectures: lectures.map(({ lecture, cues }) => ({
      lecture,
      cues: cues.map((cue) => {
        const text = editedCues.has(index++) ? sentence(edit, 5, 11) : cue.text;
        const words = text.split(' ');
        const step = (cue.end - cue.start) / words.length;
        return {
          start: cue.start,
          end: cue.end,
          text,
          words: words.map((w, i) => ({
            w,
            s: Number((cue.start + i * step).toFixed(2)),
            e: Number((cue.start + (i + 1) * step).toFixed(2)),
          })),
        };
      }),
    })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export function cueCount(lectures: { cues: Cue[] }[]): number {
  return lectures.reduce((n, l) => n + l.cues.length, 0);
}

/** A plausible single-page quiz app: many small functions, the shape of hand-written lesson JS. */
export function quizScript(questions: number): string {
  const rng = seeded(4242);
  const parts = ["'use strict';", 'const state = { score: 0, answered: {} };'];
  for (let q = 0; q < questions; q += 1) {
    const options = Array.from({ length: 4 }, () => JSON.stringify(sentence(rng, 2, 5)));
    parts.push(
      `function question${q}(root) {`,
      `  const prompt = ${JSON.stringify(sentence(rng, 6, 14))};`,
      `  const options = [${options.join(', ')}];`,
      `  const correct = ${Math.floor(rng() * 4)};`,
      `  const el = document.createElement('section');`,
      `  el.className = 'question';`,
      `  el.innerHTML = '<h2>' + prompt + '</h2>';`,
      `  options.forEach(function (text, i) {`,
      `    const button = document.createElement('button');`,
      `    button.textContent = text;`,
      `    button.addEventListener('click', function () {`,
      `      if (state.answered[${q}]) return;`,
      `      state.answered[${q}] = true;`,
      `      if (i === correct) { state.score += 1; button.classList.add('right'); }`,
      `      else { button.classList.add('wrong'); }`,
      `      render();`,
      `    });`,
      `    el.appendChild(button);`,
      `  });`,
      `  root.appendChild(el);`,
      `}`,
    );
  }
  const calls = Array.from({ length: questions }, (_, q) => `  question${q}(root);`);
  parts.push(
    'function render() {',
    "  document.getElementById('score').textContent = String(state.score);",
    '}',
    "window.addEventListener('load', function () {",
    "  const root = document.getElementById('quiz');",
    ...calls,
    '  render();',
    '});',
  );
  return `${parts.join('\n')}\n`;
}

/** Minified-looking library code: long lines of short identifiers, as bundled vendor JS looks. */
export function vendorScript(bytes: number): string {
  const rng = seeded(99);
  const ids = Array.from({ length: 400 }, (_, i) => `${String.fromCharCode(97 + (i % 26))}${i}`);
  const pick = () => ids[Math.floor(rng() * ids.length)];
  let out = '!function(e,t){"use strict";';
  while (out.length < bytes) {
    out += `function ${pick()}(${pick()},${pick()}){var ${pick()}=${pick()}[${Math.floor(rng() * 64)}]||${pick()};`;
    out += `return ${pick()}.${word(rng)}(${pick()})?${pick()}:${Math.floor(rng() * 1e6)}}`;
  }
  return `${out}}(this);\n`;
}

export function quizCss(): string {
  const rng = seeded(7);
  const rules = ['body{font-family:sans-serif;margin:0;background:#fafaf5}'];
  for (let i = 0; i < 300; i += 1) {
    rules.push(
      `.q${i} .${word(rng)}{margin:${Math.floor(rng() * 24)}px;padding:${Math.floor(rng() * 16)}px;` +
        `color:#${Math.floor(rng() * 0xffffff)
          .toString(16)
          .padStart(6, '0')};border-radius:${Math.floor(rng() * 12)}px}`,
    );
  }
  return `${rules.join('\n')}\n`;
}

export function quizHtml(images: string[]): string {
  const figures = images.map((src) => `    <img src="${src}" alt="" loading="lazy">`).join('\n');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '  <meta charset="utf-8">',
    '  <meta name="viewport" content="width=device-width, initial-scale=1">',
    '  <title>Music and art quiz</title>',
    '  <link rel="stylesheet" href="css/style.css">',
    '  <script src="js/vendor.min.js"></script>',
    '  <script src="js/quiz.js"></script>',
    '</head>',
    '<body>',
    '  <header><h1>Quiz</h1><p>Score: <span id="score">0</span></p></header>',
    '  <figure class="gallery">',
    figures,
    '  </figure>',
    '  <main id="quiz"></main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
