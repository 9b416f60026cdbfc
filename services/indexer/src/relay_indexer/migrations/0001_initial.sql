-- Initial schema. The indexer service owns every table here; other services reach them only
-- through the indexer's gRPC API (relay.indexer.v1), never with SQL of their own.

CREATE TABLE hosts (
    id              BIGSERIAL PRIMARY KEY,
    hostname        TEXT NOT NULL UNIQUE,            -- normalised (lower-case), may carry :port in dev mode
    status          TEXT NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'idle', 'offline', 'throttled', 'banned')),
    cursor          BIGINT NOT NULL DEFAULT 0,       -- last upstream seq acknowledged by JetStream
    account_count   BIGINT NOT NULL DEFAULT 0,
    account_limit   BIGINT NOT NULL DEFAULT 0,       -- 0 = use the relay default
    trusted         BOOLEAN NOT NULL DEFAULT FALSE,
    no_tls          BOOLEAN NOT NULL DEFAULT FALSE,  -- ws:// (dev mode only)
    rate_limits     JSONB,                           -- per-host overrides (per second/hour/day)
    failures        INTEGER NOT NULL DEFAULT 0,      -- consecutive connection failures
    last_error      TEXT,
    last_seen_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX hosts_status_idx ON hosts (status);

CREATE TABLE accounts (
    did             TEXT PRIMARY KEY,
    host_id         BIGINT REFERENCES hosts (id),
    handle          TEXT,                            -- only when the DID document confirms it
    local_status    TEXT NOT NULL DEFAULT 'active'   -- the relay's own decision (takedown wins)
                    CHECK (local_status IN ('active', 'takendown', 'throttled')),
    upstream_status TEXT NOT NULL DEFAULT 'active',  -- as the PDS last reported it (#account)
    desynchronized  BOOLEAN NOT NULL DEFAULT FALSE,  -- sync v1.1 chain broke; cleared by a valid #sync
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX accounts_host_idx ON accounts (host_id);

-- The last verified commit per account: what the next #commit's prevData must chain from.
CREATE TABLE repo_state (
    did             TEXT PRIMARY KEY REFERENCES accounts (did) ON DELETE CASCADE,
    rev             TEXT NOT NULL,
    commit_cid      TEXT NOT NULL,
    data_cid        TEXT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Banning `example.com` bans every host under it (`a.b.example.com`).
CREATE TABLE domain_bans (
    suffix          TEXT PRIMARY KEY,
    reason          TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Operator settings that must survive restarts (requestCrawl on/off, new hosts per day, ...).
CREATE TABLE relay_settings (
    key             TEXT PRIMARY KEY,
    value           JSONB NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Collection-index backfill: one job, many work items (an NSID to import, or a host to crawl).
CREATE TABLE backfill_jobs (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('import', 'crawl')),
    source          TEXT,                            -- the relay to import from (kind = import)
    state           TEXT NOT NULL DEFAULT 'running'
                    CHECK (state IN ('running', 'paused', 'done', 'failed')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE backfill_items (
    job_id          BIGINT NOT NULL REFERENCES backfill_jobs (id) ON DELETE CASCADE,
    item            TEXT NOT NULL,                   -- NSID (import) or hostname (crawl)
    cursor          TEXT,                            -- resume point; NULL = not started
    done            BOOLEAN NOT NULL DEFAULT FALSE,
    dids_seen       BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, item)
);
