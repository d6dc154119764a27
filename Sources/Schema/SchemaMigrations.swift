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
    ]

    /// A migrator over every migration.
    public static var migrator: Migrator { Migrator(all) }
}
