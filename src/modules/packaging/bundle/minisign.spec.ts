import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, testSigner, tool, toolOk, writeNoiseFile } from './cli-tools.fixture';
import {
  blake2b512,
  blake2bOfFile,
  minisignSignature,
  parseMinisignPublicKey,
  verifyMinisign,
} from './minisign';

describe('minisign signatures', () => {
  const signer = testSigner();
  const key = { keyId: signer.keyId, publicKey: signer.publicKey };
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('minisign');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** `-H` makes minisign insist on the prehashed algorithm; `-Q` prints the trusted comment. */
  function minisignVerify(file: string, sigFile = `${file}.minisig`) {
    return tool('minisign', [
      '-V',
      '-H',
      '-Q',
      '-m',
      file,
      '-x',
      sigFile,
      '-P',
      signer.minisignKey,
    ]);
  }

  it('signs a small file so that the stock minisign verifies it and its trusted comment', async () => {
    const file = join(dir, 'small.json');
    const data = Buffer.from('{"format":"classcast-bundle/1"}\n');
    await writeFile(file, data);
    await writeFile(
      `${file}.minisig`,
      minisignSignature(data, signer.keyId, signer.seed, 'bundle:abc-1'),
    );

    const run = minisignVerify(file);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('bundle:abc-1\n');
  });

  it('signs a large file from its streamed BLAKE2b-512, and a tampered file fails', async () => {
    const file = join(dir, 'large.bin');
    await writeNoiseFile(file, 48 * 1024 * 1024 + 17);
    const digest = await blake2bOfFile(file);
    expect(digest).toEqual(blake2b512(await readFile(file)));
    const signature = minisignSignature(
      { blake2b512: digest },
      signer.keyId,
      signer.seed,
      'bundle:big',
    );
    await writeFile(`${file}.minisig`, signature);
    expect(minisignVerify(file)).toMatchObject({ status: 0, stdout: 'bundle:big\n' });

    const tampered = join(dir, 'tampered.bin');
    const bytes = await readFile(file);
    bytes[bytes.length >> 1] ^= 1;
    await writeFile(tampered, bytes);
    expect(minisignVerify(tampered, `${file}.minisig`).status).not.toBe(0);
  });

  it('fails when the trusted comment is altered, since the global signature covers it', async () => {
    const file = join(dir, 'comment.txt');
    await writeFile(file, 'lesson');
    const signature = minisignSignature(
      Buffer.from('lesson'),
      signer.keyId,
      signer.seed,
      'bundle:a',
    );
    await writeFile(`${file}.minisig`, signature.replace('bundle:a', 'bundle:b'));
    expect(minisignVerify(file).status).not.toBe(0);
    expect(
      verifyMinisign(Buffer.from('lesson'), signature.replace('bundle:a', 'bundle:b'), key),
    ).toEqual({
      valid: false,
      reason: 'trusted comment signature does not match',
    });
  });

  it('verifies its own signatures and rejects other data, keys and garbage', () => {
    const data = Buffer.from('manifest');
    const signature = minisignSignature(data, signer.keyId, signer.seed, 'bundle:x', 'hello');
    expect(verifyMinisign(data, signature, key)).toEqual({
      valid: true,
      keyId: signer.keyId,
      trustedComment: 'bundle:x',
      untrustedComment: 'hello',
    });
    expect(verifyMinisign({ blake2b512: blake2b512(data) }, signature, key).valid).toBe(true);
    expect(verifyMinisign(Buffer.from('manifesT'), signature, key).valid).toBe(false);
    const other = testSigner();
    expect(verifyMinisign(data, signature, { ...key, publicKey: other.publicKey }).valid).toBe(
      false,
    );
    expect(
      verifyMinisign(data, signature, { keyId: other.keyId, publicKey: other.publicKey }),
    ).toEqual({
      valid: false,
      reason: `signed by key ${signer.keyId}, not ${other.keyId}`,
    });
    expect(verifyMinisign(data, 'not a signature', key).valid).toBe(false);
  });

  it('reads signatures and public keys made by the stock minisign (prehashed and legacy)', async () => {
    const keyDir = join(dir, 'stock');
    toolOk('mkdir', ['-p', keyDir]);
    toolOk('minisign', ['-G', '-W', '-p', join(keyDir, 'k.pub'), '-s', join(keyDir, 'k.key')]);
    const file = join(keyDir, 'lesson.txt');
    await writeFile(file, 'a lesson file');
    const stockKey = parseMinisignPublicKey(await readFile(join(keyDir, 'k.pub'), 'utf8'));
    for (const legacy of [false, true]) {
      const args = ['-S', '-s', join(keyDir, 'k.key'), '-m', file, '-t', 'bundle:stock'];
      toolOk('minisign', legacy ? [...args, '-l'] : args);
      const signature = await readFile(`${file}.minisig`, 'utf8');
      const result = verifyMinisign(await readFile(file), signature, stockKey);
      expect(result).toMatchObject({ valid: true, trustedComment: 'bundle:stock' });
    }
  });

  it('refuses comments that would break the line format, and malformed key ids', () => {
    expect(() =>
      minisignSignature(
        Buffer.from('x'),
        signer.keyId,
        signer.seed,
        'bundle:a\ntrusted comment: b',
      ),
    ).toThrow(/single line/);
    expect(() => minisignSignature(Buffer.from('x'), 'abc', signer.seed, 'bundle:a')).toThrow(
      /16 hex/,
    );
  });
});
