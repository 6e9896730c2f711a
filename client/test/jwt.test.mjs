// Reading a JWT's claims to schedule its renewal: base64url JSON, read
// without verifying, and anything else is not a JWT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jwtClaims, jwtExpiry, renewDelay } from '../src/index.js';
import { fakeJWT } from '../testing/fakes.mjs';

test('jwtClaims reads the payload: base64url, UTF-8, no padding', () => {
  // "?>" and "~~~" encode to "-" and "_" in base64url, "+" and "/" in base64.
  const claims = { sub: 'zoë ✓', exp: 1700000000, odd: '?>?>~~~' };
  const token = fakeJWT(claims);
  assert.match(token.split('.')[1], /[-_]/, 'the test token exercises the url-safe alphabet');
  assert.ok(!token.includes('='), 'no padding');
  assert.deepEqual(jwtClaims(token), claims);
  assert.equal(jwtExpiry(token), 1700000000 * 1000);
});

test('anything that is not a JWT with a readable payload has no claims', () => {
  const notJSON = 'eyJhbGciOiJIUzI1NiJ9.' + Buffer.from('not json').toString('base64url') + '.sig';
  const array = 'a.' + Buffer.from('[1,2]').toString('base64url') + '.b';
  const badUTF8 = 'a.' + Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url') + '.b';
  for (const t of [null, undefined, 42, '', 'opaque-session-token', 'a.b', 'a..c', 'a.b.c.d', notJSON, array, badUTF8, 'a.!!!.c']) {
    assert.equal(jwtClaims(t), null, String(t));
    assert.equal(jwtExpiry(t), null, String(t));
  }
  assert.equal(jwtExpiry(fakeJWT({ sub: 'no exp' })), null);
  assert.equal(jwtExpiry(fakeJWT({ exp: '1700000000' })), null, 'exp must be a number');
});

test('renewDelay: before ahead of exp, halfway for a short-lived token, nothing when expired or unknown', () => {
  const now = 1_000_000_000_000;
  const at = (s) => fakeJWT({ exp: (now + s * 1000) / 1000 });
  assert.equal(renewDelay(at(3600), now, 30000), 3600000 - 30000);
  assert.equal(renewDelay(at(60), now, 30000), 30000);
  assert.equal(renewDelay(at(10), now, 30000), 5000, 'less than twice before left: halfway');
  assert.equal(renewDelay(at(0), now, 30000), null, 'expired: the server refuses it, and that renews it');
  assert.equal(renewDelay(at(-5), now, 30000), null);
  assert.equal(renewDelay('opaque', now, 30000), null);
});
