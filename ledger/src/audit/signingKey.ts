import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/**
 * The audit signing key: Ed25519, held outside the event store (an environment variable from a
 * secret store in production), so that whoever can write to the store cannot sign a digest of what
 * they wrote. Given as PEM (PKCS#8) or as the base64 of its DER.
 */
export const parseSigningKey = (text: string, name = 'AUDIT_SIGNING_KEY'): KeyObject => {
  let key: KeyObject;
  try {
    key = text.includes('-----BEGIN')
      ? createPrivateKey(text)
      : createPrivateKey({ key: Buffer.from(text.trim(), 'base64'), format: 'der', type: 'pkcs8' });
  } catch (error) {
    throw new Error(`${name} is not a PEM or base64 PKCS#8 private key: ${(error as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${name} must be an Ed25519 key, not ${key.asymmetricKeyType}`);
  return key;
};

/** A key to check digests with: a public key (PEM SPKI or base64 DER), or a private key whose public half is used. */
export const parseVerifyKey = (text: string, name = 'AUDIT_VERIFY_KEY'): KeyObject => {
  if (text.includes('PRIVATE KEY')) return createPublicKey(parseSigningKey(text, name));
  let key: KeyObject;
  try {
    key = text.includes('-----BEGIN')
      ? createPublicKey(text)
      : createPublicKey({ key: Buffer.from(text.trim(), 'base64'), format: 'der', type: 'spki' });
  } catch {
    return createPublicKey(parseSigningKey(text, name));
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${name} must be an Ed25519 key, not ${key.asymmetricKeyType}`);
  return key;
};
