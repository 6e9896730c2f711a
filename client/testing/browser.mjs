// browser.mjs holds stand-ins for the browser APIs the built-in transports
// use (WebSocket, EventSource, fetch), so that unit tests see exactly what
// each request carries: its URL, method and headers. install() puts them
// on globalThis and returns a function that puts the originals back.

/** FakeWebSocket records every socket made; behave(ws) decides, after a microtask, how each handshake ends. */
export class FakeWebSocket {
  static made = [];
  static behave = (ws) => ws.accept();

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeWebSocket.made.push(this);
    queueMicrotask(() => FakeWebSocket.behave(this));
  }

  send(data) {
    this.sent.push(data);
  }

  close() {
    this.readyState = 3;
  }

  /** accept completes the handshake. */
  accept() {
    this.readyState = 1;
    this.onopen({});
  }

  /** refuse fails the handshake the way a browser shows an HTTP 401 (or any failure): code 1006, no status. */
  refuse() {
    this.end(1006, '');
  }

  /** end closes the socket with code and reason. */
  end(code, reason) {
    this.readyState = 3;
    this.onclose({ code, reason });
  }
}

/** FakeEventSource records every stream made; behave(es) decides how each opens. */
export class FakeEventSource {
  static made = [];
  static behave = (es) => es.accept();

  constructor(url, init) {
    this.url = url;
    this.init = init;
    this.readyState = 0;
    FakeEventSource.made.push(this);
    queueMicrotask(() => FakeEventSource.behave(this));
  }

  close() {
    this.readyState = 2;
  }

  accept() {
    this.readyState = 1;
    this.onopen({});
  }

  /** refuse fails it as a browser does for an HTTP error: closed, an error event, no status. */
  refuse() {
    this.readyState = 2;
    this.onerror({});
  }
}

/**
 * FakeFetch records every request ({url, method, headers, body}) and
 * answers with answer(request), a Response or a Promise of one (throw for
 * a network failure). A GET that answer leaves pending is aborted by its
 * signal, as a real one is.
 */
export class FakeFetch {
  constructor(answer) {
    this.requests = [];
    this.answer = answer;
    this.fetch = (url, init = {}) => {
      const req = { url: String(url), method: init.method || 'GET', headers: init.headers || {}, body: init.body };
      this.requests.push(req);
      return new Promise((resolve, reject) => {
        if (init.signal) init.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        Promise.resolve()
          .then(() => this.answer(req))
          .then(resolve, reject);
      });
    };
  }
}

/** hang is an answer that never comes (a long-poll held by the server). */
export function hang() {
  return new Promise(() => {});
}

/** install puts the stand-ins on globalThis and returns the function that takes them off. */
export function install(fetcher) {
  const saved = { WebSocket: globalThis.WebSocket, EventSource: globalThis.EventSource, fetch: globalThis.fetch };
  FakeWebSocket.made = [];
  FakeWebSocket.behave = (ws) => ws.accept();
  FakeEventSource.made = [];
  FakeEventSource.behave = (es) => es.accept();
  globalThis.WebSocket = FakeWebSocket;
  globalThis.EventSource = FakeEventSource;
  globalThis.fetch = fetcher.fetch;
  return () => Object.assign(globalThis, saved);
}
