// The stress suite (npm run test:stress): faults, limits, floods, hostile
// callers, leaks, lifecycle and interop. Its files end in .stress.mjs so the
// main suite's `__test__/**/*.spec.mjs` glob never picks them up. Tests spawn
// child processes and measure memory and time, so files run two at a time,
// each in its own process.
export default {
  files: ['__test__/stress/**/*.stress.mjs'],
  timeout: '240s',
  concurrency: 2,
  workerThreads: false,
}
