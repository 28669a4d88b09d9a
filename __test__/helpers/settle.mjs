// Bounded waits on promises and conditions: whatever does not come in time
// fails the test instead of hanging it. ava's throwsAsync refuses
// DOMExceptions on Node 20 (they are not native errors there), so rejections
// are taken here too.

/**
 * Settles like `promise`, or rejects with an Error naming `label` once `ms`
 * milliseconds have passed.
 */
export function withTimeout(promise, ms, label) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * The reason `promise` rejects with; fails if it fulfils, or is still
 * pending after `ms`.
 */
export async function rejectionOf(promise, ms = 10_000, label = 'the promise') {
  const fulfilled = Symbol('fulfilled')
  const outcome = await withTimeout(
    promise.then(
      () => fulfilled,
      (reason) => ({ reason }),
    ),
    ms,
    `${label} to reject`,
  )
  if (outcome === fulfilled) throw new Error(`expected ${label} to reject, but it fulfilled`)
  return outcome.reason
}

/** Whether `promise` is still pending after a macrotask turn. */
export async function isPending(promise) {
  const marker = Symbol('pending')
  const result = await Promise.race([
    promise.then(
      () => 'fulfilled',
      () => 'rejected',
    ),
    new Promise((resolve) => setImmediate(() => resolve(marker))),
  ])
  return result === marker
}

/**
 * Checks `predicate` every 10 ms until it holds; rejects after `ms`. Only for
 * states that announce themselves with no event (a promise nobody may attach
 * a handler to, a process's descriptor count).
 */
export async function eventually(predicate, ms, label) {
  const deadline = performance.now() + ms
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms: ${label}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
