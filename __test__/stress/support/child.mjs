// Child processes for the stress suite: every child gets a hard kill timer
// and is killed at teardown, its output is collected, and its exit (code or
// signal) is a promise, so a hang or a native crash fails the test instead of
// blocking it.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { withTimeout } from '../../helpers/settle.mjs'

export const fixture = (name) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

/**
 * Spawns `command args`. Returns { child, output: { stdout, stderr }, exited,
 * waitFor(pattern, ms), lines() }. The child is SIGKILLed after `killAfterMs`
 * and at teardown if it is still running.
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
    child.on('exit', (code, signal) => {
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

/** Runs a fixture script with this Node. */
export function nodeChild(t, name, args = [], { nodeArgs = [], ...options } = {}) {
  return spawnChild(t, process.execPath, [...nodeArgs, fixture(name), ...args], options)
}

/** Starts fixtures/server.mjs in `mode` as a child; resolves once it prints its port. */
export async function serverChild(t, mode, { args = [], ...options } = {}) {
  const server = nodeChild(t, 'server.mjs', [mode, ...args], options)
  const [, port] = await server.waitFor(/^PORT (\d+)$/m, 10_000)
  return { ...server, port: Number(port), url: `ws://127.0.0.1:${port}/` }
}
