// The stress suite's child processes: its fixture scripts and its server
// (fixtures/server.mjs), run through helpers/child-process.mjs.
import { fileURLToPath } from 'node:url'
import { spawnChild } from '../../helpers/child-process.mjs'

export const fixture = (name) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

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
