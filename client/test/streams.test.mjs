// Streams: the rules of streams.js one by one, then the client against a
// scripted server that keeps a history (testing/fakes.mjs): a reconnect
// resumes each stream from its position, the missed pushes are applied
// without a reload when the server replays them, and the subscribers
// reload when it cannot (history too short, another epoch, a server
// before streams); duplicates are dropped, gaps reload, the offline
// queue lands after what it missed, in order, and a refused subscription
// is reported.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Atom, Client, STATE, Subscriptions, Tuple, VERDICT, decode, encode, isRecovered, overlayPending, parseSubscribeReply,
  resumeProps, sameEpoch, toJS, verdict
} from '../src/index.js';
import { FakeServer, fast, next } from '../testing/fakes.mjs';

const clients = new Set();
afterEach(() => {
  for (const c of clients) c.close();
  clients.clear();
});

function client(server, names = ['a'], options = {}) {
  const c = new Client({ ...fast, transports: names.map((n) => server.transport(n)), ...options });
  clients.add(c);
  return c;
}

// recorder is a subscriber that keeps what it hears and counts reloads.
function recorder() {
  const r = {
    heard: [],
    reloads: 0,
    refusals: [],
    push: (event, props, seq) => r.heard.push([event, props.id, seq, props.v]),
    reload: () => {
      r.reloads++;
    },
    refused: (err) => r.refusals.push(err.code)
  };
  return r;
}

// reply decodes what the server would send as a subscribe reply's Msg.
const msg = (term) => toJS(decode(encode(term)));
const bert = (name) => new Tuple([new Atom('bert'), new Atom(name)]);
const prop = (k, v) => new Tuple([new Atom(k), v]);

test('parseSubscribeReply reads both forms of the reply', () => {
  const epochBytes = new Uint8Array([0, 255, 1, 200]);
  const rows = [
    ['a bare Seq (a server before streams)', 7, { seq: 7, epoch: undefined, recovered: false, filtered: false }],
    ['seq and epoch', [prop('seq', 3), prop('epoch', 'e1')], { seq: 3, epoch: 'e1', recovered: false, filtered: false }],
    ['recovered {bert, true}', [prop('seq', 9), prop('epoch', 'e1'), prop('recovered', bert('true'))], { seq: 9, epoch: 'e1', recovered: true, filtered: false }],
    ['recovered {bert, false}', [prop('seq', 9), prop('epoch', 'e1'), prop('recovered', bert('false'))], { seq: 9, epoch: 'e1', recovered: false, filtered: false }],
    ['recovered as a bare atom', [prop('seq', 9), prop('epoch', 'e1'), prop('recovered', new Atom('true'))], { seq: 9, epoch: 'e1', recovered: true, filtered: false }],
    ['an epoch that is not UTF-8', [prop('seq', 0), prop('epoch', epochBytes)], { seq: 0, epoch: epochBytes, recovered: false, filtered: false }],
    ['filtered (an owner-only subscription)', [prop('seq', 4), prop('epoch', 'e1'), prop('filtered', bert('true'))], { seq: 4, epoch: 'e1', recovered: false, filtered: true }],
    ['nothing it knows', new Atom('ok'), { seq: undefined, epoch: undefined, recovered: false, filtered: false }]
  ];
  for (const [name, term, want] of rows) assert.deepEqual(parseSubscribeReply(msg(term)), want, name);
});

test('sameEpoch compares binaries, whichever way they decoded', () => {
  assert.equal(sameEpoch('abc', 'abc'), true);
  assert.equal(sameEpoch('abc', 'abd'), false);
  assert.equal(sameEpoch('abc', new TextEncoder().encode('abc')), true);
  assert.equal(sameEpoch(new Uint8Array([0, 255]), new Uint8Array([0, 255])), true);
  assert.equal(sameEpoch(new Uint8Array([0, 255]), new Uint8Array([0, 254])), false);
  assert.equal(sameEpoch(undefined, undefined), false, 'no epoch is no match: never resumed');
  assert.equal(sameEpoch('', ''), true, 'an empty binary is an epoch');
});

test('resumeProps asks to resume only a position with a Seq and an epoch', () => {
  assert.deepEqual(resumeProps({ seq: 4, epoch: 'e' }), { since: 4, epoch: 'e' });
  assert.deepEqual(resumeProps({ seq: 0, epoch: 'e' }), { since: 0, epoch: 'e' });
  assert.deepEqual(resumeProps({ seq: 4, epoch: undefined }), [], 'a server before streams: a plain subscribe');
  assert.deepEqual(resumeProps({ seq: undefined, epoch: 'e' }), []);
  assert.deepEqual(resumeProps(undefined), []);
  // On the wire: [{since, 4}, {epoch, <<"e">>}].
  const term = decode(encode(resumeProps({ seq: 4, epoch: 'e' })));
  assert.deepEqual(term.map((t) => [t.items[0].name, t.items[1]]), [['since', 4], ['epoch', 'e']]);
});

test('isRecovered: the server said so, in the epoch asked for, not behind', () => {
  const asked = { seq: 5, epoch: 'e1' };
  const rows = [
    [{ seq: 8, epoch: 'e1', recovered: true }, true],
    [{ seq: 5, epoch: 'e1', recovered: true }, true],
    [{ seq: 8, epoch: 'e1', recovered: false }, false],
    [{ seq: 8, epoch: 'e2', recovered: true }, false],
    [{ seq: 4, epoch: 'e1', recovered: true }, false],
    [{ seq: 8, epoch: undefined, recovered: false }, false]
  ];
  for (const [reply, want] of rows) assert.equal(isRecovered(asked, reply), want, JSON.stringify(reply));
  assert.equal(isRecovered(null, { seq: 8, epoch: 'e1', recovered: true }), false, 'nothing asked');
  assert.equal(isRecovered({ seq: undefined, epoch: 'e1' }, { seq: 8, epoch: 'e1', recovered: true }), false);
});

test('verdict: the next applies, at or below is a duplicate, beyond is a gap (held while resuming)', () => {
  const rows = [
    [undefined, 9, false, VERDICT.apply],
    [4, 5, false, VERDICT.apply],
    [4, 4, false, VERDICT.duplicate],
    [4, 1, false, VERDICT.duplicate],
    [4, 7, false, VERDICT.gap],
    [4, 7, true, VERDICT.held],
    [4, 5, true, VERDICT.apply],
    [4, 3, true, VERDICT.duplicate],
    [4, undefined, false, VERDICT.apply]
  ];
  for (const [last, seq, resuming, want] of rows) assert.equal(verdict(last, seq, resuming), want, `${last} ${seq} ${resuming}`);
  // A filtered stream skips the Seqs of others' events: no gap.
  assert.equal(verdict(4, 7, false, true), VERDICT.apply);
  assert.equal(verdict(4, 4, false, true), VERDICT.duplicate);
});

test('overlayPending lays queued writes over a pushed document', () => {
  const pushed = { id: 'x', a: 1, b: 1 };
  assert.equal(overlayPending('updated', pushed, []), pushed);
  assert.deepEqual(overlayPending('updated', pushed, [{ method: 'patch', props: { id: 'x', b: 2 } }, { method: 'update', props: { id: 'x', a: 3, b: 3 } }]), { id: 'x', a: 3, b: 3 });
  assert.deepEqual(overlayPending('created', pushed, [{ method: 'patch', props: { id: 'x', b: 2 } }]), { id: 'x', a: 1, b: 2 });
  assert.equal(overlayPending('updated', pushed, [{ method: 'delete', props: { id: 'x' } }]), null, 'deleted in this tab: stays deleted');
  assert.deepEqual(overlayPending('updated', pushed, [{ method: 'delete', props: { id: 'x' } }, { method: 'create', props: { id: 'x', a: 9 } }]), { id: 'x', a: 9 });
  assert.equal(overlayPending('deleted', { id: 'x' }, [{ method: 'patch', props: { id: 'x', b: 2 } }]).id, 'x', 'a delete is shown as it is');
  assert.deepEqual(pushed, { id: 'x', a: 1, b: 1 }, 'the pushed props are not changed');
});

test('Subscriptions: a push beyond the next while resuming is held; the reply decides', () => {
  const subs = new Subscriptions();
  subs.add('m', {});
  subs.subscribed('m', { seq: 4, epoch: 'e' });
  assert.deepEqual(subs.position('m'), { seq: 4, epoch: 'e' });
  subs.newSession();
  assert.deepEqual(subs.resume('m'), { since: 4, epoch: 'e' });
  assert.equal(subs.accept('m', 5), VERDICT.apply, 'contiguous: applied');
  assert.equal(subs.accept('m', 8), VERDICT.held);
  // The replay (5..9) covers what was held: resumed.
  assert.equal(subs.subscribed('m', { seq: 9, epoch: 'e', recovered: true }).recovered, true);
  assert.equal(subs.accept('m', 5), VERDICT.duplicate);
  for (const seq of [6, 7, 8, 9]) assert.equal(subs.accept('m', seq), VERDICT.apply);
  // Held beyond what the reply's replay brings: not resumed, the position moves to the reply's.
  subs.newSession();
  subs.resume('m');
  assert.equal(subs.accept('m', 12), VERDICT.held);
  const r = subs.subscribed('m', { seq: 11, epoch: 'e', recovered: true });
  assert.equal(r.recovered, false);
  assert.deepEqual(subs.position('m'), { seq: 11, epoch: 'e' });
});

test('Subscriptions: a position moves forward within an epoch, and is replaced by another epoch or a fresh bare Seq', () => {
  const subs = new Subscriptions();
  subs.add('m', {});
  subs.subscribed('m', { seq: 10, epoch: 'e' });
  subs.accept('m', 11);
  subs.accept('m', 12);
  subs.subscribed('m', { seq: 11, epoch: 'e' }); // a switch: the old transport was ahead
  assert.deepEqual(subs.position('m'), { seq: 12, epoch: 'e' });
  subs.subscribed('m', { seq: 2, epoch: 'f' });
  assert.deepEqual(subs.position('m'), { seq: 2, epoch: 'f' }, 'another epoch: its Seq, even lower');
  subs.subscribed('m', 30);
  assert.deepEqual(subs.position('m'), { seq: 30, epoch: undefined }, 'a server before streams');
  subs.subscribed('m', 20);
  assert.deepEqual(subs.position('m'), { seq: 30, epoch: undefined }, 'same session: forward only');
  subs.newSession();
  subs.subscribed('m', 3);
  assert.deepEqual(subs.position('m'), { seq: 3, epoch: undefined }, 'a new session of a server before streams may have restarted at 1');
});

// connected returns a client subscribed to model with sub, online, its
// first connection's catch-up done.
async function connected(server, model, sub, names, options) {
  const c = client(server, names, options);
  const synced = next(c, 'synced');
  await c.subscribe(model, sub);
  c.connect();
  await synced;
  return c;
}

// caughtUp resolves once c's position in each stream it subscribed to is
// the server's latest Seq: every push the server sent it was read.
function caughtUp(server, c) {
  const done = () => c.subscriptions.models().every((m) => c.subscriptions.position(m).seq >= server.stream(m).seq);
  return until(c, 'push', done);
}

// reconnect brings c back after a drop and resolves with the model types
// the new connection reloaded (the synced event's), once c has caught up.
async function reconnect(server, c) {
  const synced = next(c, 'synced');
  server.up = true;
  c.reconnectNow();
  const [reloaded] = await synced;
  await caughtUp(server, c);
  return reloaded;
}

// until resolves once cond() holds, looking again on each of emitter's name events.
function until(emitter, name, cond) {
  if (cond()) return Promise.resolve();
  return next(emitter, name, () => cond()).then(() => undefined);
}

function goOffline(server, c) {
  server.up = false;
  server.drop();
  assert.equal(c.state, STATE.offline);
}

test('resumed: the missed pushes are applied in order and nothing reloads', async () => {
  const server = new FakeServer();
  server.epoch = 'epoch-1';
  server.change('created', 'm', { id: 'before', v: 0 });
  const sub = recorder();
  const c = await connected(server, 'm', sub);
  assert.deepEqual(c.subscriptions.position('m'), { seq: 1, epoch: 'epoch-1' });
  assert.equal(sub.reloads, 1, 'subscribed before connect: one catch-up');
  server.change('created', 'm', { id: 'live', v: 1 });
  await next(c, 'push');
  assert.deepEqual(c.subscriptions.position('m'), { seq: 2, epoch: 'epoch-1' });

  goOffline(server, c);
  server.change('created', 'm', { id: 'x', v: 1 });
  server.change('updated', 'm', { id: 'x', v: 2 });
  server.change('created', 'm', { id: 'y', v: 1 });
  server.change('deleted', 'm', { id: 'live' });
  const reads = server.reads('m');
  const resubscribed = next(c, 'resubscribed');
  const reloaded = await reconnect(server, c);

  assert.deepEqual(await resubscribed, ['m', true, 6]);
  assert.deepEqual(reloaded, []);
  assert.equal(sub.reloads, 1, 'no reload');
  assert.equal(server.reads('m'), reads, 'no read of the collection');
  const subscribe = server.log.filter(([m]) => m === 'subscribe').at(-1);
  assert.deepEqual(subscribe[2], { since: 2, epoch: 'epoch-1' }, 'asked to resume from the position');
  assert.deepEqual(sub.heard.slice(-4), [['created', 'x', 3, 1], ['updated', 'x', 4, 2], ['created', 'y', 5, 1], ['deleted', 'live', 6, undefined]]);
  assert.deepEqual(c.subscriptions.position('m'), { seq: 6, epoch: 'epoch-1' });
  assert.deepEqual(c.cache.get('m', 'x'), { id: 'x', v: 2 }, 'the replays reached the cache');
  // Live again.
  server.change('updated', 'm', { id: 'y', v: 2 });
  await next(c, 'push');
  assert.deepEqual(sub.heard.at(-1), ['updated', 'y', 7, 2]);
  assert.equal(sub.reloads, 1);
});

test('an epoch that is not UTF-8 goes back as the same bytes, and resumes', async () => {
  const server = new FakeServer();
  server.epoch = new Uint8Array([0xff, 0x00, 0x80, 0x7f]);
  const sub = recorder();
  const c = await connected(server, 'm', sub);
  goOffline(server, c);
  server.change('created', 'm', { id: 'x' });
  assert.deepEqual(await reconnect(server, c), []);
  assert.deepEqual(sub.heard.map((h) => h[2]), [1]);
  assert.ok(sameEpoch(server.log.filter(([m]) => m === 'subscribe').at(-1)[2].epoch, server.epoch));
});

test('not resumed: history too short, the subscribers reload once and the stream takes the new position', async () => {
  const server = new FakeServer();
  server.epoch = 'e';
  server.historySize = 2;
  const sub = recorder();
  const c = await connected(server, 'm', sub);
  goOffline(server, c);
  for (const id of ['a', 'b', 'c']) server.change('created', 'm', { id });
  const resubscribed = next(c, 'resubscribed');
  assert.deepEqual(await reconnect(server, c), ['m']);
  assert.deepEqual(await resubscribed, ['m', false, 3]);
  assert.equal(sub.reloads, 2, 'the first catch-up, then this one');
  assert.deepEqual(sub.heard, [], 'nothing replayed');
  assert.deepEqual(c.subscriptions.position('m'), { seq: 3, epoch: 'e' });
  server.change('created', 'm', { id: 'd' });
  await next(c, 'push');
  assert.deepEqual(sub.heard, [['created', 'd', 4, undefined]]);
  assert.equal(sub.reloads, 2, 'the next push is no gap');
});

test('another epoch (history lost): reload, then the new epoch is the one asked for', async () => {
  const server = new FakeServer();
  server.epoch = 'old';
  const sub = recorder();
  const c = await connected(server, 'm', sub);
  server.change('created', 'm', { id: 'a' });
  server.change('created', 'm', { id: 'b' });
  await next(c, 'push', (e, m, p, seq) => seq === 2);
  goOffline(server, c);
  // A wiped store: a new epoch, Seq from 1 again.
  server.epoch = 'new';
  server.streams.clear();
  server.change('created', 'm', { id: 'c' });
  assert.deepEqual(await reconnect(server, c), ['m']);
  assert.deepEqual(server.log.filter(([m]) => m === 'subscribe').at(-1)[2], { since: 2, epoch: 'old' });
  assert.deepEqual(c.subscriptions.position('m'), { seq: 1, epoch: 'new' }, 'a lower Seq in the new epoch');
  assert.equal(sub.reloads, 2);
  server.change('created', 'm', { id: 'd' });
  await next(c, 'push');
  assert.deepEqual(sub.heard.at(-1), ['created', 'd', 2, undefined], 'Seq 2 of the new epoch is no duplicate');
  goOffline(server, c);
  server.change('created', 'm', { id: 'e' });
  assert.deepEqual(await reconnect(server, c), []);
  assert.deepEqual(server.log.filter(([m]) => m === 'subscribe').at(-1)[2], { since: 2, epoch: 'new' });
  assert.deepEqual(sub.heard.at(-1), ['created', 'e', 3, undefined]);
});

test('a server that claims recovery in another epoch is not believed', async () => {
  const server = new FakeServer();
  server.epoch = 'e1';
  const sub = recorder();
  const c = await connected(server, 'm', sub);
  goOffline(server, c);
  server.change('created', 'm', { id: 'a' });
  // It answers recovered with an epoch that is not the one asked for.
  const real = server.subscribe.bind(server);
  server.subscribe = (t, model, props, reply) => {
    server.epoch = 'e2';
    reply({ seq: server.stream(model).seq, epoch: 'e2', recovered: true });
    server.subscribe = real;
  };
  assert.deepEqual(await reconnect(server, c), ['m']);
  assert.deepEqual(c.subscriptions.position('m'), { seq: 1, epoch: 'e2' });
});

test('a server before streams (a bare Seq): never resumed, a reload on every reconnect, restarted Seqs accepted', async () => {
  const server = new FakeServer();
  const sub = recorder();
  const c = await connected(server, 'm', sub);
  server.change('created', 'm', { id: 'a' });
  server.change('created', 'm', { id: 'b' });
  await next(c, 'push', (e, m, p, seq) => seq === 2);
  assert.deepEqual(c.subscriptions.position('m'), { seq: 2, epoch: undefined });
  goOffline(server, c);
  server.change('created', 'm', { id: 'c' });
  assert.deepEqual(await reconnect(server, c), ['m']);
  assert.deepEqual(server.log.filter(([m]) => m === 'subscribe').at(-1)[2], {}, 'a plain subscribe: no since without an epoch');
  assert.equal(sub.reloads, 2);
  // The server restarts and counts from 1 again.
  goOffline(server, c);
  server.streams.clear();
  assert.deepEqual(await reconnect(server, c), ['m']);
  assert.deepEqual(c.subscriptions.position('m'), { seq: 0, epoch: undefined });
  server.change('created', 'm', { id: 'd' });
  await next(c, 'push');
  assert.deepEqual(sub.heard.at(-1), ['created', 'd', 1, undefined], 'Seq 1 after the restart is applied');
});

test('duplicates are dropped: a push at or below the position, and the replay of what the old transport brought during a switch', async () => {
  const server = new FakeServer();
  server.epoch = 'e';
  server.broken.add('best');
  const sub = recorder();
  const c = await connected(server, 'm', sub, ['best', 'fallback'], { probeInterval: 5 });
  assert.equal(c.transport.name, 'fallback');
  server.push('created', 'm', { id: 'a' }, 1);
  server.push('created', 'm', { id: 'a' }, 1);
  server.push('updated', 'm', { id: 'a', v: 2 }, 2);
  server.push('created', 'm', { id: 'old' }, 1);
  await next(c, 'push', (e, m, p, seq) => seq === 2);
  // The probe opens the best transport while the fallback still hears
  // everything: it resumes from 2 and replays nothing; live pushes then
  // come on both until the fallback is retired.
  server.change('created', 'm', { id: 'b' });
  server.broken.delete('best');
  const resubscribed = next(c, 'resubscribed');
  await next(c, 'transport', (name) => name === 'best');
  assert.deepEqual(await resubscribed, ['m', true, 3]);
  server.change('created', 'm', { id: 'c' });
  assert.ok(server.live.size >= 1);
  await next(c, 'synced');
  server.change('created', 'm', { id: 'd' });
  await next(c, 'push', (e, m, p, seq) => seq === 5);
  assert.deepEqual(sub.heard.map((h) => h[2]), [1, 2, 3, 4, 5], 'each Seq once, in order');
  assert.equal(sub.reloads, 1, 'no reload');
});

test('a gap in a live stream reloads, once per round however many gaps', async () => {
  const server = new FakeServer();
  server.epoch = 'e';
  let release;
  const sub = recorder();
  sub.reload = () => {
    sub.reloads++;
    return new Promise((r) => {
      release = r;
    });
  };
  const c = await connected(server, 'm', sub);
  release();
  const reloads = [];
  c.on('reload', (m) => reloads.push(m));
  server.push('created', 'm', { id: 'a' }, 1);
  server.push('created', 'm', { id: 'b' }, 3); // 2 was missed
  server.push('created', 'm', { id: 'c' }, 5); // and 4, while the reload is under way
  server.push('created', 'm', { id: 'd' }, 7);
  await next(c, 'push', (e, m, p, seq) => seq === 7);
  assert.deepEqual(sub.heard.map((h) => h[2]), [1, 3, 5, 7], 'the pushes are applied all the same');
  assert.equal(sub.reloads, 2, 'one reload under way (after the first catch-up)');
  const again = next(c, 'reload');
  release();
  await again;
  assert.equal(sub.reloads, 3, 'one more round for the gaps seen meanwhile');
  release();
  assert.deepEqual(reloads, ['m', 'm']);
});

test('a replay with a hole in it reloads', async () => {
  const server = new FakeServer();
  server.epoch = 'e';
  const sub = recorder();
  const c = await connected(server, 'm', sub);
  goOffline(server, c);
  for (const id of ['a', 'b', 'c']) server.change('created', 'm', { id });
  server.replay = (events) => events.filter((e) => e[2] !== 2);
  const reloaded = next(c, 'reload');
  await reconnect(server, c);
  await reloaded;
  assert.deepEqual(sub.heard.map((h) => h[2]), [1, 3]);
  assert.equal(sub.reloads, 2);
});

test('the offline queue lands after what was missed, in order, without flipping the tab\'s own changes back', async () => {
  const server = new FakeServer();
  server.epoch = 'e';
  server.change('created', 'm', { id: 'x', v: 0, by: 'other' });
  const sub = recorder();
  const c = await connected(server, 'm', sub);
  goOffline(server, c);
  // Offline, this tab changes x and makes y; meanwhile another client
  // changes x too, and makes z.
  await c.write('patch', 'm', { id: 'x', v: 10 });
  await c.write('create', 'm', { id: 'y', v: 1 });
  await c.write('update', 'm', { id: 'y', v: 2 });
  server.change('updated', 'm', { id: 'x', v: 5, by: 'other' });
  server.change('created', 'm', { id: 'z', v: 1 });
  const reads = server.reads('m');
  assert.deepEqual(await reconnect(server, c), []);
  await c.drained();
  // The server's order: the missed changes (Seq 2, 3), then this tab's
  // writes (4, 5, 6), each once; x never shows the other client's v: 5
  // over this tab's v: 10, which the server has not seen yet.
  assert.deepEqual(sub.heard, [
    ['updated', 'x', 2, 10],
    ['created', 'z', 3, 1],
    ['updated', 'x', 4, 10],
    ['created', 'y', 5, 2],
    ['updated', 'y', 6, 2]
  ]);
  assert.deepEqual(server.log.filter(([m]) => m !== 'subscribe').map(([m, , p]) => m + ' ' + p.id), ['patch x', 'create y', 'update y']);
  assert.equal(server.reads('m'), reads, 'no read');
  assert.equal(sub.reloads, 1);
  assert.deepEqual(server.docs.get('m').get('x'), { id: 'x', v: 10, by: 'other' });
  assert.deepEqual(c.cache.get('m', 'x'), { id: 'x', v: 10, by: 'other' });
});

test('a document deleted offline is not brought back by a replayed change', async () => {
  const server = new FakeServer();
  server.epoch = 'e';
  server.change('created', 'm', { id: 'x', v: 0 });
  const sub = recorder();
  const c = await connected(server, 'm', sub);
  goOffline(server, c);
  await c.write('delete', 'm', { id: 'x' });
  server.change('updated', 'm', { id: 'x', v: 1 });
  await reconnect(server, c);
  await c.drained();
  await until(c, 'push', () => sub.heard.length > 0);
  assert.deepEqual(sub.heard, [['deleted', 'x', 3, undefined]], 'the replayed update is not shown; the delete is');
  assert.equal(c.cache.get('m', 'x'), null);
});

test('a broadcast of this client\'s own takes a Seq the next push does not count as a gap', async () => {
  const server = new FakeServer();
  server.epoch = 'e';
  const sub = recorder();
  const c = await connected(server, 'm', sub);
  await c.write('broadcast', 'm', { id: 'hello' });
  assert.deepEqual(c.subscriptions.position('m'), { seq: 1, epoch: 'e' });
  server.change('created', 'm', { id: 'a' });
  await next(c, 'push');
  assert.deepEqual(sub.heard, [['created', 'a', 2, undefined]]);
  assert.equal(sub.reloads, 1);
});

test('a subscription refused on connect is reported, keeps its subscribers, and is asked for again', async () => {
  const server = new FakeServer();
  server.epoch = 'e';
  server.refuse = (method) => (method === 'subscribe' ? ['forbidden', 'not for you'] : null);
  const c = client(server);
  const sub = recorder();
  assert.equal(await c.subscribe('m', sub), undefined, 'offline: resolved at once');
  const errored = next(c, 'error');
  const synced = next(c, 'synced');
  c.connect();
  const [err, what] = await errored;
  assert.equal(err.code, 'forbidden');
  assert.deepEqual(what, { method: 'subscribe', model: 'm' });
  assert.deepEqual(sub.refusals, ['forbidden']);
  assert.deepEqual((await synced)[0], [], 'a refused subscription does not reload');
  assert.equal(sub.reloads, 0);
  assert.equal(c.subscriptions.has('m'), true);
  // Let in: the next connection subscribes and catches up.
  server.refuse = null;
  goOffline(server, c);
  assert.deepEqual(await reconnect(server, c), ['m']);
  assert.equal(sub.reloads, 1);
});

test('a subscription refused online rejects, and its subscriber is removed', async () => {
  const server = new FakeServer();
  server.refuse = (method) => (method === 'subscribe' ? ['unauthorized', 'log in'] : null);
  const c = client(server);
  c.connect();
  await next(c, 'state', (s) => s === STATE.online);
  const sub = recorder();
  await assert.rejects(c.subscribe('m', sub), (e) => e.code === 'unauthorized');
  assert.equal(c.subscriptions.has('m'), false);
  server.refuse = null;
  const pos = await c.subscribe('m', sub);
  assert.deepEqual(pos, { seq: 0, epoch: undefined, recovered: false }, 'a second try is sent (and resolves with the position)');
});

test('a client that takes over from another resumes where that one stopped', async () => {
  const server = new FakeServer();
  server.epoch = 'e';
  const sub = recorder();
  const first = await connected(server, 'm', sub);
  server.change('created', 'm', { id: 'a' });
  await next(first, 'push');
  first.close();
  server.change('created', 'm', { id: 'b' });
  const second = client(server);
  second.takeOver(first);
  const synced = next(second, 'synced');
  second.connect();
  assert.deepEqual((await synced)[0], []);
  await caughtUp(server, second);
  assert.deepEqual(sub.heard.map((h) => h[1]), ['a', 'b']);
  assert.deepEqual(server.log.filter(([m]) => m === 'subscribe').at(-1)[2], { since: 1, epoch: 'e' });
});
