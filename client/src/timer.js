// timer.js holds the reconnect timer: when to try again after a failure,
// counting the tries since the last success.

import { BACKOFF_JITTER } from './constants.js';

/**
 * jitter spreads a delay over ms*(1-BACKOFF_JITTER) .. ms*(1+BACKOFF_JITTER);
 * random is Math.random unless a test passes its own.
 */
export function jitter(ms, random = Math.random) {
  return Math.round(ms * (1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * random()));
}

/**
 * backoff returns the delay before try number tries (1, 2, ...): min
 * doubled each try, at most max, jittered.
 */
export function backoff(tries, min, max, random = Math.random) {
  return jitter(Math.min(max, min * Math.pow(2, Math.max(0, tries - 1))), random);
}

/**
 * ReconnectTimer calls callback once after a delay of timerCalc(tries),
 * where tries counts the calls since the last reset: each failure
 * schedules the next try a little later. scheduleTimeout replaces a
 * pending call; reset forgets the tries and cancels it.
 */
export class ReconnectTimer {
  constructor(callback, timerCalc) {
    this.callback = callback;
    this.timerCalc = timerCalc;
    this.timer = null;
    this.tries = 0;
  }

  /** reset cancels a pending call and starts counting tries from zero. */
  reset() {
    this.tries = 0;
    this.cancel();
  }

  /** cancel drops a pending call and keeps the count. */
  cancel() {
    clearTimeout(this.timer);
    this.timer = null;
  }

  /** pending tells whether a call is scheduled. */
  get pending() {
    return this.timer !== null;
  }

  /** scheduleTimeout schedules the next call and returns its delay in ms. */
  scheduleTimeout() {
    this.cancel();
    const delay = this.timerCalc(this.tries + 1);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tries += 1;
      this.callback();
    }, delay);
    return delay;
  }
}
