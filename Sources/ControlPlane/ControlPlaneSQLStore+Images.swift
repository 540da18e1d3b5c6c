import Foundation
import SQLite

/// The image registry's records.
extension ControlPlaneSQLStore {
    static let imageColumns = """
        id, project, location, name, description, image_type, architecture, kernel_id, ramdisk_id, state, state_reason, is_public, size, created_at
        """

    public func addImage(_ image: ImageRecord) async throws {
        let at = now
        try await write { db in
            guard try !db.exists("SELECT 1 FROM images WHERE id = ?", [.text(image.id)]) else { throw ControlPlaneError.duplicate("image \(image.id)") }
            try db.run("INSERT INTO images (\(Self.imageColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                .text(image.id), .text(image.project), .text(image.location), .text(image.name), .text(image.description),
                .text(image.imageType), .text(image.architecture), image.kernelID.map { .text($0) } ?? .null,
                image.ramdiskID.map { .text($0) } ?? .null, .text(image.state.rawValue), image.stateReason.map { .text($0) } ?? .null,
                .int(image.isPublic ? 1 : 0), .int(image.size), .int(at),
            ])
        }
    }

    public func image(_ id: String) async throws -> ImageRecord? {
        try await fetchImages("WHERE id = ?", [.text(id)]).first
    }

    public func images() async throws -> [ImageRecord] {
        try await fetchImages("", []).sorted { $0.id < $1.id }
    }

    func fetchImages(_ filter: String, _ args: [SQLValue]) async throws -> [ImageRecord] {
        let (rows, perms) = try await write { db in
            (try db.query("SELECT \(Self.imageColumns) FROM images \(filter)", args),
             try db.query("SELECT image_id, project FROM image_launch_permissions", []))
        }
        var launch: [String: [String]] = [:]
        for p in perms { launch[p[0].text ?? "", default: []].append(p[1].text ?? "") }
        return rows.map { r in
            let id = r[0].text ?? ""
            return ImageRecord(id: id, project: r[1].text ?? "", location: r[2].text ?? "", name: r[3].text ?? "", description: r[4].text ?? "",
                               imageType: r[5].text ?? "", architecture: r[6].text ?? "", kernelID: r[7].text, ramdiskID: r[8].text,
                               state: ImageRecord.State(rawValue: r[9].text ?? "") ?? .failed, stateReason: r[10].text,
                               isPublic: r[11].int == 1, launchProjects: (launch[id] ?? []).sorted(), size: r[12].int ?? 0, createdAt: r[13].int ?? 0)
        }
    }

    public func setImageState(_ id: String, _ state: ImageRecord.State, reason: String?, size: Int64) async throws {
        try await write { db in
            guard try db.run("UPDATE images SET state = ?, state_reason = ?, size = ? WHERE id = ?",
                             [.text(state.rawValue), reason.map { .text($0) } ?? .null, .int(size), .text(id)]) == 1 else {
                throw ControlPlaneError.notFound("image \(id)")
            }
        }
    }

    public func setImageLaunchPermission(_ id: String, isPublic: Bool, projects: [String]) async throws {
        try await write { db in
            guard try db.run("UPDATE images SET is_public = ? WHERE id = ?", [.int(isPublic ? 1 : 0), .text(id)]) == 1 else {
                throw ControlPlaneError.notFound("image \(id)")
            }
            try db.run("DELETE FROM image_launch_permissions WHERE image_id = ?", [.text(id)])
            for p in Set(projects) { try db.run("INSERT INTO image_launch_permissions VALUES (?, ?)", [.text(id), .text(p)]) }
        }
    }

    public func deleteImage(_ id: String) async throws {
        try await write { db in
            guard try db.run("DELETE FROM images WHERE id = ?", [.text(id)]) == 1 else { throw ControlPlaneError.notFound("image \(id)") }
            try db.run("DELETE FROM image_launch_permissions WHERE image_id = ?", [.text(id)])
        }
    }
}
