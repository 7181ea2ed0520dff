/**
 * `/xmlrpc/admin` methods about clearinghouse callbacks (role `admin`, used by `vtctl`): the per-principal callback
 * policy (decision 014) and the pending deliveries of the outbox. Every method takes one struct.
 */
import { InputError, structParam, type XmlRpcMethod } from '@kvm-crm/shared';
import type { CallbackOutboxService } from '../services/callback-outbox-service.js';
import type { CallbackPolicyService } from '../services/callback-policy-service.js';

/** A list-of-strings field; absent: undefined. @throws InputError when it is not a list of strings. */
function strings(o: Record<string, unknown>, key: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new InputError(`field ${key} must be a list of strings`);
  return v as string[];
}

/** A boolean field; absent: undefined. @throws InputError when it is not a boolean. */
function flag(o: Record<string, unknown>, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new InputError(`field ${key} must be a boolean`);
  return v;
}

/**
 * The methods `user.setCallbackPolicy`, `callback.list`, `callback.drop`. Errors are the services' (InputError,
 * NotFoundError), mapped to faults by the XML-RPC handler.
 */
export function callbackAdminApi(deps: { policies: CallbackPolicyService; outbox: CallbackOutboxService }): Record<string, XmlRpcMethod> {
  const who = (ctx: { principal?: { name: string } }): string => ctx.principal?.name ?? 'unknown';
  return {
    /**
     * `user.setCallbackPolicy({name, allowHttp?, allow?: [CIDR|origin…], clear?})` → `{name, allowHttp, allow}`:
     * `clear` starts from the default (https, public addresses), `allowHttp` sets the flag, `allow` adds entries.
     */
    'user.setCallbackPolicy': async (p, ctx) => {
      const o = structParam(p, 0, 'policy');
      const name = o.name;
      if (typeof name !== 'string' || !name) throw new InputError('missing field name');
      return deps.policies.set({ name, allowHttp: flag(o, 'allowHttp'), allow: strings(o, 'allow'), clear: flag(o, 'clear') }, who(ctx));
    },
    /** `callback.list({limit?})` → pending deliveries: id, url (redacted), attempts, nextAttemptAt, lastError, createdAt. */
    'callback.list': async (p) => {
      const o = p.length ? structParam(p, 0, 'filter') : {};
      if (o.limit !== undefined && typeof o.limit !== 'number') throw new InputError('field limit must be an integer');
      return deps.outbox.list(o.limit as number | undefined);
    },
    /** `callback.drop({ids: [int…]} | {url})` → `{dropped: [id…]}` (audit-logged). */
    'callback.drop': async (p, ctx) => {
      const o = structParam(p, 0, 'drop');
      const ids = o.ids;
      if (ids !== undefined && ids !== null && (!Array.isArray(ids) || !ids.every((x) => typeof x === 'number'))) throw new InputError('field ids must be a list of integers');
      const url = o.url;
      if (url !== undefined && url !== null && typeof url !== 'string') throw new InputError('field url must be a string');
      const dropped = await deps.outbox.drop({ ids: (ids as number[] | undefined) ?? undefined, url: (url as string | undefined) ?? undefined }, who(ctx));
      return { dropped };
    },
  };
}
