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
    ]

    /// A migrator over every migration.
    public static var migrator: Migrator { Migrator(all) }
}
