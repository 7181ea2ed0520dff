/**
 * Secrets at rest: AES-256-GCM with a 32-byte key kept in a file (mode 0600). Encrypted values are self-describing
 * strings `enc:v1:<iv>:<tag>:<ciphertext>` (base64url), so a column can hold old clear values and new encrypted ones.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { InputError } from './errors.js';

const PREFIX = 'enc:v1:';
/** GCM tag length in bytes, fixed on both sides so that a truncated tag is refused (Node accepts 4–16 otherwise). */
const TAG_BYTES = 16;

/** Encrypts and decrypts stored secrets with one key (see the module comment); built from its key file. */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** A box with a fresh random key (tests, ephemeral databases). */
  static random(): SecretBox {
    return new SecretBox(randomBytes(32));
  }

  /**
   * The box for the key in `file`: created (32 random bytes, base64, mode 0600) when it does not exist.
   * @throws InputError when the file does not hold a base64 32-byte key, or is readable by group or others.
   */
  static fromKeyFile(file: string): SecretBox {
    if (!existsSync(file)) {
      writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    }
    chmodSync(file, 0o600);
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new InputError(`secrets key file ${file} must hold 32 bytes, base64`);
    return new SecretBox(key);
  }

  /** Encrypts `clear` (a fresh 12-byte IV each time). */
  seal(clear: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    const ct = Buffer.concat([c.update(clear, 'utf8'), c.final()]);
    return `${PREFIX}${iv.toString('base64url')}:${c.getAuthTag().toString('base64url')}:${ct.toString('base64url')}`;
  }

  /**
   * Decrypts a value from {@link seal}; a value without the `enc:v1:` prefix is returned as it is (rows written
   * before encryption). @throws InputError when the value was tampered with or sealed with another key.
   */
  open(stored: string): string {
    if (!stored.startsWith(PREFIX)) return stored;
    const [iv, tag, ct] = stored.slice(PREFIX.length).split(':');
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv ?? '', 'base64url'), { authTagLength: TAG_BYTES });
      d.setAuthTag(Buffer.from(tag ?? '', 'base64url'));
      return Buffer.concat([d.update(Buffer.from(ct ?? '', 'base64url')), d.final()]).toString('utf8');
    } catch {
      throw new InputError('a stored secret cannot be decrypted with this key (wrong secrets key file?)');
    }
  }

  /** True for values written by {@link seal}. */
  static isSealed(stored: string): boolean {
    return stored.startsWith(PREFIX);
  }
}
