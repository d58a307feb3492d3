/**
 * The box's signing key: Ed25519, made on the first start and kept in the data folder,
 * readable by the gateway's user only (0600). Its public half travels in every export,
 * and its fingerprint (SHA-256 of the DER public key) is in every manifest, so a verifier
 * can pin the key of a known box.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface BoxKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicPem: string;
  fingerprint: string;
  file: string;
}

export const KEY_FILE = 'evidence-key.pem';

export function fingerprintOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** Reads the key from `dataDir`, or makes one (0600) when there is none. */
export function loadOrCreateKey(dataDir: string): BoxKey {
  const file = join(dataDir, KEY_FILE);
  if (!existsSync(file)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    // 'wx': never overwrite a key another process made in the meantime.
    const fd = openSync(file, 'wx', 0o600);
    try {
      writeSync(fd, pem);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) chmodSync(file, 0o600); // copied in with loose permissions: tighten
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(file));
  } catch (e) {
    throw new Error(`${file}: not a private key PEM (${(e as Error).message}); move it away to make a new key`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${file}: an ${privateKey.asymmetricKeyType} key, expected ed25519`);
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    fingerprint: fingerprintOf(publicKey),
    file,
  };
}
