#!/usr/bin/env node
// Verifying firehose consumer: @atproto/sync's Firehose with full verification, pointed at a
// local PLC, plus the checks that library leaves out. One JSON line per received event and one
// per error on stdout; logs on stderr.
//
// Usage: node consumer.js --service ws://HOST:PORT --plc http://127.0.0.1:P
//                         [--cursor N] [--pds http://localhost:P ...]
//
// stdout lines:
//   {"status": "connected"|"closed", ...}        subscription lifecycle
//   {"info": NAME, "message": ...}                #info frames (e.g. OutdatedCursor)
//   {"seq": N, "type": "commit"|"sync"|"identity"|"account", "did": ..., ...}
//   {"error": NAME, "message": ..., "seq"?: N, "did"?: ...}
// Every event line is printed only after the event was processed; events are processed one at
// a time in arrival order. `verified` on an event line is true when every check below passed for
// it (a failed check also prints an error line).
//
// Checks per event:
//   commit   (@atproto/sync) every op's MST proof against the commit signed by the repo key
//            resolved from PLC; (here) CAR root == `commit`, commit.did/rev match the event,
//            signature verified even for empty commits, no op silently dropped.
//   sync     (here) CAR root is a commit for `did` with the event's rev, signed by the repo key.
//   identity (@atproto/sync) DID document resolved; handle resolved back to the DID
//            (`verifiedHandle`, absent when it does not round-trip: not an error).
//   account  (@atproto/sync) status is one of the known values.
// Not checked (assert these from the lines): seq order, the prevData/since chain, rev order.
'use strict'

process.env.LOG_DESTINATION = process.env.LOG_DESTINATION || '/dev/stderr'
const writeProtocolLine = process.stdout.write.bind(process.stdout)
process.stdout.write = process.stderr.write.bind(process.stderr)
console.log = console.error

const http = require('node:http')
const { parseArgs } = require('node:util')

const ws = require('ws')
const { IdResolver } = require('@atproto/identity')
const repo = require('@atproto/repo')
const { Firehose } = require('@atproto/sync')

function emit(obj) {
  writeProtocolLine(JSON.stringify(obj) + '\n')
}

function errorLine(err, extra = {}) {
  const causes = []
  let cause = err?.cause
  while (cause && causes.length < 5) {
    causes.push(String(cause?.message ?? cause))
    cause = cause.cause
  }
  emit({
    error: err?.name ?? 'Error',
    message: String(err?.message ?? err),
    ...(causes.length ? { cause: causes.join(' <- ') } : {}),
    ...extra,
  })
}

// NOTE: announce each established WebSocket. ws-client opens sockets with `new ws.WebSocket`
// at call time, so a subclass on the shared module object sees every connection.
class AnnouncedWebSocket extends ws.WebSocket {
  constructor(url, ...rest) {
    super(url, ...rest)
    this.once('open', () => emit({ status: 'connected', url: String(url) }))
  }
}
ws.WebSocket = AnnouncedWebSocket

// `.test` handles have no DNS: ask the given PDSes' /.well-known/atproto-did with the handle as
// the Host header, the same HTTPS-well-known method a real resolver uses.
function wellKnownDid(pdsUrl, handle) {
  const url = new URL('/.well-known/atproto-did', pdsUrl)
  return new Promise((resolve) => {
    const req = http.request(
      url,
      { headers: { host: handle }, timeout: 3000 },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk) => (body += chunk))
        res.on('end', () => {
          const did = body.trim()
          resolve(res.statusCode === 200 && did.startsWith('did:') ? did : undefined)
        })
      },
    )
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(undefined))
    req.end()
  })
}

function makeIdResolver(plcUrl, pdsUrls) {
  const idResolver = new IdResolver({ plcUrl })
  const resolveHandle = idResolver.handle.resolve.bind(idResolver.handle)
  idResolver.handle.resolve = async (handle) => {
    if (!handle.endsWith('.test')) return resolveHandle(handle)
    for (const pdsUrl of pdsUrls) {
      const did = await wellKnownDid(pdsUrl, handle)
      if (did) return did
    }
    return undefined
  }
  return idResolver
}

// One event at a time, in arrival order; remembers the last processed seq as the cursor to
// resume from (the README quirk: a bare `getCursor` option is sent as a function).
class SequentialRunner {
  constructor(startCursor) {
    this.cursor = startCursor
    this.chain = Promise.resolve()
  }

  getCursor() {
    return this.cursor
  }

  trackEvent(did, seq, handler) {
    this.chain = this.chain.then(async () => {
      try {
        await handler()
      } finally {
        this.cursor = seq
      }
    })
    return this.chain
  }
}

async function verifySignedCommit(idResolver, did, rev, carBytes, expectedRoot) {
  const car = await repo.readCarWithRoot(carBytes)
  if (expectedRoot && !car.root.equals(expectedRoot)) {
    throw new Error(`CAR root ${car.root} != commit ${expectedRoot}`)
  }
  const { obj } = await repo.getAndParseByDef(car.blocks, car.root, repo.def.versionedCommit)
  const commit = repo.ensureV3Commit(obj)
  if (commit.did !== did) throw new Error(`commit did ${commit.did} != ${did}`)
  if (commit.rev !== rev) throw new Error(`commit rev ${commit.rev} != event rev ${rev}`)
  let key = await idResolver.did.resolveAtprotoKey(did)
  let ok = await repo.verifyCommitSig(commit, key)
  if (!ok) {
    key = await idResolver.did.resolveAtprotoKey(did, true)
    ok = await repo.verifyCommitSig(commit, key)
  }
  if (!ok) throw new Error(`bad commit signature for ${did} rev ${rev}`)
  return { root: car.root, data: commit.data }
}

class VerificationError extends Error {
  constructor(message, options) {
    super(message, options)
    this.name = 'VerificationError'
  }
}

function describe(evt) {
  const t = evt.$type ?? ''
  const type = t.slice(t.lastIndexOf('#') + 1)
  const line = { seq: evt.seq, type, time: evt.time }
  if (type === 'commit') {
    Object.assign(line, {
      did: evt.repo,
      rev: evt.rev,
      since: evt.since ?? null,
      commit: evt.commit ? String(evt.commit) : null,
      prevData: evt.prevData ? String(evt.prevData) : null,
      tooBig: Boolean(evt.tooBig),
      ops: (evt.ops ?? []).map((op) => ({
        action: op.action,
        path: op.path,
        cid: op.cid ? String(op.cid) : null,
        ...(op.prev ? { prev: String(op.prev) } : {}),
      })),
      blocksBytes: evt.blocks?.length ?? 0,
    })
  } else if (type === 'sync') {
    Object.assign(line, { did: evt.did, rev: evt.rev, blocksBytes: evt.blocks?.length ?? 0 })
  } else if (type === 'identity') {
    Object.assign(line, { did: evt.did, handle: evt.handle ?? null })
  } else if (type === 'account') {
    Object.assign(line, { did: evt.did, active: evt.active, status: evt.status ?? null })
  }
  return line
}

// Wraps one event's processing: the library's parse/verify plus the extra checks, producing the
// event line once everything for it is done.
async function processEvent(idResolver, evt, parse, frameErrors) {
  const line = describe(evt)
  const parsed = await parse(evt)
  try {
    if (line.type === 'commit') {
      const { data } = await verifySignedCommit(idResolver, evt.repo, evt.rev, evt.blocks, evt.commit)
      line.data = String(data)
      if (parsed.length !== line.ops.length) {
        throw new Error(`${line.ops.length - parsed.length} of ${line.ops.length} ops did not verify`)
      }
    } else if (line.type === 'sync') {
      const { root, data } = await verifySignedCommit(idResolver, evt.did, evt.rev, evt.blocks, null)
      line.commit = String(root)
      line.data = String(data)
    } else if (line.type === 'identity') {
      line.verifiedHandle = parsed[0]?.handle ?? null
    } else if (line.type === 'account' && parsed.length !== 1) {
      throw new Error(`account event not accepted (status ${JSON.stringify(evt.status)})`)
    }
  } catch (err) {
    frameErrors.push(new VerificationError(err.message, { cause: err }))
  }
  for (const err of frameErrors) errorLine(err, { seq: evt.seq, did: line.did })
  line.verified = frameErrors.length === 0
  emit(line)
  return parsed
}

function startFirehose(opts, runner, state) {
  let frameErrors = []
  const firehose = new Firehose({
    service: opts.service,
    idResolver: opts.idResolver,
    runner,
    unauthenticatedCommits: false,
    unauthenticatedHandles: false,
    subscriptionReconnectDelay: 1000,
    handleEvent: async () => {},
    onError: (err) => {
      // Errors raised while an event is processed belong to that event's line; a dropped
      // subscription is not the event's fault, even when it happens mid-event.
      const subscriptionError = err?.message === 'error on firehose subscription'
      if (state.inEvent && !subscriptionError) frameErrors.push(err)
      else errorLine(err, seqOf(err))
    },
  })
  // NOTE: `parseEvt` is where the library turns one frame into verified events; wrapping it
  // gives one line per frame (the library emits one event per op and none for empty commits).
  const parse = firehose.parseEvt.bind(firehose)
  firehose.parseEvt = async (evt) => {
    state.inEvent = true
    frameErrors = []
    try {
      return await processEvent(opts.idResolver, evt, parse, frameErrors)
    } finally {
      state.inEvent = false
    }
  }
  const validate = firehose.sub.opts.validate
  firehose.sub.opts.validate = (value) => {
    if (value && typeof value.$type === 'string' && value.$type.endsWith('#info')) {
      emit({ info: value.name, message: value.message ?? null })
    }
    return validate(value)
  }
  return firehose
}

function seqOf(err) {
  const evt = err?.event ?? err?.value
  return evt && typeof evt.seq === 'number' ? { seq: evt.seq } : {}
}

async function main() {
  const { values } = parseArgs({
    options: {
      service: { type: 'string' },
      plc: { type: 'string' },
      cursor: { type: 'string' },
      pds: { type: 'string', multiple: true, default: [] },
    },
  })
  if (!values.service || !values.plc) throw new Error('--service and --plc are required')
  const cursor = values.cursor === undefined ? undefined : Number.parseInt(values.cursor, 10)
  const opts = {
    service: values.service.replace(/\/+$/, ''),
    idResolver: makeIdResolver(values.plc, values.pds),
  }
  const runner = new SequentialRunner(cursor)
  const state = { inEvent: false, stopped: false, firehose: null }

  const stop = async () => {
    if (state.stopped) return
    state.stopped = true
    await state.firehose?.destroy()
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.stdin.resume()
  process.stdin.on('end', stop)

  // The library stops for good when the server closes the stream cleanly; resubscribe from the
  // last processed seq, as a long-lived consumer would.
  while (!state.stopped) {
    state.firehose = startFirehose(opts, runner, state)
    await state.firehose.start()
    await runner.chain
    if (state.stopped) break
    emit({ status: 'closed', cursor: runner.getCursor() ?? null })
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
}

main().catch((err) => {
  process.stderr.write(`[consumer] fatal: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
