import Foundation

extension BackupWriter.Stats {
    /// duplicity's statistics block, field for field.
    public var text: String {
        let start = startTime.timeIntervalSince1970, end = endTime.timeIntervalSince1970
        var lines = ["--------------[ Backup Statistics ]--------------"]
        lines.append("StartTime \(String(format: "%.2f", start)) (\(Self.ctime(start)))")
        lines.append("EndTime \(String(format: "%.2f", end)) (\(Self.ctime(end)))")
        lines.append("ElapsedTime \(String(format: "%.2f", end - start)) (\(Self.duration(end - start)))")
        lines.append("SourceFiles \(sourceFiles)")
        lines.append("SourceFileSize \(sourceFileSize) (\(Self.bytes(sourceFileSize)))")
        lines.append("NewFiles \(newFiles)")
        lines.append("NewFileSize \(newFileSize) (\(Self.bytes(newFileSize)))")
        lines.append("DeletedFiles \(deletedFiles)")
        lines.append("ChangedFiles \(changedFiles)")
        lines.append("ChangedFileSize \(changedFileSize) (\(Self.bytes(changedFileSize)))")
        lines.append("ChangedDeltaSize \(changedDeltaSize) (\(Self.bytes(changedDeltaSize)))")
        lines.append("DeltaEntries \(deltaEntries)")
        lines.append("RawDeltaSize \(rawDeltaSize) (\(Self.bytes(rawDeltaSize)))")
        lines.append("TotalDestinationSizeChange \(totalDestinationSizeChange) (\(Self.bytes(totalDestinationSizeChange)))")
        lines.append("Errors \(errors)")
        lines.append("-------------------------------------------------")
        return lines.joined(separator: "\n")
    }

    /// duplicity's byte summary: "1 byte", "512 bytes", "2.50 KB", "12.3 MB", "120 GB".
    public static func bytes(_ count: Int64) -> String {
        let sign = count < 0 ? "-" : ""
        let n = Double(abs(count))
        for (unit, name) in [(1 << 40, "TB"), (1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")] where n >= Double(unit) {
            let value = n / Double(unit)
            let precision = value >= 100 ? 0 : value >= 10 ? 1 : 2
            return sign + String(format: "%.\(precision)f \(name)", value)
        }
        return abs(count) == 1 ? "\(sign)1 byte" : "\(sign)\(abs(count)) bytes"
    }

    /// duplicity's time string: "1 hour 2 minutes 3.45 seconds", leading zero parts left out.
    static func duration(_ seconds: Double) -> String {
        var parts: [String] = []
        let hours = Int(seconds) / 3600, minutes = (Int(seconds) % 3600) / 60
        let rest = seconds - Double(hours * 3600 + minutes * 60)
        if hours > 0 { parts.append(hours == 1 ? "1 hour" : "\(hours) hours") }
        if minutes > 0 { parts.append(minutes == 1 ? "1 minute" : "\(minutes) minutes") }
        if hours == 0 || rest > 0 { parts.append(String(format: "%.2f seconds", rest)) }
        return parts.joined(separator: " ")
    }

    static func ctime(_ t: Double) -> String {
        var tt = time_t(t)
        var buf = [CChar](repeating: 0, count: 64)
        ctime_r(&tt, &buf)
        return String(cString: buf).trimmingCharacters(in: .newlines)
    }
}
