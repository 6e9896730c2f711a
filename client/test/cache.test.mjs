// The cache keeps one storage entry per document: a push costs the same
// whatever the size of the collection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DocumentCache } from '../src/index.js';
import { CountingStorage } from '../testing/fakes.mjs';

const doc = (i) => ({ id: 'doc' + i, name: 'name ' + i, n: i, text: 'x'.repeat(50) });

function filled(n) {
  const storage = new CountingStorage();
  const cache = new DocumentCache(storage, 'bs:');
  cache.save('character', Array.from({ length: n }, (_, i) => doc(i)));
  storage.reset();
  return { storage, cache };
}

test('a push writes O(1) entries and bytes, whatever the collection size', () => {
  const cost = {};
  for (const n of [10, 1000]) {
    const { storage, cache } = filled(n);
    cache.put('character', { id: 'doc5', n: 55 }); // an update
    const update = [storage.writes, storage.removes, storage.bytes];
    storage.reset();
    cache.put('character', doc(n + 1)); // a create: the document and the index
    const create = [storage.writes, storage.removes, storage.bytes];
    storage.reset();
    cache.delete('character', 'doc6');
    const del = [storage.writes, storage.removes];
    cost[n] = { update, create, del };
    assert.equal(cache.list('character').length, n, `n=${n}`);
  }
  assert.deepEqual(cost[10].update.slice(0, 2), [1, 0], 'an update writes its one document');
  assert.deepEqual(cost[10].create.slice(0, 2), [2, 0], 'a create writes the document and the index');
  assert.deepEqual(cost[10].del, [0, 1], 'a delete removes one entry');
  // The same cost at 1000 documents as at 10, to the byte but for the
  // longer id and index number.
  assert.deepEqual(cost[1000].update.slice(0, 2), cost[10].update.slice(0, 2));
  assert.deepEqual(cost[1000].create.slice(0, 2), cost[10].create.slice(0, 2));
  assert.ok(cost[1000].update[2] <= cost[10].update[2] + 8, `update bytes ${cost[1000].update[2]} vs ${cost[10].update[2]}`);
  assert.ok(cost[1000].create[2] <= cost[10].create[2] + 16, `create bytes ${cost[1000].create[2]} vs ${cost[10].create[2]}`);
});

test('an update merges into the document; the list keeps the collection order', () => {
  const { cache } = filled(3);
  cache.put('character', { id: 'doc1', n: 10 });
  cache.put('character', { id: 'new', n: 99 });
  assert.deepEqual(cache.get('character', 'doc1'), { ...doc(1), n: 10 });
  assert.deepEqual(cache.list('character').map((d) => d.id), ['doc0', 'doc1', 'doc2', 'new']);
  cache.delete('character', 'doc0');
  assert.equal(cache.get('character', 'doc0'), null);
  assert.deepEqual(cache.list('character').map((d) => d.id), ['doc1', 'doc2', 'new']);
  // A collection read replaces all: in its order, without what it lacks.
  cache.save('character', [doc(2), { id: 'z' }, doc(1)]);
  assert.deepEqual(cache.list('character').map((d) => d.id), ['doc2', 'z', 'doc1']);
  assert.equal(cache.get('character', 'new'), null);
  // get hands out copies.
  cache.get('character', 'z').id = 'changed';
  assert.equal(cache.get('character', 'z').id, 'z');
});

test('never read: no list; ids and models that look like keys stay apart', () => {
  const storage = new CountingStorage();
  const cache = new DocumentCache(storage, 'bs:');
  assert.equal(cache.list('character'), null);
  assert.equal(cache.has('character'), false);
  assert.equal(cache.get('character', 'a'), null);
  cache.put('a/b', { id: 'c', v: 1 });
  cache.put('a', { id: 'b/c', v: 2 });
  cache.put('a', { id: 'b', v: 3 });
  assert.deepEqual(cache.list('a/b'), [{ id: 'c', v: 1 }]);
  assert.deepEqual(cache.list('a').map((d) => d.v), [2, 3]);
  cache.put('a', { name: 'no id' });
  assert.equal(cache.list('a').length, 2);
  // Ids compare as text, as the server's do.
  cache.put('num', { id: 7, v: 1 });
  assert.deepEqual(cache.get('num', '7'), { id: 7, v: 1 });
});

test('a write the storage refuses forgets that document instead of keeping it stale', () => {
  const { storage, cache } = filled(3);
  storage.failOn = (k) => k.endsWith('/doc1');
  cache.put('character', { id: 'doc1', n: 100 });
  assert.equal(cache.get('character', 'doc1'), null);
  storage.failOn = null;
  cache.put('character', { id: 'big', n: 10n }); // JSON has no BigInt
  assert.equal(cache.get('character', 'big'), null);
  assert.deepEqual(cache.list('character').map((d) => d.id), ['doc0', 'doc2']);
});

test('the whole-list cache of client 0.1 is rewritten in the new layout on first use', () => {
  const storage = new CountingStorage();
  storage.setItem('bs:cache:character', JSON.stringify([doc(0), doc(1)]));
  const cache = new DocumentCache(storage, 'bs:');
  assert.deepEqual(cache.get('character', 'doc1'), doc(1));
  assert.deepEqual(cache.list('character'), [doc(0), doc(1)]);
  assert.deepEqual(JSON.parse(storage.getItem('bs:cache:character')), { v: 2, next: 2 });
  storage.reset();
  cache.put('character', { id: 'doc0', n: 5 });
  assert.equal(storage.writes, 1);
});
