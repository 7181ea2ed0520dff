/**
 * Clipping of caller-supplied text before it is reflected in a fault, an HTTP reason or a log line, so that a 1 MiB
 * method name or value comes back as a few dozen characters (docs/security.md "Input limits").
 */

/**
 * `text` cut to at most `max` characters; a clipped text ends with `…(N chars)` giving the original length.
 * Control characters become `?`, so the result is one line.
 */
export function clipForMessage(text: string, max = 80): string {
  const oneLine = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  if (oneLine.length <= max) return oneLine;
  return `${oneLine.slice(0, max)}…(${text.length} chars)`;
}
