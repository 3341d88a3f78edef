import { AppError } from '../../../common/errors/app-error';
import { normaliseLessonPath } from './lesson-path';

function rejection(input: string): AppError {
  try {
    normaliseLessonPath(input);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error(`expected "${input}" to be rejected`);
}

describe('normaliseLessonPath', () => {
  it.each([
    ['video/lesson-1.mp4', 'video/lesson-1.mp4'],
    ['lesson.pdf', 'lesson.pdf'],
    ['video\\lesson-1.mp4', 'video/lesson-1.mp4'],
    ['video//sub///a.mp4', 'video/sub/a.mp4'],
    ['./video/a.mp4', 'video/a.mp4'],
    ['././a.mp4', 'a.mp4'],
    ['.\\a.mp4', 'a.mp4'],
    ['.hidden', '.hidden'],
    ['a/.well-known/x.json', 'a/.well-known/x.json'],
    [' leading-space.txt', ' leading-space.txt'],
    ['Lesson 1: Intro.mp4', 'Lesson 1: Intro.mp4'],
    ['console.log', 'console.log'],
    ['com10.txt', 'com10.txt'],
    ['语文/第一课 春晓.mp4', '语文/第一课 春晓.mp4'],
    ['ئۇيغۇرچە/دەرس.pdf', 'ئۇيغۇرچە/دەرس.pdf'],
    ['emoji-📚.png', 'emoji-📚.png'],
  ])('accepts %j as %j', (input, expected) => {
    expect(normaliseLessonPath(input)).toBe(expected);
  });

  it('normalises to NFC so decomposed and composed spellings are the same path', () => {
    const decomposed = 'cafe\u0301/re\u0301sume\u0301.pdf';
    const result = normaliseLessonPath(decomposed);
    expect(result).toBe('caf\u00e9/r\u00e9sum\u00e9.pdf');
    expect(result).toBe(normaliseLessonPath('caf\u00e9/r\u00e9sum\u00e9.pdf'));
  });

  it('reports invalid_path with a 422 status and a path detail', () => {
    const err = rejection('../x');
    expect(err.code).toBe('invalid_path');
    expect(err.status).toBe(422);
    expect(err.details).toEqual([{ field: 'path', message: err.message }]);
    expect(err.message).toMatch(/\.\./);
  });

  it.each([
    ['empty', '', /empty/],
    ['only a leading ./', './', /empty/],
    ['only slashes after ./', './/', /empty/],
    ['NUL', 'a\u0000b.txt', /control/],
    ['newline', 'a\nb.txt', /control/],
    ['tab', 'a\tb.txt', /control/],
    ['unit separator', 'a\u001fb.txt', /control/],
    ['DEL', 'a\u007fb.txt', /control/],
    ['lone surrogate', 'a\ud800b.txt', /Unicode/],
    ['absolute', '/etc/passwd', /relative/],
    ['absolute with backslash', '\\windows\\system32', /relative/],
    ['UNC path', '\\\\server\\share\\x', /relative/],
    ['drive letter', 'C:\\Windows\\x.txt', /relative/],
    ['drive letter with slash', 'c:/x.txt', /relative/],
    ['drive-relative', 'D:x.txt', /relative/],
    ['parent segment', '../etc/passwd', /"\.\." segments/],
    ['parent in the middle', 'a/../../b', /"\.\." segments/],
    ['parent at the end', 'a/..', /"\.\." segments/],
    ['backslash parent', '..\\..\\evil', /"\.\." segments/],
    ['dot in the middle', 'a/./b.txt', /only dots/],
    ['dot at the end', 'a/.', /only dots/],
    ['only a dot', '.', /only dots/],
    ['only dots', 'a/.../b', /only dots/],
    ['only spaces', 'a/   /b', /only spaces/],
    ['trailing space', 'a /b.txt', /ends with a space/],
    ['trailing dot', 'folder./b.txt', /ends with a space/],
    ['trailing dot on the file', 'notes.', /ends with a space/],
    ['trailing slash (a folder)', 'video/', /names a folder/],
    ['CON', 'CON', /reserved device/],
    ['con with extension', 'docs/con.txt', /reserved device/],
    ['Aux with two extensions', 'Aux.tar.gz', /reserved device/],
    ['nul', 'nul', /reserved device/],
    ['PRN', 'a/PRN/b.txt', /reserved device/],
    ['COM1', 'com1.log', /reserved device/],
    ['COM9', 'COM9', /reserved device/],
    ['LPT1', 'lpt1', /reserved device/],
    ['LPT9', 'LPT9.txt', /reserved device/],
    ['COM superscript', 'COM¹.txt', /reserved device/],
  ])('rejects %s', (_label, input, reason) => {
    const err = rejection(input);
    expect(err.code).toBe('invalid_path');
    expect(err.message).toMatch(reason);
  });

  it('rejects a non-string at run time', () => {
    expect(() => normaliseLessonPath(42 as unknown as string)).toThrow(AppError);
  });

  describe('limits, counted in UTF-8 bytes after NFC', () => {
    it('accepts a 255-byte segment and rejects 256 bytes', () => {
      expect(normaliseLessonPath('a'.repeat(255))).toHaveLength(255);
      expect(rejection('a'.repeat(256)).code).toBe('invalid_path');
    });

    it('counts bytes, not characters: 85 CJK characters fit a segment, 86 do not', () => {
      expect(normaliseLessonPath('课'.repeat(85))).toBe('课'.repeat(85));
      expect(rejection('课'.repeat(86)).code).toBe('invalid_path');
    });

    it('accepts 512 bytes in total and rejects 513', () => {
      const segment = 'a'.repeat(127);
      const exact = [segment, segment, segment, 'a'.repeat(128)].join('/'); // 3*127 + 128 + 3 = 512
      expect(Buffer.byteLength(exact)).toBe(512);
      expect(normaliseLessonPath(exact)).toBe(exact);
      expect(rejection(exact + 'x').code).toBe('invalid_path');
    });

    it('measures the total after collapsing slashes and stripping ./', () => {
      const exact = 'a'.repeat(512);
      expect(rejection(exact).code).toBe('invalid_path'); // one segment of 512 bytes is too long
      const twoSegments = 'a'.repeat(255) + '/' + 'b'.repeat(255); // 511 bytes
      expect(normaliseLessonPath('./' + twoSegments.replace('/', '//'))).toBe(twoSegments);
    });

    it('accepts 32 segments and rejects 33', () => {
      const segments = (n: number): string => Array.from({ length: n }, () => 'd').join('/');
      expect(normaliseLessonPath(segments(32))).toBe(segments(32));
      expect(rejection(segments(33)).code).toBe('invalid_path');
    });
  });
});
