-- QuickBooks' own reports, as received (issue 18): one table per report, one row per (realm, month, basis),
-- and the state of each load. Applied by qbo_ingest.warehouse.schema (`qbo-ingest db init`); idempotent.
-- The tie-out table (qbo_ingest.tieout) holds the last comparison of the warehouse's statements with them.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS qbo_ingest;

DO $qbo_reports$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['profit_and_loss', 'balance_sheet', 'trial_balance', 'general_ledger',
                             'transaction_list', 'aged_receivables', 'aged_payables'] LOOP
        EXECUTE format($ddl$
            CREATE TABLE IF NOT EXISTS raw.%I (
                realm_id        varchar   NOT NULL,
                period_start    date      NOT NULL,   -- the month: start_date (aging: first of the month)
                period_end      date      NOT NULL,   -- end_date (aging: report_date)
                basis           varchar   NOT NULL CHECK (basis IN ('Accrual', 'Cash')),
                report_name     varchar   NOT NULL,   -- QBO's name, e.g. ProfitAndLoss
                params          jsonb     NOT NULL,   -- the query parameters sent
                payload         jsonb     NOT NULL,   -- the report JSON exactly as received
                ingested_at_utc timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
                PRIMARY KEY (realm_id, period_start, basis)
            )$ddl$, 'qb_report_' || t);
        EXECUTE format('COMMENT ON TABLE raw.%I IS %L', 'qb_report_' || t,
                       'QuickBooks Online report JSON as received, one row per (realm_id, month, basis). '
                       'Loaded by qbo-ingest reports.');
    END LOOP;
END
$qbo_reports$;

-- One row per (realm, report, month, basis): what `qbo-ingest reports` fetched (the report ledger).
CREATE TABLE IF NOT EXISTS qbo_ingest.report_loads (
    realm_id     varchar     NOT NULL,
    report       varchar     NOT NULL,          -- e.g. ProfitAndLoss
    period_start date        NOT NULL,
    basis        varchar     NOT NULL,
    status       varchar     NOT NULL CHECK (status IN ('succeeded', 'failed')),
    requests     integer     NOT NULL DEFAULT 0,
    finished_at  timestamptz NOT NULL DEFAULT now(),
    error        text,
    PRIMARY KEY (realm_id, report, period_start, basis)
);

-- The last tie-out per (realm, statement, basis, month, account): the warehouse's figure next to QBO's.
CREATE TABLE IF NOT EXISTS qbo_ingest.tieout (
    realm_id     varchar     NOT NULL,
    statement    varchar     NOT NULL,          -- ProfitAndLoss, BalanceSheet, TrialBalance
    basis        varchar     NOT NULL,
    month        date        NOT NULL,          -- first day of the month
    account      varchar     NOT NULL,          -- account Id, or a row label (Net Income, Retained Earnings)
    account_name varchar,
    warehouse    numeric(18, 2) NOT NULL,
    qbo          numeric(18, 2) NOT NULL,
    difference   numeric(18, 2) NOT NULL,
    checked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (realm_id, statement, basis, month, account)
);
