// Bounded waits: a promise that does not settle in time fails the test
// instead of hanging it.

/**
 * Settles like `promise`, or rejects with an Error naming `label` once `ms`
 * milliseconds have passed.
 */
export function withTimeout(promise, ms, label) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
