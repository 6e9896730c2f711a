// constants.js names every default and magic number of the client, so that
// none hides in the code that uses it. Options a page may change are in
// DEFAULTS (docs/client.md lists them); the rest are fixed by the wire
// format or by how browsers behave, and say why beside them.

/** VERSION is the client's version, exported as `Bertsync.version`. */
export const VERSION = '0.2.0';

/** STATE holds the values of `client.state`. */
export const STATE = Object.freeze({
  connecting: 'connecting',
  online: 'online',
  offline: 'offline'
});

/** TRANSPORT holds the names of the built-in transports, best first. */
export const TRANSPORT = Object.freeze({
  websocket: 'websocket',
  eventsource: 'eventsource',
  longpoll: 'longpoll'
});

/** FRAMES holds the values of the `frames` option. */
export const FRAMES = Object.freeze({
  // raw BERT bytes
  binary: 'binary',
  // one character per byte, as BERT-JS and bullet.js send
  text: 'text'
});

/**
 * DEFAULTS are the options of `new Client(options)`; docs/client.md says
 * what each means.
 */
export const DEFAULTS = Object.freeze({
  url: '/bullet',
  apiRoot: '/api',
  transports: Object.freeze([TRANSPORT.websocket, TRANSPORT.eventsource, TRANSPORT.longpoll]),
  frames: FRAMES.binary,
  // ms a transport gets to open
  openTimeout: 5000,
  // ms before a request without a reply fails
  requestTimeout: 30000,
  // ms a read or write right after connect() waits for the first connection before answering locally
  readWait: 3000,
  // reconnect delay doubles from here ...
  backoffMin: 100,
  // ... up to here, each with BACKOFF_JITTER
  backoffMax: 5000,
  // ms between WebSocket probes while on a fallback (0: never)
  probeInterval: 15000,
  // ms between WebSocket pings (0: never)
  pingInterval: 20000,
  // a Storage (undefined: localStorage; null: memory only)
  storage: undefined,
  // key prefix in the storage
  prefix: 'bertsync:',
  // the token (a JWT, say) every connection presents; null: anonymous
  token: null,
  // () => Promise of a new token (or null: go on anonymous), called when the server refuses the token
  renewToken: null,
  // ms before a JWT's exp that renewToken is called ahead (0: only when refused)
  renewBefore: 30000
});

// BACKOFF_JITTER is the spread of every randomised delay: a delay d
// becomes uniformly d*(1-J) .. d*(1+J), so that the tabs of a restarted
// server do not all come back in the same millisecond.
export const BACKOFF_JITTER = 0.5;

// PING_TEXT and PONG_TEXT are the WebSocket control messages the Bullet
// endpoint answers (text frames that do not start with the BERT magic).
export const PING_TEXT = 'ping';
export const PONG_TEXT = 'pong';

// PING_MISSES is how many ping intervals may pass without a word from the
// server before the WebSocket counts as dead: a half-open TCP connection
// says nothing, and only silence tells.
export const PING_MISSES = 2.5;

// RETIRE_TIMEOUT is how long a transport replaced by a better one stays
// open for the replies still owed on it.
export const RETIRE_TIMEOUT = 5000;

// AUTH_RENEW_TRIES is how many times in a row the client renews a token
// the server refuses (each try after the first after the reconnect
// backoff) before it stops and reports: a renewToken that keeps handing
// out tokens the server refuses must not make the client hammer it.
export const AUTH_RENEW_TRIES = 3;

// RENEW holds the reasons the client gives renewToken.
export const RENEW = Object.freeze({
  // the server refused the token: 401, or a WebSocket closed with 4401
  refused: 'refused',
  // the token is a JWT whose exp is near (renewBefore)
  expiring: 'expiring'
});

// TOKEN_PARAM is the query parameter that carries the token where a
// browser cannot set a header: WebSocket, EventSource, long-poll GETs.
export const TOKEN_PARAM = 'token';

// REDACTED stands for the token in every message the client makes out of
// text that might hold it (a URL in a browser's error message).
export const REDACTED = '[token]';

// TIMER_MAX is the longest delay setTimeout takes (2^31-1 ms, 24.8 days);
// a longer one fires at once.
export const TIMER_MAX = 2147483647;

// VERDICT holds what the client does with a push, by its Seq against the
// stream's position (streams.js).
export const VERDICT = Object.freeze({
  // the next one (or the stream has no position yet): applied
  apply: 'apply',
  // at or below the position: seen already, dropped
  duplicate: 'duplicate',
  // beyond the next: applied, and the subscribers reload what they missed
  gap: 'gap',
  // beyond the next while a resubscribe is unanswered: dropped, the reply decides
  held: 'held'
});

// HEARTBEAT_INTERVAL is how often a tab stamps its queue as alive and looks
// for the queues of closed tabs.
export const HEARTBEAT_INTERVAL = 5000;

// ORPHAN_AGE is how long a tab's heartbeat may be silent before its queue
// counts as orphaned, where the browser has no Web Locks. It is long
// because browsers throttle the timers of hidden tabs to once a minute.
export const ORPHAN_AGE = 5 * 60 * 1000;

// KEY names the client's entries in the storage, each after the prefix
// option: a tab's queue and heartbeat, the cache, and the Web Locks.
export const KEY = Object.freeze({
  // + tab id: that tab's offline queue, a JSON array
  queue: 'queue:',
  // + tab id: that tab's last heartbeat, ms since the epoch
  alive: 'alive:',
  // + model (+ '/' + id): see cache.js
  cache: 'cache:',
  // + tab id: the Web Lock a live tab holds
  tabLock: 'tab:',
  // the Web Lock held while adopting orphaned queues
  adoptLock: 'adopt',
  // written and removed once to see whether the storage works
  probe: 'probe'
});

// SESSION_TAB_KEY is where a tab keeps its id in sessionStorage, which
// survives a reload of the tab and is copied into a duplicated tab.
export const SESSION_TAB_KEY = 'bertsync:tab';

// CACHE_FORMAT marks the cache's per-model index entry (see cache.js), so
// that the whole-list format of client 0.1 is told apart and migrated.
export const CACHE_FORMAT = 2;

// ID_RANDOM_BYTES is how many random bytes a new id carries after its time
// part (each a base-36 digit): ids made offline in two tabs do not clash.
export const ID_RANDOM_BYTES = 8;

// CHANNEL_PARAM is the query parameter that gives each page a session of
// its own on the HTTP transports (see transports/http.js).
export const CHANNEL_PARAM = 'channel';

// EVENTSOURCE_QUERY asks the server for one base64 "data:" line per
// message: an EventSource cannot carry CR bytes as they are.
export const EVENTSOURCE_QUERY = 'bertsync=1';

// POLL_BUSTER is the query parameter of each long-poll GET (bullet.js
// adds it too), so that no cache between answers a poll.
export const POLL_BUSTER = '_';

// ---------------------------------------------------------------------
// The wire format (docs/protocol.md, docs/codec.md).

/** MAGIC is the first byte of every BERT term. */
export const MAGIC = 131;

/** TAG holds the external term format's tags the codec reads or writes. */
export const TAG = Object.freeze({
  NEW_FLOAT: 70,
  BIT_BINARY: 77,
  COMPRESSED: 80,
  SMALL_INTEGER: 97,
  INTEGER: 98,
  FLOAT: 99,
  ATOM: 100,
  SMALL_TUPLE: 104,
  LARGE_TUPLE: 105,
  NIL: 106,
  STRING: 107,
  LIST: 108,
  BINARY: 109,
  SMALL_BIG: 110,
  LARGE_BIG: 111,
  SMALL_ATOM: 115,
  MAP: 116,
  ATOM_UTF8: 118,
  SMALL_ATOM_UTF8: 119
});

// MAX_DEPTH bounds how deep a term may nest, both ways: deeper input is an
// error, not a stack overflow.
export const MAX_DEPTH = 512;

// MAX_ATOM is the longest atom Erlang has, in characters (ATOM_EXT) or
// bytes (SMALL_ATOM_UTF8_EXT).
export const MAX_ATOM = 255;

// The integer ranges of the external format: SMALL_INTEGER_EXT holds
// 0..255, INTEGER_EXT a signed 32-bit number, SMALL_BIG_EXT up to 255
// digit bytes.
export const SMALL_INTEGER_MAX = 255;
export const INTEGER_MIN = -2147483648;
export const INTEGER_MAX = 2147483647;
export const SMALL_BIG_MAX_DIGITS = 255;

// SMALL_TUPLE_MAX is the largest arity SMALL_TUPLE_EXT holds; larger
// tuples are LARGE_TUPLE_EXT.
export const SMALL_TUPLE_MAX = 255;

// LATIN1_MAX is the largest character code that is one byte: of an
// ATOM_EXT name, and of a binary string (binstring.js).
export const LATIN1_MAX = 255;

// FLOAT_TEXT_SIZE is the length of a FLOAT_EXT's NUL-padded "%.20e" text.
export const FLOAT_TEXT_SIZE = 31;

// COMPRESSED_HEADER is the size of a compressed term's header: the magic,
// tag 80 and the 32-bit size of the term once inflated.
export const COMPRESSED_HEADER = 6;

// STRING_CHUNK is how many bytes go to String.fromCharCode at once:
// spreading a large array as arguments overflows the stack.
export const STRING_CHUNK = 8192;

// WRITER_INITIAL_SIZE is the encoder's first buffer size, doubled as needed.
export const WRITER_INITIAL_SIZE = 256;

// BERT names the atoms of the BERT complex types ({bert, nil} and so on).
export const BERT = Object.freeze({
  tag: 'bert',
  nil: 'nil',
  true: 'true',
  false: 'false',
  dict: 'dict',
  time: 'time',
  regex: 'regex'
});

// The parts of {bert, time, MegaSeconds, Seconds, MicroSeconds}.
export const MEGA = 1e6;
export const MS_PER_SECOND = 1000;
export const MICROS_PER_MS = 1000;

// REGEX_FLAGS maps the re options of {bert, regex, Source, Options} to the
// flags of a JavaScript RegExp.
export const REGEX_FLAGS = Object.freeze({ caseless: 'i', multiline: 'm', dotall: 's' });

/** SYNC is the first atom of every request, reply and push. */
export const SYNC = 'sync';

/** METHOD holds the request methods (docs/protocol.md). */
export const METHOD = Object.freeze({
  create: 'create',
  read: 'read',
  update: 'update',
  patch: 'patch',
  delete: 'delete',
  subscribe: 'subscribe',
  unsubscribe: 'unsubscribe',
  broadcast: 'broadcast'
});

/** PUSH holds the events of pushes, `{sync, Event, Model, Props, Seq}`. */
export const PUSH = Object.freeze({
  created: 'created',
  updated: 'updated',
  deleted: 'deleted',
  broadcast: 'broadcast'
});

/**
 * STREAM holds the keys of the stream position in subscribe's Props and
 * reply (docs/client.md, Streams): `[{since, S}, {epoch, E}]` asks to
 * resume, `[{seq, Top}, {epoch, Epoch}, {recovered, Bool}]` answers.
 */
export const STREAM = Object.freeze({
  seq: 'seq',
  epoch: 'epoch',
  since: 'since',
  recovered: 'recovered',
  filtered: 'filtered'
});

/** REPLY holds the second atom of a reply. */
export const REPLY = Object.freeze({ ok: 'ok', error: 'error' });

/** CODE holds the error codes the client branches on (docs/protocol.md has all). */
export const CODE = Object.freeze({
  badRequest: 'bad_request',
  notFound: 'not_found',
  conflict: 'conflict',
  tooLarge: 'too_large',
  rateLimited: 'rate_limited',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  unavailable: 'unavailable',
  internal: 'internal'
});

// UPLOAD_PART is the multipart field the server reads a file from.
export const UPLOAD_PART = 'file';

// MESSAGE_EXCERPT is how much of an unexpected text answer an error quotes.
export const MESSAGE_EXCERPT = 200;

// HTTP statuses the HTTP transports branch on.
export const HTTP_NO_CONTENT = 204;
export const HTTP_UNAUTHORIZED = 401;
export const HTTP_NOT_FOUND = 404;
export const HTTP_SERVER_ERROR = 500;

// WS_OPEN is WebSocket.OPEN, named here because a page may replace the
// WebSocket constructor (tests do) with one that lacks the constant.
export const WS_OPEN = 1;

// WS_CLOSE_UNAUTHORIZED is the close code the server ends a WebSocket with
// when its token expires (docs/client.md, Authentication).
export const WS_CLOSE_UNAUTHORIZED = 4401;
