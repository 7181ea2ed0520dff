/**
 * The callback policy the test clusters need (decision 014): the test clearinghouses listen on 127.0.0.1, a loopback
 * target the default policy refuses.
 */
import type { XmlRpcClient } from '@kvm-crm/shared';

/** Largest answer the harness's admin and plugin clients read (listings in tests): 16 MiB. */
export const TEST_CLIENT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** Lets `principal`'s callbacks target 127.0.0.1 (`user.setCallbackPolicy` through the admin client `admin`). */
export async function allowLoopbackCallbacks(admin: XmlRpcClient, principal: string): Promise<void> {
  await admin.call('user.setCallbackPolicy', [{ name: principal, allow: ['127.0.0.1/32'] }]);
}
