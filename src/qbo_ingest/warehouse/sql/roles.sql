-- Least-privilege roles for qbo-ingest, applied by `qbo-ingest db init` (qbo_ingest.warehouse.schema.init_db;
-- the compose `init` service runs that command). Run as an admin, after the schemas and tables exist.
-- Idempotent.
--
-- Parameters arrive as transaction-local settings (set_config(..., true)), so no name or password
-- is ever spliced into this text by the caller; format(%I / %L) quotes them here:
--   qbo.loader_role, qbo.loader_password, qbo.analyst_role, qbo.analyst_password
-- An empty password leaves an existing role's password unchanged (a new role then has none).
--
-- loader  : LOGIN; USAGE on raw + SELECT/INSERT/UPDATE on its tables (no CREATE, no DELETE, no DROP:
--           it does not own them); USAGE on the state schema qbo_ingest + SELECT/INSERT/UPDATE/DELETE
--           on its tables and sequences; TEMP on the database (the per-page COPY staging table).
--           Tables created later by this admin get the same grants (ALTER DEFAULT PRIVILEGES).
-- analyst : LOGIN; USAGE on raw + SELECT on its tables. Nothing on the state schema (it holds the
--           OAuth token store).
-- both    : USAGE on schema analytics (the dbt marts) + SELECT on its tables, now and later; the loader
--           also CREATE there (it runs dbt), and the analyst reads what the loader's dbt creates.
DO $qbo_roles$
DECLARE
    loader      text := nullif(current_setting('qbo.loader_role', true), '');
    loader_pw   text := nullif(current_setting('qbo.loader_password', true), '');
    analyst     text := nullif(current_setting('qbo.analyst_role', true), '');
    analyst_pw  text := nullif(current_setting('qbo.analyst_password', true), '');
    r           text;
BEGIN
    IF loader IS NULL OR analyst IS NULL THEN
        RAISE EXCEPTION 'qbo.loader_role and qbo.analyst_role must be set before roles.sql';
    END IF;
    IF loader = analyst THEN
        RAISE EXCEPTION 'loader and analyst roles must differ (both are %)', loader;
    END IF;
    IF loader = current_user OR analyst = current_user THEN
        RAISE EXCEPTION 'run roles.sql as an admin other than the roles it creates (current user %)', current_user;
    END IF;

    FOREACH r IN ARRAY ARRAY[loader, analyst] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I', r);
        END IF;
        EXECUTE format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', r);
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), r);
    END LOOP;
    IF loader_pw IS NOT NULL THEN
        EXECUTE format('ALTER ROLE %I WITH PASSWORD %L', loader, loader_pw);
    END IF;
    IF analyst_pw IS NOT NULL THEN
        EXECUTE format('ALTER ROLE %I WITH PASSWORD %L', analyst, analyst_pw);
    END IF;

    -- loader: raw
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %I', current_database(), loader);
    EXECUTE format('GRANT USAGE ON SCHEMA raw TO %I', loader);
    EXECUTE format('REVOKE CREATE ON SCHEMA raw FROM %I', loader);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA raw TO %I', loader);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA raw GRANT SELECT, INSERT, UPDATE ON TABLES TO %I', loader);
    -- loader: state schema (ledger, runs, token store)
    EXECUTE format('GRANT USAGE ON SCHEMA qbo_ingest TO %I', loader);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA qbo_ingest TO %I', loader);
    EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA qbo_ingest TO %I', loader);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA qbo_ingest GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', loader);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA qbo_ingest GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO %I', loader);

    -- the dbt marts (schema analytics): the loader builds them (`qbo-ingest models build`, a scheduled step)
    -- and runs the tie-out; the analyst reads them, including every table dbt creates or replaces later.
    EXECUTE 'CREATE SCHEMA IF NOT EXISTS analytics';
    EXECUTE format('GRANT USAGE, CREATE ON SCHEMA analytics TO %I', loader);
    EXECUTE format('GRANT USAGE ON SCHEMA analytics TO %I', analyst);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO %I, %I', loader, analyst);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO %I, %I', loader, analyst);
    BEGIN  -- needs membership in the loader role (a superuser has it); else dbt's `readers` grants do it
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA analytics GRANT SELECT ON TABLES TO %I',
                       loader, analyst);
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'analytics: run qbo-ingest models build --grant % (the marts to the analyst)', analyst;
    END;

    -- analyst: read raw only
    EXECUTE format('GRANT USAGE ON SCHEMA raw TO %I', analyst);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA raw TO %I', analyst);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA raw GRANT SELECT ON TABLES TO %I', analyst);
END
$qbo_roles$;
