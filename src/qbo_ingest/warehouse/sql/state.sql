-- State schema of qbo-ingest: the per-day ledger, the runs, the OAuth token store and the CDC checks.
-- Not read by analysts. Applied by qbo_ingest.warehouse.schema (`qbo-ingest db init`); idempotent.
CREATE SCHEMA IF NOT EXISTS qbo_ingest;

-- One row per (realm, entity, UTC day): the unit of retry, of --resume and of `qbo-ingest status`.
CREATE TABLE IF NOT EXISTS qbo_ingest.ledger (
    realm_id      varchar     NOT NULL,
    entity        varchar     NOT NULL,          -- QBO name, e.g. Invoice
    day           date        NOT NULL,          -- UTC day [day 00:00Z, day+1 00:00Z)
    status        varchar     NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    rows_fetched  integer     NOT NULL DEFAULT 0,
    rows_upserted integer     NOT NULL DEFAULT 0,
    pages         integer     NOT NULL DEFAULT 0,
    requests      integer     NOT NULL DEFAULT 0,
    retries       integer     NOT NULL DEFAULT 0,
    chars_escaped integer     NOT NULL DEFAULT 0,  -- NUL / lone surrogates jsonb cannot hold, stored escaped
    attempts      integer     NOT NULL DEFAULT 0,
    started_at    timestamptz,
    finished_at   timestamptz,
    seconds       double precision,
    error         text,
    intuit_tid    varchar,                       -- last intuit_tid seen: support asks for it
    run_id        varchar,
    PRIMARY KEY (realm_id, entity, day)
);
-- Columns added after the first release: an existing ledger gets them from `qbo-ingest db init`.
ALTER TABLE qbo_ingest.ledger ADD COLUMN IF NOT EXISTS chars_escaped integer NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS ledger_status_idx ON qbo_ingest.ledger (status, entity, day);

-- One row per command run (backfill, retry-failed, demo ...).
CREATE TABLE IF NOT EXISTS qbo_ingest.runs (
    run_id         varchar     PRIMARY KEY,
    command        varchar     NOT NULL,
    realm_id       varchar,
    entities       text[]      NOT NULL DEFAULT '{}',
    range_start    date,
    range_end      date,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    status         varchar     NOT NULL DEFAULT 'running'
                               CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
    requests       integer     NOT NULL DEFAULT 0,
    days_succeeded integer,
    days_failed    integer,
    error          text
);
CREATE INDEX IF NOT EXISTS runs_started_idx ON qbo_ingest.runs (started_at);

-- The OAuth token store: the newest refresh token per QBO company and app (qbo_ingest.source.auth).
CREATE TABLE IF NOT EXISTS qbo_ingest.oauth_tokens (
    realm_id            text        NOT NULL,
    client_id           text        NOT NULL,
    refresh_token       text,
    refresh_expires_at  timestamptz,
    access_token        text,
    access_obtained_at  timestamptz,
    access_expires_at   timestamptz,
    seed_sha256         text,
    refreshes           bigint      NOT NULL DEFAULT 0,
    rotations           bigint      NOT NULL DEFAULT 0,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (realm_id, client_id)
);
COMMENT ON TABLE qbo_ingest.oauth_tokens IS
    'OAuth tokens of qbo-ingest: the newest refresh token per QBO company and app. Secret: restrict access.';

-- When the incremental sync last asked CDC for deletions, per realm and entity.
CREATE TABLE IF NOT EXISTS qbo_ingest.cdc_state (
    realm_id   varchar     NOT NULL,
    entity     varchar     NOT NULL,
    checked_at timestamptz NOT NULL,   -- changedSince for the next CDC request
    PRIMARY KEY (realm_id, entity)
);

-- QBO calls per realm, calendar month (UTC) and kind, as QBO would meter them: query, count (a
-- COUNT(*) query), cdc, batch (one per batch item), report, companyinfo; token refreshes are kept
-- apart under kind 'token' (the OAuth endpoint is not a metered CorePlus call). Written by the
-- engine as requests are sent (qbo_ingest.warehouse.meter); `qbo-ingest status` shows the month.
CREATE TABLE IF NOT EXISTS qbo_ingest.api_calls (
    realm_id   varchar     NOT NULL,
    month      date        NOT NULL,          -- first day of the calendar month, UTC
    kind       varchar     NOT NULL,
    calls      bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (realm_id, month, kind)
);
