import CSQLite

/// A value bound to or read from SQLite.
public enum SQLValue: Sendable, Equatable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)

    public var int: Int64? {
        switch self {
        case .int(let v): return v
        case .double(let d): return d.isFinite && abs(d) < 9.2e18 ? Int64(d) : nil
        case .text(let t): return Int64(t)
        case .null: return nil
        }
    }

    public var text: String? {
        switch self {
        case .text(let t): return t
        case .int(let v): return String(v)
        case .double(let d): return String(d)
        case .null: return nil
        }
    }
}

/// A compiled statement; finalized when released.
public final class Statement {
    let db: Database
    let handle: OpaquePointer

    init(db: Database, handle: OpaquePointer) {
        self.db = db
        self.handle = handle
    }

    deinit { sqlite3_finalize(handle) }

    /// Binds positional arguments (1-based in SQL, 0-based here).
    public func bind(_ args: [SQLValue]) throws {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (i, v) in args.enumerated() {
            let idx = Int32(i + 1)
            let rc: Int32
            switch v {
            case .null: rc = sqlite3_bind_null(handle, idx)
            case .int(let x): rc = sqlite3_bind_int64(handle, idx, x)
            case .double(let d): rc = sqlite3_bind_double(handle, idx, d)
            case .text(let t):
                // Bound with its byte length: names may hold NUL (a listing marker of `x\0`
                // must compare after `x`, not be cut at the NUL).
                var s = t
                rc = s.withUTF8 { sqlite3_bind_text(handle, idx, $0.baseAddress, Int32($0.count), sqliteTransient) }
            }
            guard rc == SQLITE_OK else { throw db.error(rc) }
        }
    }

    /// Advances; true while a row is available.
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw db.error(rc)
    }

    /// The current row.
    public func row() -> [SQLValue] {
        (0..<sqlite3_column_count(handle)).map { column($0) }
    }

    /// One column of the current row.
    public func column(_ i: Int32) -> SQLValue {
        switch sqlite3_column_type(handle, i) {
        case SQLITE_INTEGER: return .int(sqlite3_column_int64(handle, i))
        case SQLITE_FLOAT: return .double(sqlite3_column_double(handle, i))
        case SQLITE_NULL: return .null
        default:
            return .text(text(i))
        }
    }

    /// Text of a column ("" for NULL).
    public func text(_ i: Int32) -> String {
        guard let p = sqlite3_column_text(handle, i) else { return "" }
        let n = Int(sqlite3_column_bytes(handle, i))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    /// Integer of a column.
    public func int(_ i: Int32) -> Int64 { sqlite3_column_int64(handle, i) }
}
