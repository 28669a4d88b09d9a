// Small tools shared by the stress files and their child processes: promise
// outcomes that never throw, descriptor counts, and figures for logs.
import { readdirSync, readlinkSync } from 'node:fs'
import { withTimeout } from '../../helpers/settle.mjs'

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

/**
 * How `promise` settled and how long it took from `since` (performance.now()),
 * never rejecting: { status: 'fulfilled' | 'rejected', value | reason, ms }.
 * Fails (rejects) only if it is still pending after `ms`.
 */
export async function settlement(promise, ms, label, since = performance.now()) {
  const outcome = await withTimeout(
    promise.then(
      (value) => ({ status: 'fulfilled', value }),
      (reason) => ({ status: 'rejected', reason }),
    ),
    ms,
    label,
  )
  return { ...outcome, ms: performance.now() - since }
}
