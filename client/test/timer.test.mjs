// The reconnect timer and the backoff it is given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKOFF_JITTER, ReconnectTimer, backoff, jitter } from '../src/index.js';

test('backoff doubles from min to max, jittered by BACKOFF_JITTER either way', () => {
  const mid = () => 0.5; // no jitter
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 10, 100].map((n) => backoff(n, 100, 5000, mid)), [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  assert.equal(backoff(0, 100, 5000, mid), 100, 'try 0 is no shorter than the first');
  assert.equal(backoff(1, 100, 5000, () => 0), 100 * (1 - BACKOFF_JITTER));
  assert.equal(backoff(1, 100, 5000, () => 0.999999), Math.round(100 * (1 + BACKOFF_JITTER)));
  assert.equal(backoff(10, 100, 5000, () => 0), 5000 * (1 - BACKOFF_JITTER));
  for (let i = 0; i < 200; i++) {
    const d = jitter(1000);
    assert.ok(d >= 500 && d <= 1500, `jitter(1000) = ${d}`);
  }
});

test('ReconnectTimer: each scheduled call counts a try, reset starts again', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const calcs = [];
  let calls = 0;
  const timer = new ReconnectTimer(() => calls++, (tries) => {
    calcs.push(tries);
    return [10, 20, 40][tries - 1] ?? 80;
  });
  assert.equal(timer.pending, false);
  assert.equal(timer.scheduleTimeout(), 10);
  assert.equal(timer.pending, true);
  t.mock.timers.tick(9);
  assert.equal(calls, 0);
  t.mock.timers.tick(1);
  assert.equal(calls, 1);
  assert.equal(timer.tries, 1);
  assert.equal(timer.pending, false);
  assert.equal(timer.scheduleTimeout(), 20);
  t.mock.timers.tick(20);
  assert.equal(timer.scheduleTimeout(), 40);
  t.mock.timers.tick(40);
  assert.equal(calls, 3);
  assert.deepEqual(calcs, [1, 2, 3]);

  // Scheduling again replaces the pending call: one call, not two.
  timer.scheduleTimeout();
  timer.scheduleTimeout();
  t.mock.timers.tick(80);
  assert.equal(calls, 4);

  // reset cancels and counts from the start.
  timer.scheduleTimeout();
  timer.reset();
  t.mock.timers.tick(1000);
  assert.equal(calls, 4);
  assert.equal(timer.tries, 0);
  assert.equal(timer.scheduleTimeout(), 10);
  t.mock.timers.tick(10);
  assert.equal(calls, 5);

  // cancel drops the call but keeps the count.
  timer.scheduleTimeout();
  timer.cancel();
  t.mock.timers.tick(1000);
  assert.equal(calls, 5);
  assert.equal(timer.tries, 1);
});
