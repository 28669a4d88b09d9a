// Child processes for tests: every child gets a hard kill timer and is killed
// at teardown, its output is collected, and its exit (code or signal) is a
// promise, so a hang or a native crash fails the test instead of blocking it.
import { spawn } from 'node:child_process'
import { withTimeout } from './settle.mjs'

/**
 * Spawns `command args`. Returns { child, output: { stdout, stderr }, exited,
 * running(), waitFor(pattern, ms), jsonLines() }; `exited` resolves
 * { code, signal } once the child has ended and all its output is in. The
 * child is SIGKILLed after `killAfterMs` and at teardown if it is still
 * running.
 */
export function spawnChild(t, command, args, { killAfterMs = 120_000, env, cwd } = {}) {
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: env ? { ...process.env, ...env } : process.env,
    cwd,
  })
  const output = { stdout: '', stderr: '' }
  child.stdout.setEncoding('utf8').on('data', (chunk) => (output.stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk) => (output.stderr += chunk))
  const running = () => child.exitCode === null && child.signalCode === null
  const killer = setTimeout(() => {
    if (running()) child.kill('SIGKILL')
  }, killAfterMs)
  const exited = new Promise((resolve) => {
    // 'close' comes after the last output, unlike 'exit'.
    child.on('close', (code, signal) => {
      clearTimeout(killer)
      resolve({ code, signal })
    })
    child.on('error', (error) => {
      clearTimeout(killer)
      resolve({ code: null, signal: null, error })
    })
  })
  t.teardown(() => {
    clearTimeout(killer)
    if (running()) child.kill('SIGKILL')
  })
  return {
    child,
    output,
    exited,
    running,
    /** Resolves the first stdout line matching `pattern` (a RegExp), as its match. */
    waitFor(pattern, ms = 10_000) {
      return withTimeout(
        new Promise((resolve, reject) => {
          const check = () => {
            const match = pattern.exec(output.stdout)
            if (match === null) return
            child.stdout.off('data', check)
            resolve(match)
          }
          child.stdout.on('data', check)
          // 'close' comes after the last output, unlike 'exit'.
          child.once('close', () => reject(new Error(`the child exited before printing ${pattern}: ${output.stderr}`)))
          child.once('error', reject)
          check()
        }),
        ms,
        `child output ${pattern}`,
      )
    },
    /** Every complete stdout line parsed as JSON (other lines skipped). */
    jsonLines() {
      return output.stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line))
    },
  }
}
