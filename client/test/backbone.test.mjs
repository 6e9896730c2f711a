// The Backbone binding, against stand-ins for Backbone's models and
// collections and a client that records what it is asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSync, install, modelName } from '../src/index.js';

// Stand-ins with the parts of Backbone the binding uses.
class Model {
  constructor(attrs = {}, proto = {}) {
    Object.assign(this, proto);
    this.attributes = { ...attrs };
    this.id = attrs.id;
    this.events = [];
  }

  get(k) {
    return this.attributes[k];
  }

  set(k, v) {
    const attrs = typeof k === 'object' ? k : { [k]: v };
    Object.assign(this.attributes, attrs);
    if (attrs.id !== undefined) this.id = attrs.id;
  }

  parse(res) {
    return res;
  }

  toJSON() {
    return { ...this.attributes };
  }

  trigger(...args) {
    this.events.push(args);
  }
}

class Collection {
  constructor(props = {}) {
    Object.assign(this, props);
    this.models = [];
  }
}

function recorder() {
  const calls = [];
  return {
    calls,
    read: (model, id) => {
      calls.push(['read', model, id]);
      return Promise.resolve(id === undefined ? [] : { id });
    },
    write: (method, model, props, late) => {
      calls.push([method, model, props, Boolean(late)]);
      return Promise.resolve(props);
    }
  };
}

test('modelName: name first, then urlRoot and url segments, as docs/client.md orders them', () => {
  assert.equal(modelName(new Model({}, { name: 'character' })), 'character');
  assert.equal(modelName(new Model({}, { name: () => 'fn' })), 'fn');
  assert.equal(modelName(new Model({}, { collection: { name: 'fromcol' } })), 'fromcol');
  assert.equal(modelName(new Model({}, { urlRoot: '/api/from_root/' })), 'from_root');
  assert.equal(modelName(new Model({}, { collection: { url: '/api/colurl?x=1' } })), 'colurl');
  assert.equal(modelName(new Collection({ name: 'c' })), 'c');
  assert.equal(modelName(new Collection({ model: { prototype: { name: 'proto' } } })), 'proto');
  assert.equal(modelName(new Collection({ model: { prototype: { urlRoot: '/api/p%20r' } } })), 'p r');
  assert.equal(modelName(new Collection({ url: () => '/api/things' })), 'things');
  assert.throws(() => modelName(new Model()), /cannot tell the model type/);
});

test('sync maps Backbone calls to requests; a create without id gets one first', async () => {
  const c = recorder();
  const sync = createSync(c);
  const m = new Model({ name: 'Ada' }, { name: 'character' });
  const successes = [];
  await sync('create', m, { success: (r) => successes.push(r) });
  const [method, model, props, late] = c.calls[0];
  assert.deepEqual([method, model, late], ['create', 'character', true]);
  assert.match(props.id, /^[0-9a-z]{16,}$/);
  assert.equal(m.id, props.id, 'the id is set on the model before the request');
  assert.deepEqual(successes, [props]);
  await sync('update', m, {});
  await sync('patch', m, { attrs: { n: 2 } });
  await sync('delete', m, {});
  await sync('read', m, {});
  await sync('read', new Collection({ name: 'character' }), {});
  assert.deepEqual(c.calls.slice(1), [
    ['update', 'character', { name: 'Ada', id: m.id }, true],
    ['patch', 'character', { n: 2, id: m.id }, true],
    ['delete', 'character', { id: m.id }, true],
    ['read', 'character', m.id],
    ['read', 'character', undefined]
  ]);
  assert.equal(m.events.filter((e) => e[0] === 'request').length, 5, 'each call on the model triggers request');
  // {broadcast: true}: the save, then a broadcast of the saved attributes.
  c.calls.length = 0;
  await sync('update', m, { broadcast: true });
  assert.deepEqual(c.calls.map((x) => x[0]), ['update', 'broadcast']);
  await assert.rejects(sync('nope', m, {}), /unknown sync method/);
});

test('install keeps Backbone.sync as ajaxSync and binds the given client', async () => {
  const ajax = () => 'ajax';
  class M extends Model {
    constructor(attrs) {
      super(attrs, { name: 'thing' });
    }
  }
  const Backbone = { sync: ajax, Model: M, Collection };
  const c = recorder();
  assert.equal(install(Backbone, c), Backbone);
  assert.equal(Backbone.ajaxSync, ajax);
  assert.notEqual(Backbone.sync, ajax);
  await new M({ id: 'a' }).broadcast({ wave: true });
  assert.deepEqual(c.calls, [['broadcast', 'thing', { wave: true, id: 'a' }, false]]);
  // Installed again with another client: ajaxSync stays the original.
  const other = recorder();
  install(Backbone, other);
  assert.equal(Backbone.ajaxSync, ajax);
  await Backbone.sync('delete', new M({ id: 'b' }), {});
  assert.equal(other.calls.length, 1);
  assert.equal(c.calls.length, 1);
  assert.throws(() => install(undefined, c), /Backbone is not loaded/);
  assert.throws(() => install(Backbone, null), /needs a client/);
});

test('a subscribed collection hears a refusal of its subscription on its error event, and reloads by fetching', async () => {
  const Backbone = { sync: () => {}, Model, Collection };
  let subscriber = null;
  const client = {
    subscribe: (model, s) => {
      subscriber = s;
      return Promise.resolve();
    }
  };
  install(Backbone, client);
  const col = new Collection({ name: 'thing' });
  col.events = [];
  col.trigger = (...args) => col.events.push(args);
  const fetches = [];
  col.fetch = (options) => {
    fetches.push(options);
    return Promise.resolve();
  };
  await col.subscribe({ fetch: false });
  const err = Object.assign(new Error('no'), { code: 'forbidden' });
  subscriber.refused(err);
  assert.deepEqual(col.events, [['error', col, err, { bertsyncSubscribe: true }]]);
  await subscriber.reload();
  assert.deepEqual(fetches, [{ remove: true, bertsyncCatchUp: true }]);
});
