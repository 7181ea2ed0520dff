// Type declarations for the parts of the `xmlrpc` package (1.3.2) that @types/xmlrpc does not cover.
declare module 'xmlrpc/lib/deserializer.js' {
  import type { Readable } from 'node:stream';
  class Deserializer {
    constructor(encoding?: string);
    deserializeMethodCall(
      stream: Readable,
      callback: (error: Error | null | undefined, methodName?: string, params?: unknown[]) => void,
    ): void;
    deserializeMethodResponse(stream: Readable, callback: (error: Error | null | undefined, result?: unknown) => void): void;
  }
  export = Deserializer;
}
declare module 'xmlrpc/lib/serializer.js' {
  export function serializeMethodCall(method: string, params: unknown[], encoding?: string): string;
  export function serializeMethodResponse(result: unknown): string;
  export function serializeFault(fault: { faultCode: number; faultString: string }): string;
}
declare module 'xmlrpc/lib/date_formatter.js' {
  const formatter: { decodeIso8601(time: string): Date };
  export = formatter;
}
declare module 'xmlrpc/lib/customtype.js' {
  /** Base of values the Serializer writes through their own `serialize(xml)` (the `xmlrpc` index's `CustomType`). */
  class CustomType {
    constructor(raw: unknown);
    tagName: string;
    serialize(xml: unknown): unknown;
  }
  export = CustomType;
}
