import { buildLessonSearch, searchGramsOf } from './lesson-search';

describe('lesson search', () => {
  it('indexes CJK characters and neighbouring pairs, not Latin text', () => {
    expect(searchGramsOf('音乐课 Music 节奏')).toEqual(
      ['乐', '乐课', '节', '节奏', '奏', '课', '音', '音乐'].sort(),
    );
    expect(searchGramsOf('phonics')).toEqual([]);
  });

  it('matches short CJK words through grams, short Latin words as prefixes, longer words by text or substring', () => {
    const { sql, values } = buildLessonSearch({ q: '音乐 ph rhythm', offset: 0, limit: 20 });
    expect(sql).toContain('l.search_grams @> ARRAY[$1]::text[]');
    expect(sql).toContain("to_tsquery('simple', $2)");
    expect(sql).toContain("plainto_tsquery('simple', $3)");
    expect(sql).toContain('l.search_text LIKE $4 ESCAPE');
    expect(values.slice(0, 4)).toEqual(['音乐', 'ph:*', 'rhythm', '%rhythm%']);
  });

  it('escapes LIKE wildcards and ignores punctuation-only short words', () => {
    const { values } = buildLessonSearch({ q: '100% ?!', offset: 0, limit: 20 });
    expect(values).toContain('%100\\%%');
    expect(values).not.toContain('?!:*');
  });
});
