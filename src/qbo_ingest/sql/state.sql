-- State schema of qbo-ingest: the per-day ledger and the runs table. Not read by analysts.
-- Applied by warehouse.ensure_schema (and so by `qbo-ingest db init`); idempotent.
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
    source_count  integer,                       -- COUNT(*) at QBO for the day, when asked
    attempts      integer     NOT NULL DEFAULT 0,
    started_at    timestamptz,
    finished_at   timestamptz,
    seconds       double precision,
    error         text,
    intuit_tid    varchar,                       -- last intuit_tid seen: support asks for it
    run_id        varchar,
    PRIMARY KEY (realm_id, entity, day)
);
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
                               CHECK (status IN ('running', 'succeeded', 'failed', 'partial', 'interrupted')),
    requests       integer     NOT NULL DEFAULT 0,
    days_succeeded integer,
    days_failed    integer,
    error          text
);
CREATE INDEX IF NOT EXISTS runs_started_idx ON qbo_ingest.runs (started_at);
