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
    ]

    /// A migrator over every migration.
    public static var migrator: Migrator { Migrator(all) }

    /// The tables only ever added to and read: the application's role may INSERT and SELECT
    /// them, never UPDATE, DELETE or TRUNCATE (and the triggers of migrations 10-11 refuse those
    /// for everyone but the retention job).
    public static let auditTables = ["routing_audit", "routing_rule_changes", "user_actions"]

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
        let audit = auditTables.joined(separator: ", ")
        try await client.withConnection { db in
            try db.execute(script: """
                DO $$
                DECLARE s text := current_schema();
                BEGIN
                    EXECUTE format('GRANT USAGE ON SCHEMA %I TO \(role)', s);
                    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO \(role)', s);
                    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO \(role)', s);
                    EXECUTE 'REVOKE UPDATE, DELETE, TRUNCATE ON \(audit) FROM \(role)';
                    EXECUTE 'REVOKE ALL ON schema_migrations FROM \(role)';
                    EXECUTE 'GRANT SELECT ON schema_migrations TO \(role)';
                END $$;
                """)
        }
        return true
    }
}
