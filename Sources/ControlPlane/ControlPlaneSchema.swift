/// The control plane's schema, as numbered migrations (applied in order, each once; a change is
/// a new migration). Portable SQL for both engines: `"user"` quoted (reserved in PostgreSQL),
/// BIGINT for every number, no engine-specific upserts. Times are integer microseconds since the
/// epoch, so they compare as times, never as strings of mixed formats.
enum ControlPlaneSchema {
    static let migrations: [(version: Int, sql: [String])] = [
        (1, [
            "CREATE TABLE users (name TEXT PRIMARY KEY, is_admin BIGINT NOT NULL, created_at BIGINT NOT NULL)",
            "CREATE TABLE projects (name TEXT PRIMARY KEY, manager TEXT NOT NULL, created_at BIGINT NOT NULL)",
            "CREATE TABLE members (project TEXT NOT NULL, \"user\" TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY (project, \"user\"))",
            """
            CREATE TABLE credentials (access_key TEXT PRIMARY KEY, "user" TEXT NOT NULL, project TEXT NOT NULL,
                                      sealed_secret TEXT NOT NULL, created_at BIGINT NOT NULL, UNIQUE ("user", project))
            """,
        ]),
        (2, [
            """
            CREATE TABLE storage_keys (project TEXT NOT NULL, "user" TEXT NOT NULL, sealed_key TEXT NOT NULL, key_hash TEXT NOT NULL,
                                       created_at BIGINT NOT NULL, PRIMARY KEY (project, "user"))
            """,
            """
            CREATE TABLE certificates (project TEXT NOT NULL, "user" TEXT NOT NULL, pem TEXT NOT NULL, created_at BIGINT NOT NULL,
                                       PRIMARY KEY (project, "user"))
            """,
            """
            CREATE TABLE key_pairs (project TEXT NOT NULL, name TEXT NOT NULL, fingerprint TEXT NOT NULL, public_key TEXT NOT NULL,
                                    key_type TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (project, name))
            """,
            """
            CREATE TABLE security_groups (id TEXT PRIMARY KEY, project TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL,
                                          created_at BIGINT NOT NULL, UNIQUE (project, name))
            """,
            // Empty strings, not NULL, for "no CIDR" / "no source group": the primary key then
            // makes duplicates impossible on both engines.
            """
            CREATE TABLE security_rules (group_id TEXT NOT NULL, protocol TEXT NOT NULL, from_port BIGINT NOT NULL, to_port BIGINT NOT NULL,
                                         cidr TEXT NOT NULL, source_project TEXT NOT NULL, source_group TEXT NOT NULL,
                                         PRIMARY KEY (group_id, protocol, from_port, to_port, cidr, source_project, source_group))
            """,
            "CREATE TABLE addresses (ip TEXT PRIMARY KEY, project TEXT NOT NULL, instance_id TEXT, allocated_at BIGINT NOT NULL)",
            """
            CREATE TABLE images (id TEXT PRIMARY KEY, project TEXT NOT NULL, location TEXT NOT NULL, name TEXT NOT NULL,
                                 description TEXT NOT NULL, image_type TEXT NOT NULL, architecture TEXT NOT NULL, kernel_id TEXT,
                                 ramdisk_id TEXT, state TEXT NOT NULL, state_reason TEXT, is_public BIGINT NOT NULL, size BIGINT NOT NULL,
                                 created_at BIGINT NOT NULL)
            """,
            "CREATE TABLE image_launch_permissions (image_id TEXT NOT NULL, project TEXT NOT NULL, PRIMARY KEY (image_id, project))",
        ]),
        (3, [
            // Instances carry their pending work (`task`, claimed by one worker at a time), so
            // nothing is lost when the API or a worker restarts. Group ids are a space-separated list.
            """
            CREATE TABLE instances (id TEXT PRIMARY KEY, project TEXT NOT NULL, "user" TEXT NOT NULL, reservation_id TEXT NOT NULL,
                                    image_id TEXT NOT NULL, kernel_id TEXT, ramdisk_id TEXT, instance_type TEXT NOT NULL,
                                    vcpus BIGINT NOT NULL, memory_mib BIGINT NOT NULL, disk_gib BIGINT NOT NULL, key_name TEXT,
                                    public_key TEXT, user_data TEXT, group_ids TEXT NOT NULL, zone TEXT NOT NULL, host TEXT,
                                    state TEXT NOT NULL, state_reason TEXT, launch_index BIGINT NOT NULL, client_token TEXT,
                                    fixed_ip TEXT, mac TEXT, task TEXT, task_seq BIGINT NOT NULL, claimed_by TEXT,
                                    claimed_at BIGINT, attempts BIGINT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
            """,
            "CREATE INDEX instances_project ON instances (project)",
            "CREATE INDEX instances_work ON instances (host, task)",
            "CREATE INDEX instances_token ON instances (project, client_token)",
            """
            CREATE TABLE compute_hosts (name TEXT PRIMARY KEY, zone TEXT NOT NULL, vcpus BIGINT NOT NULL, memory_mib BIGINT NOT NULL,
                                        disk_gib BIGINT NOT NULL, worker TEXT NOT NULL, heartbeat BIGINT NOT NULL,
                                        endpoint TEXT NOT NULL, token TEXT NOT NULL)
            """,
            // An address is reusable once no instance holds it and its last DHCP lease has
            // expired (leased_until, microseconds: compared as numbers, never as strings).
            "CREATE TABLE fixed_ips (ip TEXT PRIMARY KEY, project TEXT, instance_id TEXT, leased_until BIGINT NOT NULL)",
        ]),
    ]
}
