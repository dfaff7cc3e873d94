// TLS: a server built with a PEM certificate and key serves HTTPS; a client trusting that certificate
// authenticates with a key over it, a plain-HTTP client gets no API. The certificate is made at test time
// with `openssl` (node:crypto cannot make X.509 certificates); without openssl the test is skipped.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from '../../test/server/keys-harness.ts';

const hasOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
if (!hasOpenssl) process.stderr.write('tls.test.ts: skipped: no `openssl` on PATH to make a self-signed certificate\n');

function selfSigned(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'llmo-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
}

const get = (url: string, headers: Record<string, string>, ca?: string): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
  const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { headers, ...(ca === undefined ? {} : { ca }) }, (res) => {
    let body = '';
    res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
  });
  req.on('error', reject).end();
});

let h: Harness | undefined;
afterEach(async () => { await h?.close(); h = undefined; });

describe.skipIf(!hasOpenssl)('TLS', () => {
  it('serves HTTPS with the given certificate and key; keys authenticate over it', async () => {
    const tls = selfSigned();
    h = await harness({ tls });
    const admin = await h.key('acme', { '*': 'admin' });
    const url = await h.server.listen();
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ok = await get(`${url}/v1/keys`, { authorization: `Bearer ${admin}` }, tls.cert);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).keys).toHaveLength(1);
    expect((await get(`${url}/v1/keys`, {}, tls.cert)).status).toBe(401);
    // a client that does not trust the certificate refuses it; plain HTTP gets no answer from the API
    await expect(get(`${url}/v1/keys`, {})).rejects.toThrow(/self[- ]signed/i);
    const plain = await get(`${url.replace('https:', 'http:')}/v1/keys`, { authorization: `Bearer ${admin}` }).catch((e: Error) => e);
    expect(plain instanceof Error ? plain.message : (plain as { status: number }).status).not.toBe(200);
  });
});
