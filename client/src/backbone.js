// backbone.js binds a Client to Backbone: a Backbone.sync that sends each
// call as a request, and Collection#subscribe/unsubscribe,
// Model#upload/broadcast. It touches Backbone only when install() is
// called, and the client it binds is the caller's.

import { METHOD, PUSH } from './constants.js';
import { newId } from './ids.js';

function lastSegment(url) {
  if (!url) return null;
  const path = String(url).split('?')[0].replace(/\/+$/, '');
  const seg = path.slice(path.lastIndexOf('/') + 1);
  return seg ? decodeURIComponent(seg) : null;
}

function result(obj, prop) {
  const v = obj && obj[prop];
  return typeof v === 'function' ? v.call(obj) : v;
}

function isCollection(obj) {
  return Boolean(obj) && obj.models !== undefined;
}

/**
 * modelName finds the model type of a Backbone model or collection: its
 * `name`; for a model, then its collection's `name`, its `urlRoot`'s last
 * segment, its collection's url's last segment; for a collection, then its
 * model class's `name` or `urlRoot`, its url's last segment.
 */
export function modelName(obj) {
  const n = result(obj, 'name');
  if (n) return String(n);
  if (isCollection(obj)) {
    const proto = obj.model && obj.model.prototype;
    if (proto && proto.name && typeof proto.name === 'string') return proto.name;
    if (proto && proto.urlRoot) {
      const s = lastSegment(result(proto, 'urlRoot'));
      if (s) return s;
    }
    const s = lastSegment(result(obj, 'url'));
    if (s) return s;
  } else if (obj) {
    if (obj.collection && obj.collection.name) return String(result(obj.collection, 'name'));
    const s = lastSegment(result(obj, 'urlRoot'));
    if (s) return s;
    if (obj.collection) {
      const s2 = lastSegment(result(obj.collection, 'url'));
      if (s2) return s2;
    }
  }
  throw new Error('bertsync: cannot tell the model type: set `name` (or urlRoot/url) on the model or collection');
}

// applyPush applies a push to a subscribed collection, marking the
// changes {bertsyncPush: true} so that views can tell them from local ones.
function applyPush(c, event, props, seq) {
  const id = props && props.id;
  switch (event) {
    case PUSH.created:
    case PUSH.updated: {
      const m = id !== undefined ? c.get(id) : null;
      if (m) m.set(m.parse(props, { bertsyncPush: true }), { bertsyncPush: true });
      else c.add(props, { parse: true, merge: true, bertsyncPush: true });
      break;
    }
    case PUSH.deleted:
      if (id !== undefined) c.remove(id, { bertsyncPush: true });
      break;
    case PUSH.broadcast:
      // A model's events bubble up to its collection: trigger once.
      if (id !== undefined && c.get(id)) c.get(id).trigger('broadcast', props, seq);
      else c.trigger('broadcast', props, seq);
      break;
  }
  c.trigger('push', event, props, seq, c);
}

// subscribers holds each collection's subscriber (see subscriptions.js),
// so that unsubscribe finds the one subscribe made.
const subscribers = new WeakMap();

function subscriberOf(c) {
  let s = subscribers.get(c);
  if (!s) {
    s = {
      collection: c,
      push: (event, props, seq) => applyPush(c, event, props, seq),
      reload: () => c.fetch({ remove: true, bertsyncCatchUp: true }),
      // A subscription the server refused on a new connection: told as
      // Backbone tells a failed request, on the collection's error event.
      refused: (err) => c.trigger('error', c, err, { bertsyncSubscribe: true })
    };
    subscribers.set(c, s);
  }
  return s;
}

// lateFor tells a live model how its write landed after the write's
// promise had settled offline: the server's attributes, or the refusal.
function lateFor(model, method) {
  return {
    landed(res) {
      if (method === METHOD.delete || res === null || typeof res !== 'object' || Array.isArray(res)) return;
      model.set(model.parse(res, {}), {});
    },
    refused(err) {
      model.trigger('error', model, err, {});
    }
  };
}

function toGetter(client) {
  if (typeof client === 'function') return client;
  if (!client) throw new Error('bertsync: install needs a client');
  return () => client;
}

/**
 * createSync returns a Backbone.sync(method, model, options) that sends
 * through getClient(), a function returning the Client (or a Client).
 */
export function createSync(client) {
  const getClient = toGetter(client);
  return function sync(method, model, options) {
    options = options || {};
    const c = getClient();
    const name = modelName(model);
    const idAttr = model.idAttribute || 'id';
    const live = isCollection(model) ? null : model;
    const late = live ? lateFor(live, method) : undefined;
    let promise;
    switch (method) {
      case METHOD.read:
        promise = c.read(name, live ? model.id : undefined);
        break;
      case METHOD.create: {
        // The client names new models itself, so that writes queued
        // offline can refer to a model before the server has seen it.
        let attrs = options.attrs || model.toJSON(options);
        if (attrs[idAttr] === undefined || attrs[idAttr] === null) {
          const id = newId();
          attrs = Object.assign({}, attrs, { [idAttr]: id });
          // Not silent: a collection indexes its models by id on change:id,
          // and the push of this very create must find the model.
          if (model.set) model.set(idAttr, id);
        }
        if (idAttr !== 'id') attrs = Object.assign({ id: attrs[idAttr] }, attrs);
        promise = c.write(METHOD.create, name, attrs, late);
        break;
      }
      case METHOD.update:
      case METHOD.patch:
      case METHOD.delete: {
        const props = method === METHOD.delete ? {} : Object.assign({}, options.attrs || model.toJSON(options));
        props.id = model.id;
        promise = c.write(method, name, props, late);
        break;
      }
      default:
        promise = Promise.reject(new Error('bertsync: unknown sync method ' + method));
    }
    if (options.broadcast && (method === METHOD.create || method === METHOD.update || method === METHOD.patch)) {
      promise = promise.then((res) => {
        const data = Object.assign({}, model.toJSON ? model.toJSON() : {}, res || {});
        return c.write(METHOD.broadcast, name, data).then(() => res);
      });
    }
    promise.then(
      (res) => {
        if (options.success) options.success(res);
      },
      (err) => {
        if (options.error) options.error(err);
      }
    );
    if (model.trigger) model.trigger('request', model, promise, options);
    return promise;
  };
}

/**
 * install binds Backbone to client (a Client, or a function returning
 * one): it keeps the original Backbone.sync as Backbone.ajaxSync, sets
 * Backbone.sync (to sync when given, else createSync(client)), and adds
 * Collection#subscribe/unsubscribe and Model#upload/broadcast. It returns
 * Backbone. Installing again binds the new client.
 */
export function install(Backbone, client, sync) {
  if (!Backbone) throw new Error('bertsync: Backbone is not loaded');
  const getClient = toGetter(client);
  sync = sync || createSync(getClient);
  if (Backbone.sync === sync) return Backbone;
  if (!Backbone.ajaxSync) Backbone.ajaxSync = Backbone.sync;
  Backbone.sync = sync;

  Backbone.Collection.prototype.subscribe = function (options) {
    options = options || {};
    return getClient()
      .subscribe(modelName(this), subscriberOf(this))
      .then(() => {
        if (options.fetch === false) return undefined;
        return new Promise((resolve, reject) => {
          this.fetch({ success: () => resolve(this), error: (c, e) => reject(e) });
        });
      });
  };
  Backbone.Collection.prototype.unsubscribe = function () {
    return getClient().unsubscribe(modelName(this), subscriberOf(this));
  };
  Backbone.Model.prototype.upload = function (options) {
    options = options || {};
    if (this.id === undefined || this.id === null) return Promise.reject(new Error('bertsync: save the model before uploading'));
    return getClient()
      .upload(modelName(this), this.id, options.file, options.fileName)
      .then(
        (res) => {
          this.set({ file: res.file });
          this.trigger('sync', this, res, options);
          if (options.success) options.success(res);
          return res;
        },
        (err) => {
          this.trigger('error', this, err, options);
          if (options.error) options.error(err);
          throw err;
        }
      );
  };
  Backbone.Model.prototype.broadcast = function (data) {
    const props = Object.assign({}, data || this.toJSON());
    if (this.id !== undefined) props.id = this.id;
    return getClient().write(METHOD.broadcast, modelName(this), props);
  };
  return Backbone;
}
