import Postgres

/// Every Postgres schema change of Switchboard, in order. Append only.
public enum SchemaMigrations {
    public static let all: [Migration] = [
        Migration(1, "queue probe", """
            CREATE TABLE queue_probe (
                run text NOT NULL,
                n bigint NOT NULL,
                executions integer NOT NULL DEFAULT 1,
                first_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (run, n));
            """),
        Migration(2, "tenants, credentials, import requests, imported calls", """
            CREATE TABLE tenants (
                id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
                name text NOT NULL,
                time_zone text NOT NULL DEFAULT 'UTC',
                created_at timestamptz NOT NULL DEFAULT now());
            -- Each tenant's data key, wrapped by a master key from configuration (envelope encryption).
            CREATE TABLE tenant_keys (
                tenant_id text PRIMARY KEY REFERENCES tenants (id),
                master_key_id text NOT NULL,
                wrapped_key text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                rotated_at timestamptz);
            CREATE TABLE import_requests (
                id bigserial PRIMARY KEY,
                tenant_id text NOT NULL REFERENCES tenants (id),
                platform text NOT NULL,
                credentials text NOT NULL,          -- sealed with the tenant's data key; never returned
                from_date date NOT NULL,
                to_date date NOT NULL CHECK (to_date >= from_date),
                estimated_calls integer NOT NULL CHECK (estimated_calls >= 0),
                urgency text NOT NULL CHECK (urgency IN ('standard', 'onboarding', 'deal', 'retention')),
                requested_completion date,
                callback_url text,
                callback_secret text,               -- sealed, like the credentials
                state text NOT NULL DEFAULT 'validating',
                listing_done boolean NOT NULL DEFAULT false,
                total_calls integer,
                done_calls integer NOT NULL DEFAULT 0,
                failed_calls integer NOT NULL DEFAULT 0,
                error text,
                eta timestamptz,
                created_by text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                finished_at timestamptz);
            CREATE INDEX import_requests_tenant ON import_requests (tenant_id, created_at DESC);
            -- Listing pages already stored, so a replayed page job does nothing twice.
            CREATE TABLE import_pages (
                request_id bigint NOT NULL REFERENCES import_requests (id),
                cursor_in text NOT NULL,
                calls integer NOT NULL,
                done_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (request_id, cursor_in));
            -- What CS is told (Slack, callback URL): an outbox, delivered by the notify job.
            CREATE TABLE import_events (
                id bigserial PRIMARY KEY,
                request_id bigint NOT NULL REFERENCES import_requests (id),
                kind text NOT NULL,
                message text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                delivered_at timestamptz,
                UNIQUE (request_id, kind));
            CREATE TABLE import_failures (
                request_id bigint NOT NULL REFERENCES import_requests (id),
                external_id text NOT NULL,
                error text NOT NULL,
                failed_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (request_id, external_id));
            CREATE TABLE calls (
                id bigserial PRIMARY KEY,
                tenant_id text NOT NULL REFERENCES tenants (id),
                platform text NOT NULL,
                external_id text NOT NULL,
                request_id bigint REFERENCES import_requests (id),
                title text,
                started_at timestamptz,
                duration_seconds integer,
                direction text,
                recording_url text,
                imported_at timestamptz NOT NULL DEFAULT now(),
                completed_at timestamptz,           -- set once the transcript is stored
                failure text,                       -- set when the call could not be imported
                UNIQUE (tenant_id, platform, external_id));
            CREATE TABLE call_participants (
                call_id bigint NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
                position integer NOT NULL,
                name text,
                email text,
                title text,
                affiliation text,
                speaker_id text,
                PRIMARY KEY (call_id, position));
            CREATE TABLE transcript_segments (
                call_id bigint NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
                position integer NOT NULL,
                speaker text,
                start_ms integer NOT NULL,
                end_ms integer NOT NULL,
                text text NOT NULL,
                PRIMARY KEY (call_id, position));
            """),
        Migration(3, "platform outage tracking, parallel listing", """
            -- First unanswered call to the platform since its last answer (for the 24 h outage alert).
            ALTER TABLE import_requests ADD COLUMN platform_failing_since timestamptz;
            -- The listing runs as one cursor chain per month of the range; done when every chain's last page is stored.
            ALTER TABLE import_requests ADD COLUMN listing_chains integer NOT NULL DEFAULT 1;
            ALTER TABLE import_pages ADD COLUMN last boolean NOT NULL DEFAULT false;
            """),
        Migration(4, "routing rules versions and changes, routing audit", """
            -- Every saved version of a tenant's routing rules is kept; one is active (published to Redis).
            CREATE TABLE routing_rule_versions (
                tenant_id text NOT NULL CHECK (tenant_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
                version integer NOT NULL CHECK (version > 0),
                rules jsonb NOT NULL,
                created_by text NOT NULL,
                note text,
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (tenant_id, version));
            CREATE TABLE routing_active_rules (
                tenant_id text PRIMARY KEY,
                version integer NOT NULL,
                activated_by text NOT NULL,
                activated_at timestamptz NOT NULL DEFAULT now(),
                FOREIGN KEY (tenant_id, version) REFERENCES routing_rule_versions (tenant_id, version));
            -- Who changed what, when, with the rules before and after (FR44).
            CREATE TABLE routing_rule_changes (
                id bigserial PRIMARY KEY,
                tenant_id text NOT NULL,
                actor text NOT NULL,
                action text NOT NULL CHECK (action IN ('save', 'activate')),
                version integer NOT NULL,
                before jsonb,
                after jsonb NOT NULL,
                at timestamptz NOT NULL DEFAULT now());
            CREATE INDEX routing_rule_changes_tenant ON routing_rule_changes (tenant_id, at);
            -- The audit trail the audit-worker copies from the Redis stream: one row per stream entry
            -- (a routing decision, a call step such as a menu key or dial result, a breaker transition).
            CREATE TABLE routing_audit (
                entry_id text PRIMARY KEY,           -- the Redis stream id: idempotent re-delivery
                tenant_id text NOT NULL,
                kind text NOT NULL,                  -- decision | step | breaker | outcome
                call_id text,
                caller text,
                at timestamptz NOT NULL,
                micros integer,
                detail jsonb NOT NULL);
            CREATE INDEX routing_audit_call ON routing_audit (tenant_id, call_id, at);
            CREATE INDEX routing_audit_caller ON routing_audit (tenant_id, caller, at);
            CREATE INDEX routing_audit_time ON routing_audit (tenant_id, at);
            -- Where a tenant's integrations live (dialers, SMS, Braze) and their sealed credentials.
            CREATE TABLE routing_integrations (
                tenant_id text NOT NULL,
                id text NOT NULL,                    -- the dialer id of the rules, or 'braze' / 'sms'
                kind text NOT NULL CHECK (kind IN ('zendesk_talk', 'dialfire', 'braze', 'sms')),
                base_url text NOT NULL,
                credentials text NOT NULL,           -- sealed with the tenant's data key; never returned
                settings jsonb NOT NULL DEFAULT '{}',
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (tenant_id, id));
            """),
        Migration(5, "email integrations for alerts", """
            ALTER TABLE routing_integrations DROP CONSTRAINT routing_integrations_kind_check;
            ALTER TABLE routing_integrations ADD CONSTRAINT routing_integrations_kind_check
                CHECK (kind IN ('zendesk_talk', 'dialfire', 'braze', 'sms', 'email'));
            """),
        Migration(6, "quarantine for entries a consumer cannot process", """
            -- What a stream or queue consumer could not process (a row Postgres refuses, an outcome
            -- for a tenant without Braze, a vendor's 4xx): kept with its reason, listable and
            -- replayable, instead of being retried forever in front of the others or dropped.
            CREATE TABLE quarantine (
                id bigserial PRIMARY KEY,
                source text NOT NULL,                -- audit | outcome
                tenant_id text,
                entry_key text NOT NULL,             -- where it came from (stream id, row index)
                payload text NOT NULL,               -- the entry as JSON text (never jsonb: it may hold what jsonb refuses)
                reason text NOT NULL,
                quarantined_at timestamptz NOT NULL DEFAULT now(),
                replayed_at timestamptz,
                UNIQUE (source, entry_key));
            CREATE INDEX quarantine_open ON quarantine (source, quarantined_at) WHERE replayed_at IS NULL;
            """),
        Migration(7, "one tenant id definition (TenantID): lower-case letters, digits, '.', '_', '-'", """
            ALTER TABLE tenants DROP CONSTRAINT tenants_id_check;
            ALTER TABLE tenants ADD CONSTRAINT tenants_id_check CHECK (id ~ '^[a-z0-9][a-z0-9._-]{0,62}$');
            ALTER TABLE routing_rule_versions DROP CONSTRAINT routing_rule_versions_tenant_id_check;
            ALTER TABLE routing_rule_versions ADD CONSTRAINT routing_rule_versions_tenant_id_check
                CHECK (tenant_id ~ '^[a-z0-9][a-z0-9._-]{0,62}$') NOT VALID;
            """),
        Migration(8, "imports that never stall silently: progress time, resumable listing chains", """
            -- When a job of the request last stored something (a page, transcripts): the watch marks a
            -- request stalled when this stops moving, or when one of its jobs died.
            ALTER TABLE import_requests ADD COLUMN progress_at timestamptz;
            -- Why a request stalled (cleared by `import resume`).
            ALTER TABLE import_requests ADD COLUMN stalled_reason text;
            -- The cursor after a stored page, so a resumed chain walks its stored pages to where it stopped.
            ALTER TABLE import_pages ADD COLUMN next_cursor text;
            CREATE INDEX import_requests_open ON import_requests (state) WHERE state IN ('validating', 'waiting', 'running', 'stalled');
            """),
        Migration(9, "import callbacks delivered on their own", """
            -- A request's callback is delivered by its own job (key per tenant), so a customer's broken
            -- endpoint never delays CS's Slack message or another tenant's callback.
            ALTER TABLE import_events ADD COLUMN callback_delivered_at timestamptz;
            UPDATE import_events SET callback_delivered_at = delivered_at; -- delivered together until now
            """),
        Migration(10, "audit tables are append-only", """
            -- The audit trail (routing decisions and steps, rules changes) can be added to and read,
            -- never changed: UPDATE, DELETE and TRUNCATE are refused for every role, except inside a
            -- transaction of the retention job, which says so with SET LOCAL switchboard.audit_retention = 'on'.
            -- (The role separation that keeps the application itself from setting it is issue 11's.)
            CREATE FUNCTION switchboard_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF coalesce(current_setting('switchboard.audit_retention', true), '') = 'on' THEN
                    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
                END IF;
                RAISE EXCEPTION 'audit table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
            END $$;
            CREATE TRIGGER routing_audit_append_only BEFORE UPDATE OR DELETE ON routing_audit
                FOR EACH ROW EXECUTE FUNCTION switchboard_audit_append_only();
            CREATE TRIGGER routing_audit_no_truncate BEFORE TRUNCATE ON routing_audit
                FOR EACH STATEMENT EXECUTE FUNCTION switchboard_audit_append_only();
            CREATE TRIGGER routing_rule_changes_append_only BEFORE UPDATE OR DELETE ON routing_rule_changes
                FOR EACH ROW EXECUTE FUNCTION switchboard_audit_append_only();
            CREATE TRIGGER routing_rule_changes_no_truncate BEFORE TRUNCATE ON routing_rule_changes
                FOR EACH STATEMENT EXECUTE FUNCTION switchboard_audit_append_only();
            """),
        Migration(11, "users, roles, API tokens, the hash-chained log of user actions", """
            -- People who sign in to the console (FR48–FR51). Tenant admins and read-only users belong
            -- to one tenant; operators (our customer success) to none. Removed users are kept (the
            -- audit log names them) but can no longer sign in or use their tokens.
            CREATE TABLE users (
                id bigserial PRIMARY KEY,
                username text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._@+-]{2,253}$'),
                role text NOT NULL CHECK (role IN ('admin', 'read-only', 'operator')),
                tenant_id text REFERENCES tenants (id),
                password_hash text,                  -- bcrypt; NULL: cannot sign in (tokens only)
                failed_signins integer NOT NULL DEFAULT 0,
                locked_until timestamptz,
                created_by text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                removed_at timestamptz,
                CHECK ((role = 'operator') = (tenant_id IS NULL)));
            CREATE INDEX users_tenant ON users (tenant_id) WHERE removed_at IS NULL;
            -- Per-user API tokens: `sb_<id>_<secret>`; only the SHA-256 of the secret is kept.
            CREATE TABLE api_tokens (
                id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
                user_id bigint NOT NULL REFERENCES users (id),
                name text NOT NULL,
                role text NOT NULL CHECK (role IN ('admin', 'read-only', 'operator')),
                tenant_id text,
                secret_sha256 text NOT NULL,
                expires_at timestamptz NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                last_used_at timestamptz,
                revoked_at timestamptz);
            CREATE INDEX api_tokens_user ON api_tokens (user_id);
            -- Every user action (SOC 2 access logging): sign-ins, user, role, token, rules,
            -- integration and import changes, denied attempts. One hash chain per tenant ('' for
            -- actions about no tenant): `hash` = SHA-256(prev_hash, canonical fields) (AuditChain).
            CREATE TABLE user_actions (
                id bigserial PRIMARY KEY,
                tenant_id text NOT NULL,
                seq bigint NOT NULL CHECK (seq > 0),
                at timestamptz NOT NULL,
                actor text NOT NULL,
                actor_id bigint,
                action text NOT NULL,
                target text NOT NULL DEFAULT '',
                outcome text NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
                detail text NOT NULL,                -- canonical JSON as hashed (text, not jsonb, so it stays byte-exact)
                source text NOT NULL DEFAULT '',
                prev_hash text NOT NULL,
                hash text NOT NULL,
                UNIQUE (tenant_id, seq));
            CREATE INDEX user_actions_time ON user_actions (tenant_id, at);
            CREATE INDEX user_actions_actor ON user_actions (actor, at);
            CREATE TRIGGER user_actions_append_only BEFORE UPDATE OR DELETE ON user_actions
                FOR EACH ROW EXECUTE FUNCTION switchboard_audit_append_only();
            CREATE TRIGGER user_actions_no_truncate BEFORE TRUNCATE ON user_actions
                FOR EACH STATEMENT EXECUTE FUNCTION switchboard_audit_append_only();
            """),
        Migration(12, "routing audit: hash-chained per tenant, personal data sealed, partitioned by month, retained", """
            -- The routing audit before this migration, kept aside until `switchboard audit migrate-legacy`
            -- has moved its rows through the chained, sealed writer (then it is dropped).
            ALTER TABLE routing_audit RENAME TO routing_audit_legacy;
            ALTER INDEX routing_audit_pkey RENAME TO routing_audit_legacy_pkey;
            ALTER INDEX routing_audit_call RENAME TO routing_audit_legacy_call;
            ALTER INDEX routing_audit_caller RENAME TO routing_audit_legacy_caller;
            ALTER INDEX routing_audit_time RENAME TO routing_audit_legacy_time;
            -- One row per decision, call step or breaker transition, in its tenant's hash chain
            -- (seq 1, 2, …; hash = SHA-256(prev_hash, canonical fields), AuditChain). The caller
            -- number, lead fields and the whole chain are sealed with the tenant's personal-data key;
            -- the caller is found by its blind index (HMAC of the E.164 number). Partitioned by the
            -- month the row joined its chain (stored_at: never goes back within a tenant), so
            -- retention drops whole months.
            CREATE TABLE routing_audit (
                tenant_id text NOT NULL,
                seq bigint NOT NULL,
                stored_at timestamptz NOT NULL,
                entry_id text NOT NULL,              -- the Redis stream id (`/n` for a batch's n-th decision)
                kind text NOT NULL,                  -- decision | step | breaker | outcome
                call_id text,
                caller_index text,                   -- blind index of the caller's E.164 number
                at timestamptz NOT NULL,             -- when it happened (the router's clock)
                micros integer,
                dialer text,                         -- the decision's answer, for counts (no personal data)
                rule text,
                fallbacks text[],
                sealed text NOT NULL,                -- {"caller": …, "detail": …} sealed (AES-256-GCM)
                prev_hash text NOT NULL,
                hash text NOT NULL
            ) PARTITION BY RANGE (stored_at);
            CREATE TABLE routing_audit_default PARTITION OF routing_audit DEFAULT;
            CREATE INDEX routing_audit_chain ON routing_audit (tenant_id, seq);
            CREATE INDEX routing_audit_entry ON routing_audit (entry_id);
            CREATE INDEX routing_audit_call ON routing_audit (tenant_id, call_id);
            CREATE INDEX routing_audit_caller ON routing_audit (tenant_id, caller_index, at);
            CREATE INDEX routing_audit_time ON routing_audit (tenant_id, at);
            CREATE TRIGGER routing_audit_append_only BEFORE UPDATE OR DELETE ON routing_audit
                FOR EACH ROW EXECUTE FUNCTION switchboard_audit_append_only();
            CREATE TRIGGER routing_audit_no_truncate BEFORE TRUNCATE ON routing_audit
                FOR EACH STATEMENT EXECUTE FUNCTION switchboard_audit_append_only();

            -- The last link of each tenant's chain, locked by the writer that extends it.
            CREATE TABLE audit_chain_heads (
                chain text NOT NULL,
                tenant_id text NOT NULL,
                seq bigint NOT NULL,
                hash text NOT NULL,
                stored_at timestamptz NOT NULL,
                PRIMARY KEY (chain, tenant_id));
            -- Where retention cut a chain: verification starts after this row. Written only by the
            -- retention functions below.
            CREATE TABLE audit_chain_anchors (
                chain text NOT NULL,
                tenant_id text NOT NULL,
                seq bigint NOT NULL,
                hash text NOT NULL,
                cut_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (chain, tenant_id));
            -- How long a tenant's audit is kept (FR58: never below 90 days; 365 without a row).
            CREATE TABLE audit_retention (
                tenant_id text PRIMARY KEY,
                days integer NOT NULL CHECK (days BETWEEN 90 AND 36500),
                set_by text NOT NULL,
                set_at timestamptz NOT NULL DEFAULT now());
            -- What every retention run removed.
            CREATE TABLE audit_retention_runs (
                id bigserial PRIMARY KEY,
                at timestamptz NOT NULL DEFAULT now(),
                chain text NOT NULL,
                tenant_id text,
                partition text,
                rows bigint NOT NULL,
                before timestamptz NOT NULL);

            -- Monthly partitions from `first`'s month on, `months` of them (idempotent). Runs with
            -- the owner's rights so the application's role can ask for partitions ahead.
            CREATE FUNCTION switchboard_audit_partitions(first date, months integer) RETURNS integer
            LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
            DECLARE m date; made integer := 0; name text;
            BEGIN
                FOR i IN 0..greatest(0, least(months, 36)) - 1 LOOP
                    m := (date_trunc('month', first) + make_interval(months => i))::date;
                    name := 'routing_audit_' || to_char(m, 'YYYY_MM');
                    IF to_regclass(name) IS NULL THEN
                        EXECUTE format('CREATE TABLE %I PARTITION OF routing_audit FOR VALUES FROM (%L) TO (%L)',
                                       name, m, (m + interval '1 month')::date);
                        made := made + 1;
                    END IF;
                END LOOP;
                RETURN made;
            END $$;

            -- Retention: rows older than their tenant's retention (never under 90 days) go, whole
            -- months at once when every tenant's retention has passed them, else row by row; each
            -- cut chain keeps its boundary (anchor), and each removal is recorded.
            CREATE FUNCTION switchboard_audit_retain() RETURNS bigint
            LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
            DECLARE
                longest integer; p record; t record; cutoff timestamptz; removed bigint; total bigint := 0; upper_bound timestamptz;
            BEGIN
                PERFORM set_config('switchboard.audit_retention', 'on', true);
                SELECT greatest(90, coalesce(max(days), 365), 365) INTO longest FROM audit_retention;
                -- Whole months past every tenant's retention.
                FOR p IN SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                         WHERE i.inhparent = 'routing_audit'::regclass AND c.relname <> 'routing_audit_default' LOOP
                    upper_bound := substring(p.bound FROM 'TO \\(''([^'']+)''\\)')::timestamptz;
                    IF upper_bound <= now() - make_interval(days => longest) THEN
                        FOR t IN EXECUTE format('SELECT DISTINCT ON (tenant_id) tenant_id, seq, hash FROM %I ORDER BY tenant_id, seq DESC', p.relname) LOOP
                            INSERT INTO audit_chain_anchors (chain, tenant_id, seq, hash) VALUES ('routing_audit', t.tenant_id, t.seq, t.hash)
                            ON CONFLICT (chain, tenant_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, cut_at = now()
                            WHERE audit_chain_anchors.seq < EXCLUDED.seq;
                        END LOOP;
                        EXECUTE format('SELECT count(*) FROM %I', p.relname) INTO removed;
                        EXECUTE format('ALTER TABLE routing_audit DETACH PARTITION %I', p.relname);
                        EXECUTE format('DROP TABLE %I', p.relname);
                        INSERT INTO audit_retention_runs (chain, partition, rows, before) VALUES ('routing_audit', p.relname, removed, upper_bound);
                        total := total + removed;
                    END IF;
                END LOOP;
                -- Tenants whose retention is shorter: their oldest rows, row by row.
                FOR t IN SELECT DISTINCT h.tenant_id, coalesce(r.days, 365) AS days FROM audit_chain_heads h
                         LEFT JOIN audit_retention r ON r.tenant_id = h.tenant_id WHERE h.chain = 'routing_audit' LOOP
                    cutoff := now() - make_interval(days => greatest(90, t.days));
                    INSERT INTO audit_chain_anchors (chain, tenant_id, seq, hash)
                        SELECT 'routing_audit', tenant_id, seq, hash FROM routing_audit WHERE tenant_id = t.tenant_id AND stored_at < cutoff
                        ORDER BY seq DESC LIMIT 1
                    ON CONFLICT (chain, tenant_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, cut_at = now()
                        WHERE audit_chain_anchors.seq < EXCLUDED.seq;
                    DELETE FROM routing_audit WHERE tenant_id = t.tenant_id AND stored_at < cutoff;
                    GET DIAGNOSTICS removed = ROW_COUNT;
                    IF removed > 0 THEN
                        INSERT INTO audit_retention_runs (chain, tenant_id, rows, before) VALUES ('routing_audit', t.tenant_id, removed, cutoff);
                        total := total + removed;
                    END IF;
                END LOOP;
                -- The user action log, row by row (small), same rule.
                FOR t IN SELECT DISTINCT a.tenant_id, coalesce(r.days, 365) AS days FROM (SELECT DISTINCT tenant_id FROM user_actions) a
                         LEFT JOIN audit_retention r ON r.tenant_id = a.tenant_id LOOP
                    cutoff := now() - make_interval(days => greatest(90, t.days));
                    INSERT INTO audit_chain_anchors (chain, tenant_id, seq, hash)
                        SELECT 'user_actions', tenant_id, seq, hash FROM user_actions WHERE tenant_id = t.tenant_id AND at < cutoff
                        ORDER BY seq DESC LIMIT 1
                    ON CONFLICT (chain, tenant_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, cut_at = now()
                        WHERE audit_chain_anchors.seq < EXCLUDED.seq;
                    DELETE FROM user_actions WHERE tenant_id = t.tenant_id AND at < cutoff;
                    GET DIAGNOSTICS removed = ROW_COUNT;
                    IF removed > 0 THEN
                        INSERT INTO audit_retention_runs (chain, tenant_id, rows, before) VALUES ('user_actions', t.tenant_id, removed, cutoff);
                        total := total + removed;
                    END IF;
                END LOOP;
                RETURN total;
            END $$;
            -- Drops the pre-migration table once every one of its rows is in the chained table.
            CREATE FUNCTION switchboard_audit_drop_legacy() RETURNS boolean
            LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
            BEGIN
                IF to_regclass('routing_audit_legacy') IS NULL THEN RETURN true; END IF;
                IF EXISTS (SELECT 1 FROM routing_audit_legacy l WHERE NOT EXISTS (SELECT 1 FROM routing_audit a WHERE a.entry_id = l.entry_id)) THEN
                    RETURN false;
                END IF;
                DROP TABLE routing_audit_legacy;
                RETURN true;
            END $$;
            SELECT switchboard_audit_partitions(current_date, 3);
            """),
        Migration(13, "router API keys and voice tokens in Postgres; tenant data keys in versions", """
            -- The router's API keys: Postgres is the source of truth, Redis (`routing:apikeys`) the
            -- router's cache, rebuilt from here by `switchboard routing access sync`. Only the SHA-256
            -- of a key is kept. Revoked keys stay (the audit names them); expired keys stop working.
            CREATE TABLE router_api_keys (
                id text PRIMARY KEY CHECK (id ~ '^ak_[0-9a-f]{12}$'),
                tenant_id text NOT NULL REFERENCES tenants (id),
                key_sha256 text NOT NULL UNIQUE,
                label text NOT NULL DEFAULT '',
                created_by text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz,
                revoked_at timestamptz,
                revoked_by text);
            CREATE INDEX router_api_keys_tenant ON router_api_keys (tenant_id);
            -- The voice platform's auth tokens (what TwiML requests are signed with), sealed with the
            -- tenant's data key. More than one is live during a rotation's overlap window.
            CREATE TABLE voice_tokens (
                id text PRIMARY KEY CHECK (id ~ '^vt_[0-9a-f]{12}$'),
                tenant_id text NOT NULL REFERENCES tenants (id),
                sealed text NOT NULL,
                label text NOT NULL DEFAULT '',
                created_by text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz,
                revoked_at timestamptz,
                revoked_by text);
            CREATE INDEX voice_tokens_tenant ON voice_tokens (tenant_id);
            -- A tenant's data key has versions: a rotation adds one, re-seals the tenant's secrets
            -- with it (sealed text names its version: `v<n>:`, none for 1) and then deletes the old.
            ALTER TABLE tenant_keys ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version > 0);
            ALTER TABLE tenant_keys DROP CONSTRAINT tenant_keys_pkey;
            ALTER TABLE tenant_keys ADD PRIMARY KEY (tenant_id, version);
            -- The keys personal data in the audit is sealed and blind-indexed with (derived once from
            -- the first data key), wrapped by the current data key version: the audit rows are
            -- immutable, so a data-key rotation re-wraps these instead of rewriting the rows.
            CREATE TABLE tenant_personal_keys (
                tenant_id text PRIMARY KEY REFERENCES tenants (id),
                key_version integer NOT NULL,
                wrapped text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                rewrapped_at timestamptz);
            -- Each data-key rotation: started, resumed until finished.
            CREATE TABLE tenant_key_rotations (
                tenant_id text NOT NULL REFERENCES tenants (id),
                to_version integer NOT NULL,
                started_by text NOT NULL,
                started_at timestamptz NOT NULL DEFAULT now(),
                resealed integer NOT NULL DEFAULT 0,
                finished_at timestamptz,
                PRIMARY KEY (tenant_id, to_version));
            """),
        Migration(14, "routing audit keys compared byte-wise; the caller index as 16 bytes; no entry-id index", """
            -- The audit's index keys are ids and digests, never words: byte order (COLLATE "C")
            -- instead of the locale's, the caller's blind index as a uuid (its 128 bits), and no
            -- index of its own for the entry id (a re-delivered batch is found through the call index).
            DROP INDEX routing_audit_entry;
            ALTER TABLE routing_audit
                ALTER COLUMN tenant_id TYPE text COLLATE "C",
                ALTER COLUMN entry_id TYPE text COLLATE "C",
                ALTER COLUMN call_id TYPE text COLLATE "C",
                ALTER COLUMN caller_index TYPE uuid USING caller_index::uuid;
            CREATE OR REPLACE FUNCTION switchboard_audit_drop_legacy() RETURNS boolean
            LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
            BEGIN
                IF to_regclass('routing_audit_legacy') IS NULL THEN RETURN true; END IF;
                IF EXISTS (SELECT 1 FROM routing_audit_legacy l WHERE NOT EXISTS (
                        SELECT 1 FROM routing_audit a WHERE a.tenant_id = l.tenant_id AND a.call_id IS NOT DISTINCT FROM l.call_id
                        AND a.entry_id = l.entry_id)) THEN
                    RETURN false;
                END IF;
                DROP TABLE routing_audit_legacy;
                RETURN true;
            END $$;
            """),
    ]

    /// A migrator over every migration.
    public static var migrator: Migrator { Migrator(all) }

    /// Every column sealed with its row's tenant's data key (`table`, `column`; the tenant is
    /// `tenant_id`): what a tenant's data-key rotation re-seals.
    public static let sealedColumns: [(table: String, column: String)] = [
        ("import_requests", "credentials"), ("import_requests", "callback_secret"), ("routing_integrations", "credentials"), ("voice_tokens", "sealed"),
    ]
    /// The tables only ever added to and read: the application's role may INSERT and SELECT
    /// them, never UPDATE, DELETE or TRUNCATE (and the triggers of migrations 10-11 refuse those
    /// for everyone but the retention job).
    public static let auditTables = ["routing_audit", "routing_rule_changes", "user_actions", "routing_audit_legacy"]
    /// Tables the application may only read: written by the retention functions alone.
    public static let retentionTables = ["audit_chain_anchors", "audit_retention_runs"]

    /// Whether `role` is a name `grantApplication` accepts (it is spliced into SQL).
    public static func isRoleName(_ role: String) -> Bool {
        let bytes = Array(role.utf8)
        return (1...63).contains(bytes.count) && (bytes[0] == 95 || (97...122).contains(bytes[0]))
            && bytes.allSatisfy { $0 == 95 || (97...122).contains($0) || (48...57).contains($0) }
    }

    /// Gives the application's database role (SB_POSTGRES_APP_ROLE, default `switchboard_app`,
    /// created by ops/lib.sh) what the processes need on the current schema: read and write every
    /// table, but only INSERT and SELECT on the audit tables. The owner (who migrates) keeps the
    /// rest. Returns false when the role does not exist (then nothing is granted).
    @discardableResult
    public static func grantApplication(role: String, _ client: PostgresClient) async throws -> Bool {
        guard isRoleName(role) else { throw PostgresError(.query, "'\(role)' is not a plain role name (a-z, 0-9, _)") }
        let exists = try await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role])
        guard !exists.rows.isEmpty else { return false }
        try await client.withConnection { db in
            try db.execute(script: """
                DO $$
                DECLARE s text := current_schema(); t text;
                BEGIN
                    EXECUTE format('GRANT USAGE ON SCHEMA %I TO \(role)', s);
                    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO \(role)', s);
                    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO \(role)', s);
                    FOR t IN SELECT unnest(ARRAY['\(auditTables.joined(separator: "', '"))']) LOOP
                        IF to_regclass(t) IS NOT NULL THEN EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I FROM \(role)', t); END IF;
                    END LOOP;
                    -- Partitions are reached through their parent only.
                    FOR t IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                             WHERE to_regclass('routing_audit') IS NOT NULL AND i.inhparent = to_regclass('routing_audit') LOOP
                        EXECUTE format('REVOKE ALL ON %I FROM \(role)', t);
                    END LOOP;
                    EXECUTE 'REVOKE ALL ON schema_migrations, \(retentionTables.joined(separator: ", ")) FROM \(role)';
                    EXECUTE 'GRANT SELECT ON \(retentionTables.joined(separator: ", ")) TO \(role)';
                    EXECUTE 'GRANT SELECT ON schema_migrations TO \(role)';
                END $$;
                """)
        }
        return true
    }
}
