/**
 * `geni_compressed`: an RSpec as base64 of zlib (RFC 1950) data, as Python's `base64.b64encode(zlib.compress(rspec))`
 * writes it (docs/geni-v3.md §6.2, §8; the RO spells the option `geni_compress`). Uses node:zlib, no dependency.
 */
import { inflateSync, deflateSync } from 'node:zlib';
import { InputError } from '../errors.js';

/** Default bound on a decompressed RSpec: 8 MiB. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 8 * 1024 * 1024;

/** Standard base64 (RFC 4648 §4) with padding, after line breaks and blanks are removed. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Compresses an RSpec for a `geni_compressed` reply: UTF-8 bytes → zlib (RFC 1950, default level) → base64 without
 * line breaks. Our RSpecs are ASCII, so the bytes are the characters.
 */
export function compressRspec(xml: string): string {
  return deflateSync(Buffer.from(xml, 'utf8')).toString('base64');
}

/**
 * Decompresses a `geni_compressed` RSpec (the inverse of {@link compressRspec}; also accepts base64 split over
 * lines, as Python's `base64.encodestring` writes it).
 *
 * Bounded: inflation stops as soon as the output passes `maxBytes` (zlib `maxOutputLength`), so a small input that
 * would expand to gigabytes (a zlib bomb) costs at most `maxBytes` of memory; the base64 text itself may be at most
 * twice `maxBytes` characters.
 * @param b64 base64 of zlib data.
 * @param maxBytes largest decompressed size accepted, bytes (default {@link DEFAULT_MAX_DECOMPRESSED_BYTES}).
 * @returns the RSpec text (decoded as UTF-8).
 * @throws InputError when `b64` is not a string, too long, not base64, not zlib data, decompresses to more than
 *   `maxBytes` bytes or is not valid UTF-8.
 * @throws RangeError when `maxBytes` is not a positive integer (a programming error).
 */
export function decompressRspec(b64: string, maxBytes: number = DEFAULT_MAX_DECOMPRESSED_BYTES): string {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError('decompressRspec: maxBytes must be a positive integer');
  if (typeof b64 !== 'string') throw new InputError('compressed RSpec must be a base64 string');
  if (b64.length > 2 * maxBytes) throw new InputError(`compressed RSpec too large: more than ${2 * maxBytes} characters of base64`);
  const text = b64.replace(/[ \t\r\n]/g, '');
  if (text === '' || !BASE64.test(text)) throw new InputError('compressed RSpec is not base64 (RFC 4648, with padding)');
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.from(text, 'base64'), { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new InputError(`compressed RSpec refused: it expands to more than ${maxBytes} bytes`);
    }
    throw new InputError(`compressed RSpec is not zlib data (RFC 1950): ${(err as Error).message}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new InputError('decompressed RSpec is not valid UTF-8');
  }
}
