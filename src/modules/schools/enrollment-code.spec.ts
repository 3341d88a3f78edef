import { newEnrollmentCode, normaliseEnrollmentCode } from './enrollment-code';

describe('enrollment codes', () => {
  it('are 8 Crockford base32 characters shown as XXXX-XXXX', () => {
    for (let i = 0; i < 200; i++) {
      expect(newEnrollmentCode()).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    }
  });

  it('are random enough not to repeat', () => {
    const codes = new Set(Array.from({ length: 5000 }, () => newEnrollmentCode()));
    expect(codes.size).toBe(5000);
  });

  it('read back case-insensitively, ignoring hyphens and spaces, with Crockford look-alikes', () => {
    const code = newEnrollmentCode();
    const canonical = code.replace('-', '');
    expect(normaliseEnrollmentCode(code)).toBe(canonical);
    expect(normaliseEnrollmentCode(` ${code.toLowerCase()} `)).toBe(canonical);
    expect(normaliseEnrollmentCode(canonical.split('').join(' '))).toBe(canonical);
    expect(normaliseEnrollmentCode('oooo-iiii')).toBe('00001111');
    expect(normaliseEnrollmentCode('LLLL-0000')).toBe('11110000');
  });

  it('refuse what cannot be a code', () => {
    for (const bad of ['', 'ABC', 'ABCD-EFGH-J', 'ABCD-EFGU', 'ABCD_EFGH', '😀😀😀😀-😀😀😀😀']) {
      expect(normaliseEnrollmentCode(bad)).toBeNull();
    }
  });
});
