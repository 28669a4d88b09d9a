// Assertions and small tools shared by the stress files.
import { readdirSync, readlinkSync } from 'node:fs'
import { WebSocketStream, WebSocketError } from '../../../index.mjs'
import { withTimeout } from '../../helpers/timeout.mjs'

/** An unclean-close WebSocketError as SPEC.md §1.10 describes it. */
export function assertWebSocketError(t, error, closeCode, label = 'error') {
  t.true(error instanceof WebSocketError, `${label} is a WebSocketError (got ${error?.name}: ${error?.message})`)
  t.true(error instanceof DOMException, `${label} is a DOMException`)
  t.is(error?.name, 'WebSocketError', `${label}.name`)
  t.is(error?.closeCode, closeCode, `${label}.closeCode`)
  t.not(error?.message, '', `${label} has a message naming the cause`)
}

/** Opens a connection, closed (quietly) at teardown. */
export async function openStream(t, url, options, ms = 10_000) {
  const wss = new WebSocketStream(url, options)
  t.teardown(() => {
    try {
      wss.close()
    } catch {}
  })
  const info = await withTimeout(wss.opened, ms, `opened ${url}`)
  return { wss, ...info }
}

/** A promise that is observed at once (no unhandled rejection), for asserting later. */
export function observed(promise) {
  promise.catch(() => {})
  return promise
}

/** The number of open file descriptors of this process. */
export function openFds() {
  return readdirSync('/proc/self/fd').length
}

/** The number of open sockets of this process. */
export function openSockets() {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')
    } catch {
      return false
    }
  }).length
}

/** How a child process of the stress suite reports to its test: one JSON line on stdout. */
export function printJsonLine(object) {
  process.stdout.write(`${JSON.stringify(object)}\n`)
}

export const MiB = 1 << 20

/** Milliseconds with one decimal, for logs. */
export const ms = (value) => `${value.toFixed(1)} ms`

/** Collects settle times under a label and reports the longest. */
export class SettleTimes {
  entries = []
  add(label, ms) {
    this.entries.push({ label, ms })
    return ms
  }
  longest() {
    return this.entries.reduce((max, entry) => (entry.ms > (max?.ms ?? -1) ? entry : max), null)
  }
}

/**
 * How `promise` stands after `ms`: { status: 'fulfilled', value },
 * { status: 'rejected', reason } or { status: 'pending' }, so a test can
 * assert on a promise that must not hang without failing on a timeout error.
 */
export async function standing(promise, ms) {
  let timer
  const pending = new Promise((resolve) => {
    timer = setTimeout(resolve, ms, { status: 'pending' })
  })
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ status: 'fulfilled', value }),
        (reason) => ({ status: 'rejected', reason }),
      ),
      pending,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Polls `predicate` every 10 ms until it holds; rejects after `ms`. */
export async function eventually(predicate, ms, label) {
  const deadline = performance.now() + ms
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms: ${label}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
