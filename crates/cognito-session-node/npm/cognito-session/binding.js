'use strict'
// Loads the native addon for this machine: the per-platform package npm installed through
// optionalDependencies (chosen by os, cpu and libc), or a local build next to this file
// (`cognito-session.<platform>-<arch>-<libc>.node`, written by scripts/node-build.sh).
const { existsSync } = require('node:fs')
const { join } = require('node:path')

function libc() {
  if (process.platform !== 'linux') return ''
  const report = process.report && process.report.getReport()
  const header = report && (typeof report === 'string' ? JSON.parse(report) : report).header
  return header && header.glibcVersionRuntime ? '-gnu' : '-musl'
}

const target = `${process.platform}-${process.arch}${libc()}`
const local = join(__dirname, `cognito-session.${target}.node`)
const supported = ['linux-x64-gnu', 'linux-arm64-gnu']

function load() {
  if (existsSync(local)) return require(local)
  try {
    return require(`cognito-session-${target}`)
  } catch (error) {
    const hint = supported.includes(target)
      ? `its package cognito-session-${target} is not installed: install with optional dependencies ` +
        '(not --omit=optional); when installing on another system for Lambda, add ' +
        `--os=linux --cpu=${process.arch} --libc=glibc to npm install`
      : `cognito-session is built for ${supported.join(' and ')} (AWS Lambda's Node.js runtimes)`
    throw new Error(`cognito-session has no native addon for ${target}: ${hint} (${error.message})`)
  }
}

module.exports = load()
