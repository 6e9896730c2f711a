// events.js is the small event emitter the client and the script build's
// `Bertsync` object share. It has Backbone.Events' calling conventions
// (on/off/once/trigger, a context argument, the "all" event), so that
// Backbone's listenTo works on it, without needing Backbone.

/** Emitter calls the handlers registered for an event, then those of "all". */
export class Emitter {
  /** on registers fn(...args) for event name, called with this = ctx (default: the emitter). */
  on(name, fn, ctx) {
    const handlers = this._handlers || (this._handlers = new Map());
    if (!handlers.has(name)) handlers.set(name, []);
    handlers.get(name).push({ fn, ctx });
    return this;
  }

  /** off removes fn from name; without fn every handler of name; without name every handler. */
  off(name, fn) {
    const handlers = this._handlers;
    if (!handlers) return this;
    if (!name) handlers.clear();
    else if (!fn) handlers.delete(name);
    else if (handlers.has(name)) handlers.set(name, handlers.get(name).filter((h) => h.fn !== fn && h.fn.original !== fn));
    return this;
  }

  /** once is on for one call. */
  once(name, fn, ctx) {
    const wrap = (...args) => {
      this.off(name, wrap);
      return fn.apply(ctx || this, args);
    };
    wrap.original = fn;
    return this.on(name, wrap, ctx);
  }

  /**
   * trigger calls name's handlers with args, then the "all" handlers with
   * name and args. A handler that throws does not stop the others: its
   * error is rethrown outside, where the page's error handling sees it.
   */
  trigger(name, ...args) {
    const handlers = this._handlers;
    if (!handlers) return this;
    for (const h of (handlers.get(name) || []).slice()) safeCall(h.fn, h.ctx || this, args);
    if (name !== 'all') for (const h of (handlers.get('all') || []).slice()) safeCall(h.fn, h.ctx || this, [name, ...args]);
    return this;
  }
}

function safeCall(fn, ctx, args) {
  try {
    fn.apply(ctx, args);
  } catch (e) {
    setTimeout(() => {
      throw e;
    });
  }
}
