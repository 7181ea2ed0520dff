/**
 * Callback URL policy per principal (decision 014, docs/security.md "Controls"): set by an admin
 * (`vtctl user set-callback-policy`), enforced on the callback URL of `send`/`send_sync` before anything is stored
 * (docs/ocf-protocol.md §2.2.1, §2.2.2), and on every delivery (`sendAsync`, §3.3) with the address pinned. On intake
 * an https callback's certificate is also checked once per principal and origin ({@link CertificateProbe}), so a
 * clearinghouse whose certificate the manager does not trust learns it from `send`'s fault, not from silence.
 */
import {
  assertAllowEntry,
  assertPattern,
  DEFAULT_CALLBACK_POLICY,
  InputError,
  NotFoundError,
  pinCallbackTarget,
  type CallbackPolicy,
  type Logger,
  type PinnedTarget,
  type ResolveAll,
} from '@kvm-crm/shared';
import type { TransactionRunner } from '../db/transaction-runner.js';
import { CallbackPolicyRepository } from '../repositories/callback-policy-repository.js';

/** What a TLS handshake with a callback found (nothing is sent in it). */
export type ProbeResult = { outcome: 'trusted' } | { outcome: 'untrusted'; reason: string } | { outcome: 'unreachable'; reason: string };

/** Makes a TLS handshake with the pinned target, with the trust deliveries use (adapters/callback-certificate-probe.ts). */
export type CertificateProbe = (target: PinnedTarget) => Promise<ProbeResult>;

/** Seconds a trusted certificate check is remembered per principal and origin. */
export const TRUSTED_CHECK_CACHE_SECONDS = 600;
/** Seconds an untrusted or unreachable result is remembered (a fixed certificate is seen within a minute). */
export const FAILED_CHECK_CACHE_SECONDS = 60;
/**
 * Seconds a principal's policy read from the database is reused (decision 040: a DB read per `send` and per delivery
 * was 10 % of the send path). A change made through this process applies at once; one made through another manager
 * process sharing the database applies here within this time.
 */
export const POLICY_CACHE_SECONDS = 5;
/** Most principals whose policy is cached (the oldest entry goes first). */
const POLICY_CACHE_ENTRIES = 10_000;

/** Most allow entries of one principal. */
export const MAX_ALLOW_ENTRIES = 32;

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/;

/** A principal's stored policy as the admin API shows it. */
export interface CallbackPolicyView extends CallbackPolicy {
  name: string;
}

/** Per-principal callback policies and the intake check. */
export class CallbackPolicyService {
  private readonly checks = new Map<string, { until: number; result: ProbeResult }>();
  /** Handshakes in progress, by the same key as {@link checks}. */
  private readonly probing = new Map<string, Promise<ProbeResult>>();
  /** Policies read from the database, by principal (`\n`: the delivery policy), until their time (ms, `options.now`). */
  private readonly policies = new Map<string, { until: number; policy: CallbackPolicy }>();
  /** Bumped by every change made here: a read that started before it does not fill the cache. */
  private generation = 0;

  constructor(
    private readonly tx: TransactionRunner,
    private readonly options: {
      /** Whether a principal of that name exists (database or config). */
      principalExists: (name: string) => Promise<boolean>;
      probe?: CertificateProbe;
      resolve?: ResolveAll;
      logger: Logger;
      /**
       * Milliseconds on a clock that only moves forward, for the caches' expiry; default `performance.now()` (a
       * wall-clock step back must not keep a revoked allowance cached). Tests pass a fake.
       */
      now?: () => number;
    },
  ) {
    this.now = options.now ?? (() => performance.now());
  }

  private readonly now: () => number;

  /**
   * Sets `name`'s policy: from the stored one (from the default with `clear`), `allowHttp` replaces the flag when
   * given, `allow` entries are added. A policy equal to the default is deleted. Returns the resulting policy.
   * @throws InputError for a bad name, a bad entry (neither CIDR nor origin), more than 32 entries (2,048 characters);
   *   NotFoundError when no principal has that name.
   */
  async set(input: { name: string; allowHttp?: boolean; allow?: string[]; clear?: boolean }, by: string): Promise<CallbackPolicyView> {
    assertPattern(input.name, NAME_PATTERN, 'user name');
    for (const e of input.allow ?? []) assertAllowEntry(e);
    if (!(await this.options.principalExists(input.name))) throw new NotFoundError(`no user ${JSON.stringify(input.name)}`);
    const result = await this.tx.run(async (em) => {
      const repo = new CallbackPolicyRepository(em);
      const base = input.clear ? { ...DEFAULT_CALLBACK_POLICY, allow: [] } : toPolicy(await repo.find(input.name));
      const allow = [...new Set([...base.allow, ...(input.allow ?? []).map((e) => e.replace(/\/$/, ''))])];
      if (allow.length > MAX_ALLOW_ENTRIES || allow.join(' ').length > 2048) throw new InputError(`at most ${MAX_ALLOW_ENTRIES} allow entries (2,048 characters) per user`);
      const policy = { allowHttp: input.allowHttp ?? base.allowHttp, allow };
      if (!policy.allowHttp && policy.allow.length === 0) await repo.delete(input.name);
      else await repo.upsert({ principal: input.name, allowHttp: policy.allowHttp, allow: policy.allow.join(' '), setBy: by });
      return policy;
    });
    this.generation++;
    this.policies.clear();
    this.forget(input.name);
    this.options.logger.info('callback policy set', { user: input.name, by, allowHttp: result.allowHttp, allow: result.allow });
    return { name: input.name, ...result };
  }

  /**
   * The policy of `principal` (the default when none is stored or the caller is anonymous), cached for
   * {@link POLICY_CACHE_SECONDS}. The result is shared: callers must not change it.
   */
  async policyOf(principal: string | undefined): Promise<CallbackPolicy> {
    if (!principal) return { ...DEFAULT_CALLBACK_POLICY, allow: [] };
    return this.cached(principal, async () => toPolicy(await new CallbackPolicyRepository(this.tx.manager).find(principal)));
  }

  /**
   * What a delivery of an outbox row without a principal (a monitoring forward) may target: the union of every
   * principal's allowances, cached like {@link policyOf}. Rows that record their principal are checked against that
   * principal's own policy.
   */
  async deliveryPolicy(): Promise<CallbackPolicy> {
    return this.cached('\n', async () => {
      const rows = await new CallbackPolicyRepository(this.tx.manager).list();
      return { allowHttp: rows.some((r) => r.allowHttp), allow: [...new Set(rows.flatMap((r) => toPolicy(r).allow))] };
    });
  }

  /** `key`'s cached policy, or `read()`'s (cached unless a change was made here while it read). */
  private async cached(key: string, read: () => Promise<CallbackPolicy>): Promise<CallbackPolicy> {
    const now = this.now();
    const hit = this.policies.get(key);
    if (hit && hit.until > now) return hit.policy;
    const generation = this.generation;
    const fresh = await read();
    const policy: CallbackPolicy = Object.freeze({ allowHttp: fresh.allowHttp, allow: Object.freeze([...fresh.allow]) as string[] });
    if (generation === this.generation) {
      this.policies.delete(key);
      this.policies.set(key, { until: now + POLICY_CACHE_SECONDS * 1000, policy });
      if (this.policies.size > POLICY_CACHE_ENTRIES) this.policies.delete(this.policies.keys().next().value as string);
    }
    return policy;
  }

  /**
   * The intake check of a callback URL given by `principal` (`send`, `send_sync` with a callback): policy, resolution,
   * every resolved address, then (https) the certificate, once per principal and origin.
   * @throws InputError / NotAllowedError from the policy (pinCallbackTarget); InputError when the callback's
   *   certificate is not trusted, saying what to configure.
   */
  async checkIntake(principal: string | undefined, callbackUrl: string): Promise<void> {
    const policy = await this.policyOf(principal);
    const target = await pinCallbackTarget(callbackUrl, policy, { resolve: this.options.resolve, principal: principal ?? 'NAME' });
    if (target.url.protocol !== 'https:' || !this.options.probe) return;
    const key = `${principal ?? ''}\n${target.origin}`;
    const now = this.now();
    let hit = this.checks.get(key);
    if (!hit || hit.until <= now) {
      // Concurrent sends with one new callback share one handshake (decision 032): the first starts it, the others
      // wait for its result.
      let probing = this.probing.get(key);
      if (!probing) {
        probing = this.options.probe(target).finally(() => this.probing.delete(key));
        this.probing.set(key, probing);
        const result = await probing;
        hit = { result, until: now + (result.outcome === 'trusted' ? TRUSTED_CHECK_CACHE_SECONDS : FAILED_CHECK_CACHE_SECONDS) * 1000 };
        this.checks.set(key, hit);
        if (this.checks.size > 10_000) this.checks.delete(this.checks.keys().next().value as string);
        if (result.outcome !== 'trusted') this.options.logger.warn('callback certificate check', { principal, origin: target.origin, ...result });
      } else {
        hit = { result: await probing, until: 0 };
      }
    }
    if (hit.result.outcome === 'untrusted') {
      throw new InputError(
        `callback ${target.origin}/ presents a certificate not trusted by this manager (${hit.result.reason}): add its CA to callbackCaFile in manager.json (see README 'Callback certificates')`,
      );
    }
    // unreachable: accepted; the outbox retries the delivery, `vtctl callback list` shows its last error.
  }

  /** Drops the cached certificate checks of `principal`. */
  forget(principal: string): void {
    for (const k of this.checks.keys()) if (k.startsWith(`${principal}\n`)) this.checks.delete(k);
  }
}

function toPolicy(row: { allowHttp: boolean; allow: string } | null): CallbackPolicy {
  return row ? { allowHttp: row.allowHttp, allow: row.allow.split(' ').filter(Boolean) } : { ...DEFAULT_CALLBACK_POLICY, allow: [] };
}
