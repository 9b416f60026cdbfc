#!/usr/bin/env node
// Reference atproto network on loopback: one in-memory PLC directory and N real PDS
// instances (@atproto/pds), driven by JSON-line commands on stdin.
//
// Usage: node network.js --data-dir DIR [--pds-count N] [--crawler URL ...]
//
// stdout carries the protocol only: first one line
//   {"plc": "http://127.0.0.1:P", "pds": ["http://localhost:P1", ...], "adminPassword": "..."}
// then exactly one JSON line per command read from stdin:
//   {"id": 1, "ok": true, ...result} or {"id": 1, "ok": false, "error": "...", "message": "..."}
// Everything else (PDS/PLC logs, diagnostics) goes to stderr. The process exits when
// stdin closes or on SIGTERM/SIGINT, after stopping every server.
'use strict'

// NOTE: route library logs (pino) and any stray console.log to stderr before loading them.
process.env.LOG_DESTINATION = process.env.LOG_DESTINATION || '/dev/stderr'
const writeProtocolLine = process.stdout.write.bind(process.stdout)
process.stdout.write = process.stderr.write.bind(process.stderr)
console.log = console.error

const crypto = require('node:crypto')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const readline = require('node:readline')
const { parseArgs } = require('node:util')

const { AtpAgent } = require('@atproto/api')
const { Secp256k1Keypair } = require('@atproto/crypto')
const pdsLib = require('@atproto/pds')
const plcLib = require('@did-plc/server')

const BIND_HOST = '127.0.0.1'

function emit(obj) {
  writeProtocolLine(JSON.stringify(obj) + '\n')
}

function log(...args) {
  process.stderr.write(`[reference-net] ${args.join(' ')}\n`)
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, BIND_HOST, () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

// Both servers call `app.listen(port)`, which binds every interface; pin them to loopback.
function bindToLoopback(app) {
  const listen = app.listen
  app.listen = (port, ...rest) => listen.call(app, port, BIND_HOST, ...rest)
}

async function startPlc() {
  const port = await freePort()
  const plc = plcLib.PlcServer.create({ db: plcLib.Database.mock(), port })
  bindToLoopback(plc.app)
  await plc.start()
  return { server: plc, url: `http://${BIND_HOST}:${port}` }
}

async function startPds(index, opts) {
  const port = await freePort()
  const dataDirectory = path.join(opts.dataDir, `pds${index}`)
  const blobDir = path.join(dataDirectory, 'blobs')
  fs.mkdirSync(blobDir, { recursive: true })
  const plcRotationKey = await Secp256k1Keypair.create({ exportable: true })
  const env = {
    devMode: true,
    port,
    hostname: 'localhost',
    serviceDid: `did:web:localhost%3A${port}`,
    serviceHandleDomains: [`.pds${index}.test`],
    didPlcUrl: opts.plcUrl,
    dataDirectory,
    blobstoreDiskLocation: blobDir,
    inviteRequired: false,
    rateLimitsEnabled: false,
    disableSsrfProtection: true,
    crawlers: opts.crawlers,
    jwtSecret: crypto.randomBytes(16).toString('hex'),
    adminPassword: opts.adminPassword,
    plcRotationKeyK256PrivateKeyHex: Buffer.from(await plcRotationKey.export()).toString('hex'),
  }
  const cfg = pdsLib.envToCfg(env)
  const secrets = pdsLib.envToSecrets(env)
  const pds = await pdsLib.PDS.create(cfg, secrets)
  bindToLoopback(pds.app)
  await pds.start()
  return { server: pds, url: `http://localhost:${port}`, index, handleDomain: `.pds${index}.test` }
}

class Network {
  constructor(plc, pdses, adminPassword) {
    this.plc = plc
    this.pdses = pdses
    this.adminPassword = adminPassword
    this.accounts = new Map() // did -> { agent, pds }
  }

  pdsFor(ref) {
    if (ref === undefined || ref === null) return this.pdses[0]
    const found =
      typeof ref === 'number' ? this.pdses[ref] : this.pdses.find((p) => p.url === ref)
    if (!found) throw new CommandError('UnknownPds', `no PDS ${JSON.stringify(ref)}`)
    return found
  }

  account(did) {
    const acct = this.accounts.get(did)
    if (!acct) throw new CommandError('UnknownAccount', `no account ${did} created here`)
    return acct
  }

  adminHeaders() {
    const token = Buffer.from(`admin:${this.adminPassword}`).toString('base64')
    return { authorization: `Basic ${token}` }
  }

  async stop() {
    for (const pds of this.pdses) {
      await pds.server.destroy().catch((err) => log('pds destroy failed:', err))
    }
    await this.plc.server.destroy().catch((err) => log('plc destroy failed:', err))
  }
}

class CommandError extends Error {
  constructor(name, message) {
    super(message)
    this.name = name
  }
}

function need(params, ...keys) {
  for (const key of keys) {
    if (params[key] === undefined) throw new CommandError('BadCommand', `missing "${key}"`)
  }
}

function commitOf(data) {
  return { rev: data.commit?.rev, commitCid: data.commit?.cid }
}

// Distinct record bodies for generated load. Each post is liked at most once, because liking a
// subject twice makes the PDS silently delete the older like.
const CUSTOM_COLLECTION = 'com.example.relay.item'

function generatedWrites(count, collections) {
  const writes = []
  for (let n = 0; n < count; n++) {
    const collection = collections[n % collections.length]
    const createdAt = new Date().toISOString()
    if (collection === 'app.bsky.feed.post') {
      const value = { $type: collection, text: `load post ${n}`, createdAt }
      writes.push({ collection, value })
    } else if (collection === 'app.bsky.feed.like') {
      writes.push({ collection, value: null }) // subject filled in by bulkCreate
    } else {
      writes.push({ collection, value: { $type: collection, n, createdAt } })
    }
  }
  return writes
}

const commands = {
  async createAccount(netw, p) {
    need(p, 'handle', 'email', 'password')
    const pds = netw.pdsFor(p.pds)
    const agent = new AtpAgent({ service: pds.url })
    const res = await agent.createAccount({ handle: p.handle, email: p.email, password: p.password })
    netw.accounts.set(res.data.did, { agent, pds })
    return { did: res.data.did, handle: res.data.handle, accessJwt: res.data.accessJwt, pds: pds.url }
  },

  async createRecord(netw, p) {
    need(p, 'did', 'collection', 'record')
    const { agent } = netw.account(p.did)
    const res = await agent.com.atproto.repo.createRecord({
      repo: p.did,
      collection: p.collection,
      rkey: p.rkey,
      record: p.record,
    })
    return { uri: res.data.uri, cid: res.data.cid, ...commitOf(res.data) }
  },

  async putRecord(netw, p) {
    need(p, 'did', 'collection', 'rkey', 'record')
    const { agent } = netw.account(p.did)
    const res = await agent.com.atproto.repo.putRecord({
      repo: p.did,
      collection: p.collection,
      rkey: p.rkey,
      record: p.record,
    })
    return { uri: res.data.uri, cid: res.data.cid, ...commitOf(res.data) }
  },

  async deleteRecord(netw, p) {
    need(p, 'did', 'collection', 'rkey')
    const { agent } = netw.account(p.did)
    const res = await agent.com.atproto.repo.deleteRecord({
      repo: p.did,
      collection: p.collection,
      rkey: p.rkey,
    })
    return commitOf(res.data)
  },

  // writes: [{action: "create"|"update"|"delete", collection, rkey?, value?}]
  async applyWrites(netw, p) {
    need(p, 'did', 'writes')
    const { agent } = netw.account(p.did)
    const types = {
      create: 'com.atproto.repo.applyWrites#create',
      update: 'com.atproto.repo.applyWrites#update',
      delete: 'com.atproto.repo.applyWrites#delete',
    }
    const writes = p.writes.map((w) => {
      if (!types[w.action]) throw new CommandError('BadCommand', `bad action ${w.action}`)
      const write = { $type: types[w.action], collection: w.collection }
      if (w.rkey !== undefined) write.rkey = w.rkey
      if (w.action !== 'delete') write.value = w.value
      return write
    })
    const res = await agent.com.atproto.repo.applyWrites({ repo: p.did, writes })
    const results = (res.data.results ?? []).map((r) => ({ uri: r.uri, cid: r.cid }))
    return { ...commitOf(res.data), results }
  },

  async updateHandle(netw, p) {
    need(p, 'did', 'handle')
    const { agent } = netw.account(p.did)
    await agent.com.atproto.identity.updateHandle({ handle: p.handle })
    return { handle: p.handle }
  },

  async deactivateAccount(netw, p) {
    need(p, 'did')
    const { agent } = netw.account(p.did)
    await agent.com.atproto.server.deactivateAccount({})
    return {}
  },

  async activateAccount(netw, p) {
    need(p, 'did')
    const { agent } = netw.account(p.did)
    await agent.com.atproto.server.activateAccount()
    return {}
  },

  // Moderator takedown through the PDS admin API: #account active=false status=takendown,
  // and back to active when `applied` is false.
  async takedownAccount(netw, p) {
    need(p, 'did')
    const { pds } = netw.account(p.did)
    const applied = p.applied === undefined ? true : Boolean(p.applied)
    const admin = new AtpAgent({ service: pds.url })
    await admin.com.atproto.admin.updateSubjectStatus(
      {
        subject: { $type: 'com.atproto.admin.defs#repoRef', did: p.did },
        takedown: { applied, ref: applied ? 'reference-net' : undefined },
      },
      { headers: netw.adminHeaders(), encoding: 'application/json' },
    )
    return { applied }
  },

  // Deletes the account through the PDS admin API: #account active=false status=deleted.
  async deleteAccount(netw, p) {
    need(p, 'did')
    const { pds } = netw.account(p.did)
    const admin = new AtpAgent({ service: pds.url })
    await admin.com.atproto.admin.deleteAccount(
      { did: p.did },
      { headers: netw.adminHeaders(), encoding: 'application/json' },
    )
    netw.accounts.delete(p.did)
    return {}
  },

  // Load: `count` new records spread round-robin over `collections` (default: a post, a like
  // and a custom-collection record), `batchSize` records per commit. Each like points at a post
  // nobody liked yet from an earlier commit; when there is none, one extra commit creates the
  // missing like targets first (reported as `extraPosts`).
  async bulkCreate(netw, p) {
    need(p, 'did', 'count')
    const { agent } = netw.account(p.did)
    const collections = p.collections ?? ['app.bsky.feed.post', 'app.bsky.feed.like', CUSTOM_COLLECTION]
    const batchSize = Math.max(1, Math.min(200, p.batchSize ?? 1))
    const writes = generatedWrites(p.count, collections)
    const unliked = []
    let rev = null
    let commits = 0
    let extraPosts = 0
    const commit = async (ops) => {
      const res = await agent.com.atproto.repo.applyWrites({
        repo: p.did,
        writes: ops.map((w) => ({
          $type: 'com.atproto.repo.applyWrites#create',
          collection: w.collection,
          value: w.value,
        })),
      })
      commits += 1
      rev = res.data.commit?.rev ?? rev
      ops.forEach((w, i) => {
        if (w.collection === 'app.bsky.feed.post') {
          unliked.push({ uri: res.data.results[i].uri, cid: res.data.results[i].cid })
        }
      })
    }
    for (let start = 0; start < writes.length; start += batchSize) {
      const batch = writes.slice(start, start + batchSize)
      const likes = batch.filter((w) => w.collection === 'app.bsky.feed.like')
      const missing = likes.length - unliked.length
      if (missing > 0) {
        const targets = []
        for (let i = 0; i < missing; i++) {
          const text = `like target ${extraPosts + i}`
          const value = { $type: 'app.bsky.feed.post', text, createdAt: new Date().toISOString() }
          targets.push({ collection: 'app.bsky.feed.post', value })
        }
        extraPosts += missing
        await commit(targets)
      }
      for (const like of likes) {
        const createdAt = new Date().toISOString()
        like.value = { $type: 'app.bsky.feed.like', subject: unliked.shift(), createdAt }
      }
      await commit(batch)
    }
    return { count: p.count, commits, rev, extraPosts }
  },
}

async function handleLine(netw, line) {
  let msg
  try {
    msg = JSON.parse(line)
  } catch (err) {
    emit({ id: null, ok: false, error: 'BadJson', message: String(err) })
    return
  }
  const id = msg.id ?? null
  const fn = Object.prototype.hasOwnProperty.call(commands, msg.cmd) ? commands[msg.cmd] : null
  if (!fn) {
    emit({ id, ok: false, error: 'UnknownCommand', message: `unknown cmd ${JSON.stringify(msg.cmd)}` })
    return
  }
  try {
    const result = await fn(netw, msg)
    emit({ id, ok: true, ...result })
  } catch (err) {
    log(`command ${msg.cmd} failed:`, err && err.stack ? err.stack : err)
    emit({
      id,
      ok: false,
      error: err?.error ?? err?.name ?? 'Error',
      message: String(err?.message ?? err),
      status: err?.status,
    })
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      'pds-count': { type: 'string', default: '1' },
      crawler: { type: 'string', multiple: true, default: [] },
    },
  })
  if (!values['data-dir']) throw new Error('--data-dir is required')
  const pdsCount = Number.parseInt(values['pds-count'], 10)
  if (!(pdsCount >= 1)) throw new Error(`bad --pds-count ${values['pds-count']}`)
  const dataDir = path.resolve(values['data-dir'])
  fs.mkdirSync(dataDir, { recursive: true })
  const adminPassword = crypto.randomBytes(12).toString('hex')

  const plc = await startPlc()
  const pdses = []
  for (let i = 0; i < pdsCount; i++) {
    pdses.push(await startPds(i, { dataDir, plcUrl: plc.url, crawlers: values.crawler, adminPassword }))
  }
  const netw = new Network(plc, pdses, adminPassword)

  let stopping = null
  const stop = (why) => {
    if (!stopping) {
      log(`stopping (${why})`)
      stopping = netw.stop().finally(() => process.exit(0))
    }
    return stopping
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))

  emit({ plc: plc.url, pds: pdses.map((p) => p.url), adminPassword })

  // Commands run one at a time, in order, so a caller's sequence maps onto commits in order.
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
  let chain = Promise.resolve()
  rl.on('line', (line) => {
    if (!line.trim()) return
    chain = chain.then(() => handleLine(netw, line))
  })
  rl.on('close', () => {
    chain.then(() => stop('stdin closed'))
  })
}

main().catch((err) => {
  log('fatal:', err && err.stack ? err.stack : err)
  process.exit(1)
})
