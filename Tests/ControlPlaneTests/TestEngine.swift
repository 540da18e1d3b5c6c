@testable import ControlPlane
import Foundation
import NimbusCore

/// The engines the store suite runs against: SQLite always, PostgreSQL when the test command
/// started one (`NIMBUS_TEST_POSTGRES=postgres://…`, see scripts/lib.sh start_postgres). Each
/// PostgreSQL store gets a fresh database.
enum TestEngine: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgres

    var description: String { rawValue }

    static var postgresURL: String? { ProcessInfo.processInfo.environment["NIMBUS_TEST_POSTGRES"] }

    static var available: [TestEngine] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    /// A fresh, migrated store whose files live in `dir`.
    func store(dir: String, clock: any WallClock = SystemClock(), fixedLeaseSeconds: Int = 120) async throws -> ControlPlaneSQLStore {
        let s: ControlPlaneSQLStore
        switch self {
        case .sqlite:
            s = try ControlPlaneSQLStore.sqlite(path: "\(dir)/control.db", keyFile: "\(dir)/control.key", clock: clock,
                                                fixedLeaseSeconds: fixedLeaseSeconds)
        case .postgres:
            guard let url = Self.postgresURL, var settings = PostgresEngine.Settings(url: url) else {
                throw ControlPlaneError.invalid("NIMBUS_TEST_POSTGRES is not a postgres:// URL")
            }
            let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            try await PostgresEngine(settings: settings).runOutsideTransaction("CREATE DATABASE \(name)")
            settings.database = name
            s = try ControlPlaneSQLStore(engine: PostgresEngine(settings: settings), keyFile: "\(dir)/control.key", clock: clock,
                                         fixedLeaseSeconds: fixedLeaseSeconds)
        }
        try await s.migrate()
        return s
    }
}
