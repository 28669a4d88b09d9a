// Records the consumer test's checks: one PASS/FAIL line each as it is
// decided, the details of a failure (or of everything with VERBOSE=1)
// indented under it, and a closing count line.

const verbose = process.env.VERBOSE === '1'
const results = []

function indent(text, limit = 6000) {
  let body = String(text).trimEnd()
  // Keep the end: that is where test runners and tsc put the verdict.
  if (body.length > limit) body = `[… ${body.length - limit} characters cut …]\n${body.slice(-limit)}`
  return body
    .split('\n')
    .map((line) => `    | ${line}`)
    .join('\n')
}

/**
 * Records a check.
 * @param {string} name what a consumer relies on, in a few words
 * @param {boolean} ok
 * @param {string} [summary] one line shown after PASS/FAIL (timings, sizes, the cause)
 * @param {string} [details] the evidence (a command's output), shown on FAIL or with VERBOSE=1
 */
export function record(name, ok, summary = '', details = '') {
  results.push({ name, ok })
  console.log(`${ok ? 'PASS' : 'FAIL'}  ${name}${summary ? ` (${summary})` : ''}`)
  if (details && (!ok || verbose)) console.log(indent(details))
}

/** Notes that are not checks (sizes, versions, where things are). */
export function note(message) {
  console.log(`      ${message}`)
}

export function failedCount() {
  return results.filter((result) => !result.ok).length
}

/** The closing line, in the plain `N passed, N failed` form CI logs are read for. */
export function summaryLine() {
  const failed = failedCount()
  return `consumer: ${results.length - failed} passed, ${failed} failed`
}
