import { buildFdt, FdtError, parseFdt, unixToNtpSeconds, type FdtInstance } from './fdt';
import { FEC_RAPTORQ } from './oti';

const sample: FdtInstance = {
  expires: unixToNtpSeconds(Date.UTC(2026, 0, 1)),
  files: [
    {
      toi: 1,
      contentLocation: 'classcast:bundle/b1.tar.part-1-of-2',
      contentLength: 4194304,
      contentType: 'application/x-tar',
      contentMd5: Buffer.alloc(16, 1).toString('base64'),
      sha256: 'a'.repeat(64),
      oti: {
        fecEncodingId: FEC_RAPTORQ,
        transferLength: 4194304,
        symbolSize: 1400,
        sourceBlocks: 1,
        subBlocks: 1,
        alignment: 8,
      },
      part: {
        fileLocation: 'classcast:bundle/b1.tar',
        fileLength: 5000000,
        fileSha256: 'b'.repeat(64),
        index: 0,
        count: 2,
        offset: 0,
      },
    },
    {
      toi: 2,
      contentLocation: 'classcast:manifest?school=1&x="<y>"',
      contentLength: 10,
      contentType: 'application/json',
    },
  ],
};

describe('FDT instance', () => {
  it('writes RFC 6726 attributes: Expires in NTP seconds, FEC OTI, Content-MD5', () => {
    const xml = buildFdt(sample).toString('utf8');
    expect(xml).toContain('<FDT-Instance xmlns="urn:ietf:params:xml:ns:fdt"');
    expect(xml).toContain(`Expires="${Date.UTC(2026, 0, 1) / 1000 + 2208988800}"`);
    expect(xml).toContain('FEC-OTI-FEC-Encoding-ID="6"');
    expect(xml).toContain('FEC-OTI-Encoding-Symbol-Length="1400"');
    // Z=1, N=1, Al=8 -> 01 00 01 08
    expect(xml).toContain(
      `FEC-OTI-Scheme-Specific-Info="${Buffer.from([1, 0, 1, 8]).toString('base64')}"`,
    );
    expect(xml).toContain('Transfer-Length="4194304"');
    expect(xml).toContain('&amp;x=&quot;&lt;y&gt;&quot;');
  });

  it('parses what it writes', () => {
    expect(parseFdt(buildFdt(sample))).toEqual({
      expires: sample.expires,
      complete: undefined,
      files: sample.files,
    });
  });

  it('reads a third-party FDT with another prefix, comments and child elements', () => {
    const xml = `<?xml version="1.0"?>
<!-- hello -->
<fdt:FDT-Instance xmlns:fdt="urn:ietf:params:xml:ns:fdt" Expires="3900000000">
  <fdt:File Content-Location="http://x/a.bin" TOI="9" Content-Length="12" FEC-OTI-FEC-Encoding-ID="0"
     FEC-OTI-Encoding-Symbol-Length="1400" FEC-OTI-Maximum-Source-Block-Length="1"><ext foo='1'/></fdt:File>
</fdt:FDT-Instance>`;
    const fdt = parseFdt(Buffer.from(xml));
    expect(fdt.files).toEqual([
      {
        toi: 9,
        contentLocation: 'http://x/a.bin',
        contentLength: 12,
        oti: { fecEncodingId: 0, transferLength: 12, symbolSize: 1400, maxSourceBlockLength: 1 },
      },
    ]);
  });

  it.each([
    ['a DTD (entity expansion)', '<!DOCTYPE x [<!ENTITY a "b">]><FDT-Instance Expires="1"/>'],
    ['another root', '<Foo Expires="1"/>'],
    [
      'no Expires',
      '<FDT-Instance><File Content-Location="a" TOI="1" Content-Length="1"/></FDT-Instance>',
    ],
    [
      'TOI 0 for a file',
      '<FDT-Instance Expires="1"><File Content-Location="a" TOI="0" Content-Length="1"/></FDT-Instance>',
    ],
    [
      'a TOI twice',
      '<FDT-Instance Expires="1"><File Content-Location="a" TOI="1" Content-Length="1"/><File Content-Location="b" TOI="1" Content-Length="1"/></FDT-Instance>',
    ],
    [
      'a negative length',
      '<FDT-Instance Expires="1"><File Content-Location="a" TOI="1" Content-Length="-1"/></FDT-Instance>',
    ],
    [
      'unclosed elements',
      '<FDT-Instance Expires="1"><File Content-Location="a" TOI="1" Content-Length="1">',
    ],
    [
      'a bad MD5',
      '<FDT-Instance Expires="1"><File Content-Location="a" TOI="1" Content-Length="1" Content-MD5="abc"/></FDT-Instance>',
    ],
    ['another namespace', '<FDT-Instance xmlns="urn:evil" Expires="1"/>'],
    [
      'a RaptorQ OTI without scheme info',
      '<FDT-Instance Expires="1"><File Content-Location="a" TOI="1" Content-Length="1" FEC-OTI-FEC-Encoding-ID="6" FEC-OTI-Encoding-Symbol-Length="1400"/></FDT-Instance>',
    ],
  ])('refuses %s', (_name, xml) => {
    expect(() => parseFdt(Buffer.from(xml))).toThrow(FdtError);
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(() => parseFdt(Buffer.from([0x3c, 0xff, 0xfe]))).toThrow(FdtError);
  });
});
