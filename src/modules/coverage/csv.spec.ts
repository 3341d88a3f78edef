import { csvCell, flatten, toCsv } from './csv';

describe('coverage CSV', () => {
  it('neutralises cells a spreadsheet would run as formulas', () => {
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-2+3')).toBe("'-2+3");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tcmd')).toBe("'\tcmd");
    expect(csvCell('a=b')).toBe('a=b');
    expect(csvCell(0)).toBe('0');
  });

  it('quotes commas, quotes and line breaks', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell(null)).toBe('');
  });

  it('flattens nested figures into named columns', () => {
    expect(flatten({ a: 1, terminals: { total: 2, seen24h: 1 }, s: 'x' })).toEqual({
      a: 1,
      terminalsTotal: 2,
      terminalsSeen24h: 1,
      s: 'x',
    });
    expect(
      toCsv([
        { n: 'a', f: { x: 1 } },
        { n: '=b', f: { x: 2 } },
      ]),
    ).toBe("n,fX\r\na,1\r\n'=b,2\r\n");
    expect(toCsv([], ['a', 'b'])).toBe('a,b\r\n');
  });
});
