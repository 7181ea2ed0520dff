/**
 * Times on the GENI AM API v3: RFC 3339 in, UTC `YYYY-MM-DDTHH:MM:SSZ` out (docs/geni-v3.md §1.5, §5.4). The FELIX RO
 * parses replies with a regex that breaks on any offset other than UTC, and sends `+00:00`; omni sends `Z`.
 */
import { InputError } from '../errors.js';

// Date, `T` or blank, time, optional fraction, optional zone (`Z`, `±HH:MM`, `±HHMM`). No zone means UTC
// (credentials written by older SFA tools: `2013-07-14T10:42:15`).
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses an RFC 3339 date-time with any offset (or none: UTC), fractional seconds allowed.
 * @throws InputError when `text` is not such a time or names an impossible date (2026-02-30).
 */
export function parseGeniTime(text: string): Date {
  const m = typeof text === 'string' && text.length <= 64 ? RFC3339.exec(text.trim()) : null;
  if (!m) throw new InputError(`not an RFC 3339 time: ${JSON.stringify(String(text).slice(0, 64))}`);
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = frac ? Math.floor(Number(`0${frac}`) * 1000) : 0;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  const check = new Date(t);
  if (check.getUTCFullYear() !== Number(y) || check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) {
    throw new InputError(`not a valid date-time: ${JSON.stringify(text)}`);
  }
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
  }
  return new Date(t);
}

/** Formats a time as GENI replies carry it: UTC, whole seconds, `YYYY-MM-DDTHH:MM:SSZ` (§1.5). */
export function formatGeniTime(t: Date): string {
  return `${t.toISOString().slice(0, 19)}Z`;
}
