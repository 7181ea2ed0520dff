/**
 * Issue 9 "Also": a password containing `@` is redacted whole (userinfo ends at the last `@` before the host,
 * docs/ocf-protocol.md §1.4), and AES-GCM refuses a truncated authentication tag (authTagLength 16).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactCredentials } from '../dist/redact.js';
import { SecretBox } from '../dist/secret-box.js';

test('redactCredentials: the userinfo ends at the last @ before the host', () => {
  assert.equal(redactCredentials('https://u:p@ss@host/'), 'https://***@host/');
  assert.equal(redactCredentials('cb https://exp:a@b@c@10.0.0.5:8443/vt/?x=1 then http://u@h/x'), 'cb https://***@10.0.0.5:8443/vt/?x=1 then http://***@h/x');
  assert.equal(redactCredentials('https://host/path?mail=a@b'), 'https://host/path?mail=a@b', 'an @ after the authority is not userinfo');
});

test('SecretBox refuses a sealed value whose GCM tag was truncated', () => {
  const box = SecretBox.random();
  const sealed = box.seal('https://expedient:s3cret@10.0.0.5/vt/');
  const [iv, tag, ct] = sealed.slice('enc:v1:'.length).split(':') as [string, string, string];
  for (const bytes of [4, 8, 12]) {
    const short = Buffer.from(tag, 'base64url').subarray(0, bytes).toString('base64url');
    assert.throws(() => box.open(`enc:v1:${iv}:${short}:${ct}`), /cannot be decrypted/, `a ${bytes}-byte tag`);
  }
  assert.equal(box.open(sealed), 'https://expedient:s3cret@10.0.0.5/vt/');
});
