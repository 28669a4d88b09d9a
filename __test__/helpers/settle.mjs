// Waiting on promises in specs. ava's throwsAsync refuses DOMExceptions on
// Node 20 (they are not native errors there), so rejections are taken here.

/** The reason `promise` rejects with; fails if it fulfils or takes longer than `ms`. */
export async function rejectionOf(promise, ms = 10_000) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms)
  })
  try {
    await Promise.race([promise, timeout])
  } catch (reason) {
    if (reason instanceof Error && /^still pending after/.test(reason.message)) throw reason
    return reason
  } finally {
    clearTimeout(timer)
  }
  throw new Error('expected the promise to reject, but it fulfilled')
}
