import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';

/**
 * Certificate checks done by the agent itself, so that validity is judged against the trusted
 * time (max of the local clock, the last verified manifest issue time and the agent build time)
 * instead of a terminal clock that may read 1970 or be years behind.
 */

let bundledRoots: X509Certificate[] | undefined;

/** Node's bundled Mozilla roots plus any CA the terminal was enrolled with. */
export function trustAnchors(extraPem?: string): X509Certificate[] {
  bundledRoots ??= rootCertificates.map((pem) => new X509Certificate(pem));
  return extraPem ? [...bundledRoots, ...splitPem(extraPem)] : bundledRoots;
}

export function splitPem(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

/**
 * Why the chain the server presented must be refused, or undefined when it is acceptable: the
 * leaf names `host`, every certificate is valid at `now`, each is signed by the next, and the
 * last one is (or is issued by) a trust anchor.
 */
export function chainProblem(
  chain: X509Certificate[],
  host: string,
  now: number,
  anchors: X509Certificate[],
): string | undefined {
  if (chain.length === 0) return 'the server presented no certificate';
  const leaf = chain[0];
  const named = isIP(host) ? leaf.checkIP(host) : leaf.checkHost(host);
  if (!named) return `the certificate does not name ${host}`;
  for (const cert of chain) {
    const from = Date.parse(cert.validFrom);
    const to = Date.parse(cert.validTo);
    if (now < from) return `certificate ${cert.subject} is not valid before ${cert.validFrom}`;
    if (now > to) return `certificate ${cert.subject} expired ${cert.validTo}`;
  }
  for (let i = 0; i + 1 < chain.length; i += 1) {
    if (!chain[i].checkIssued(chain[i + 1]) || !chain[i].verify(chain[i + 1].publicKey)) {
      return `certificate ${chain[i].subject} is not signed by ${chain[i + 1].subject}`;
    }
  }
  const last = chain[chain.length - 1];
  const anchored = anchors.some(
    (a) =>
      a.fingerprint256 === last.fingerprint256 ||
      (last.checkIssued(a) && last.verify(a.publicKey) && withinValidity(a, now)),
  );
  return anchored ? undefined : `certificate ${last.subject} is not issued by a trusted authority`;
}

function withinValidity(cert: X509Certificate, now: number): boolean {
  return now >= Date.parse(cert.validFrom) && now <= Date.parse(cert.validTo);
}

/** The chain as the peer sent it, leaf first, from the legacy objects tls gives. */
export function peerChain(peer: { raw?: Buffer; issuerCertificate?: unknown }): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  let node: { raw?: Buffer; issuerCertificate?: unknown } | undefined = peer;
  while (node?.raw && node.raw.length > 0) {
    const cert = new X509Certificate(node.raw);
    if (seen.has(cert.fingerprint256)) break;
    seen.add(cert.fingerprint256);
    chain.push(cert);
    node = node.issuerCertificate as typeof node;
  }
  return chain;
}
