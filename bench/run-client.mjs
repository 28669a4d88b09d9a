// Runs one client process for one scenario, bounded in time, and reads back
// its result line. Never throws: a failure is a result with a status.

import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const MAX_CAPTURE = 64 * 1024

/**
 * @returns {Promise<{ status: 'ok' | 'timeout' | 'error', result?: object, message?: string,
 *   wallSeconds: number, lingered: boolean }>}
 */
export function runClient(clientId, scenario, serverUrl) {
  const script = fileURLToPath(new URL(`./clients/${clientId}.mjs`, import.meta.url))
  const job = JSON.stringify({ scenario, server: serverUrl })
  const started = performance.now()
  // --expose-gc: the memory scenarios collect garbage before they read RSS.
  const command = [process.execPath, '--expose-gc', script, job]
  let launch = command
  if (scenario.fileDescriptors) {
    const limits = openFileLimits()
    if (limits.hard < scenario.fileDescriptors) {
      const message = `needs ${scenario.fileDescriptors} file descriptors, the hard limit (ulimit -Hn) is ${limits.hard}`
      return Promise.resolve({ status: 'error', message, wallSeconds: 0, lingered: false })
    }
    // Node cannot raise its own RLIMIT_NOFILE: a shell raises the soft limit
    // (up to the hard one) and then becomes the client.
    if (limits.soft < scenario.fileDescriptors) {
      launch = ['sh', '-c', 'ulimit -S -n "$0" && exec "$@"', String(scenario.fileDescriptors), ...command]
    }
  }
  const child = spawn(launch[0], launch.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => {
    if (stdout.length < MAX_CAPTURE) stdout += chunk
  })
  child.stderr.on('data', (chunk) => {
    if (stderr.length < MAX_CAPTURE) stderr += chunk
  })
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, scenario.budgetSeconds * 1000)

  return new Promise((resolve) => {
    child.once('error', (error) => {
      clearTimeout(timer)
      resolve({ status: 'error', message: error.message, wallSeconds: 0, lingered: false })
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      const wallSeconds = (performance.now() - started) / 1000
      const lingered = stderr.includes('LINGER:')
      const line = /^RESULT (.*)$/m.exec(stdout)
      if (timedOut) {
        resolve({ status: 'timeout', message: `killed after ${scenario.budgetSeconds} s`, wallSeconds, lingered })
      } else if (code === 0 && line) {
        resolve({ status: 'ok', result: JSON.parse(line[1]), wallSeconds, lingered })
      } else {
        resolve({ status: 'error', message: `exit ${code ?? signal}: ${crashReason(stderr)}`, wallSeconds, lingered })
      }
    })
  })
}

/** This shell's soft and hard limits on open files (ulimit -Sn, -Hn); Infinity for unlimited. */
function openFileLimits() {
  const { stdout } = spawnSync('sh', ['-c', 'ulimit -S -n; ulimit -H -n'], { encoding: 'utf8' })
  const [soft, hard] = stdout
    .trim()
    .split('\n')
    .map((text) => (text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text)))
  return { soft, hard }
}

/** The line of a client's stderr that says why it failed. */
function crashReason(stderr) {
  const lines = stderr.split('\n').map((line) => line.trim())
  const reported = lines.find((line) => line.startsWith('ERROR: '))
  if (reported) return reported.slice('ERROR: '.length)
  // An uncaught error: Node prints the source line, the error, the stack and its version.
  return lines.find((line) => /^[\w.]*(Error|Exception)\b/.test(line)) ?? lines.filter(Boolean).pop() ?? 'no output'
}
