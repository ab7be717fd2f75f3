// Reads the PEM files named by --tls-cert/--tls-key/--tls-ca and checks them before the broker
// starts, so that a wrong path or a key that does not match the certificate is a configuration
// error (exit 2, the flag named) rather than a failed listen or failed handshakes later.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { BrokerOptions } from '@hyps/transport';

export interface TlsPaths {
  cert: string;
  key: string;
  ca?: string;
}

export type TlsPart = keyof TlsPaths;

export type TlsCheck =
  { ok: true; tls: NonNullable<BrokerOptions['tls']> } | { ok: false; problems: string[] };

/** Loads and checks the files; `name` gives the flag or variable each path came from. */
export function loadTlsFiles(paths: TlsPaths, name: (part: TlsPart) => string): TlsCheck {
  const problems: string[] = [];
  const read = (part: TlsPart, path: string): string | undefined => {
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      problems.push(`${name(part)}: cannot read "${path}" (${code})`);
      return undefined;
    }
  };

  const certPem = read('cert', paths.cert);
  const keyPem = read('key', paths.key);
  const caPem = paths.ca === undefined ? undefined : read('ca', paths.ca);

  const cert = certPem === undefined ? undefined : parseCertificate('cert', certPem);
  let key: KeyObject | undefined;
  if (keyPem !== undefined) {
    try {
      key = createPrivateKey(keyPem);
    } catch {
      problems.push(`${name('key')}: "${paths.key}" is not an unencrypted PEM private key`);
    }
  }
  if (cert && key && !cert.checkPrivateKey(key)) {
    problems.push(
      `${name('key')}: "${paths.key}" is not the private key of the certificate in "${paths.cert}"`,
    );
  }
  if (caPem !== undefined) parseCertificate('ca', caPem);

  if (problems.length > 0 || certPem === undefined || keyPem === undefined) {
    return { ok: false, problems };
  }
  const tls: NonNullable<BrokerOptions['tls']> = { cert: certPem, key: keyPem };
  if (caPem !== undefined) tls.ca = caPem;
  return { ok: true, tls };

  // The first certificate of the file (a chain or CA bundle may hold more; OpenSSL reads those).
  function parseCertificate(part: 'cert' | 'ca', pem: string): X509Certificate | undefined {
    try {
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no certificate');
      return new X509Certificate(pem);
    } catch {
      problems.push(`${name(part)}: "${paths[part]}" is not a PEM certificate`);
      return undefined;
    }
  }
}
