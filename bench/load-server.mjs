// Builds the Rust load server when needed and runs it in its own process.

import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const manifest = fileURLToPath(new URL('./load-server/Cargo.toml', import.meta.url))
const sources = fileURLToPath(new URL('./load-server/src/', import.meta.url))
const binary = fileURLToPath(new URL('./load-server/target/release/websocketstream-load-server', import.meta.url))

/** Builds the binary if it is missing or older than its sources (a cold build takes a minute or two). */
export function ensureLoadServerBuilt() {
  if (existsSync(binary) && !sourcesNewerThanBinary()) return
  process.stderr.write('building the load server (cargo build --release) ...\n')
  const build = spawnSync('cargo', ['build', '--release', '--manifest-path', manifest], {
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 15 * 60 * 1000,
  })
  if (build.error) throw new Error(`cannot run cargo: ${build.error.message}`)
  if (build.status !== 0) throw new Error(`building the load server failed (exit ${build.status})`)
}

function sourcesNewerThanBinary() {
  if (!existsSync(binary)) return true
  const built = statSync(binary).mtimeMs
  const files = [manifest, ...readdirSync(sources).map((name) => `${sources}${name}`)]
  return files.some((file) => statSync(file).mtimeMs > built)
}

/**
 * Starts the server on a free port of 127.0.0.1. It exits by itself when our
 * end of its stdin closes, so it never outlives this process, even a killed one.
 * @returns {Promise<{ url: string, alive: () => boolean, stop: () => void }>}
 */
export async function startLoadServer() {
  const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'] })
  let exited = false
  child.once('exit', () => {
    exited = true
  })
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the load server did not start within 10 s')), 10_000)
    let output = ''
    child.stdout.on('data', (chunk) => {
      output += chunk
      const match = /^listening (\d+)$/m.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
    })
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`the load server exited (${code}) before listening`)))
  })
  return {
    url: `ws://127.0.0.1:${port}`,
    alive: () => !exited,
    stop: () => {
      child.stdin.end()
      setTimeout(() => child.kill('SIGKILL'), 2000).unref()
    },
  }
}
