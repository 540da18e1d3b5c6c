/// The control plane's schema, as numbered migrations (applied in order, each once; never
/// edited after it ships — a change is a new migration). Times are integer microseconds since
/// the epoch, so they compare as times in SQL, never as strings of mixed formats.
enum ControlPlaneSchema {
    static let migrations: [(Int, String)] = [
        (1, """
            CREATE TABLE users (name TEXT PRIMARY KEY, is_admin INTEGER NOT NULL, created_at INTEGER NOT NULL);
            CREATE TABLE projects (name TEXT PRIMARY KEY, manager TEXT NOT NULL, created_at INTEGER NOT NULL);
            CREATE TABLE members (project TEXT NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY (project, user));
            CREATE TABLE credentials (access_key TEXT PRIMARY KEY, user TEXT NOT NULL, project TEXT NOT NULL,
                                      sealed_secret TEXT NOT NULL, created_at INTEGER NOT NULL, UNIQUE (user, project));
            """),
    ]
}
