import Foundation

/// Start-up housekeeping for a device.
public enum DeviceMaintenance {
    /// Removes temp files left by writes that died (crash, kill -9, client gone).
    @discardableResult
    public static func cleanTemp(devicePath: String) -> Int {
        let tmp = "\(devicePath)/tmp"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: tmp) else { return 0 }
        var removed = 0
        for name in names where unlink("\(tmp)/\(name)") == 0 { removed += 1 }
        return removed
    }
}
