import Foundation

/// The name of one file of a duplicity backup target (long names, as 0.8.x and 3.x write).
public struct BackupFileName: Equatable, Sendable {
    public enum Kind: Sendable { case fullVolume, fullManifest, fullSignatures, incVolume, incManifest, newSignatures }

    public var kind: Kind
    /// The set's own time (its end).
    public var time: Int64
    /// For incrementals: the time of the set it follows.
    public var previousTime: Int64?
    public var volume: Int?
    public var encrypted: Bool
    public var compressed: Bool

    public init(kind: Kind, time: Int64, previousTime: Int64? = nil, volume: Int? = nil, encrypted: Bool = false, compressed: Bool = true) {
        self.kind = kind
        self.time = time
        self.previousTime = previousTime
        self.volume = volume
        self.encrypted = encrypted
        self.compressed = compressed
    }

    var isFull: Bool { [.fullVolume, .fullManifest, .fullSignatures].contains(kind) }

    /// The file name.
    public var name: String {
        let t = DuplicityTime.format(time)
        let span = previousTime.map { "\(DuplicityTime.format($0)).to.\(t)" } ?? t
        let sfx = encrypted ? ".gpg" : compressed ? ".gz" : ""
        switch kind {
        case .fullVolume: return "duplicity-full.\(t).vol\(volume ?? 1).difftar\(sfx)"
        case .fullManifest: return "duplicity-full.\(t).manifest\(encrypted ? ".gpg" : "")"
        case .fullSignatures: return "duplicity-full-signatures.\(t).sigtar\(sfx)"
        case .incVolume: return "duplicity-inc.\(span).vol\(volume ?? 1).difftar\(sfx)"
        case .incManifest: return "duplicity-inc.\(span).manifest\(encrypted ? ".gpg" : "")"
        case .newSignatures: return "duplicity-new-signatures.\(span).sigtar\(sfx)"
        }
    }

    private static let time = "(\\d{8}[tT]\\d{6}[zZ])"
    private static let sources: [(Kind, String)] = [
        (.fullVolume, "^duplicity-full\\.\(time)\\.vol(\\d+)\\.difftar(\\.gz|\\.gpg)?$"),
        (.fullManifest, "^duplicity-full\\.\(time)\\.manifest(\\.gpg)?$"),
        (.fullSignatures, "^duplicity-full-signatures\\.\(time)\\.sigtar(\\.gz|\\.gpg)?$"),
        (.incVolume, "^duplicity-inc\\.\(time)\\.to\\.\(time)\\.vol(\\d+)\\.difftar(\\.gz|\\.gpg)?$"),
        (.incManifest, "^duplicity-inc\\.\(time)\\.to\\.\(time)\\.manifest(\\.gpg)?$"),
        (.newSignatures, "^duplicity-new-signatures\\.\(time)\\.to\\.\(time)\\.sigtar(\\.gz|\\.gpg)?$"),
    ]
    // The patterns are constants: compiling them cannot fail.
    private static let patterns: [(Kind, NSRegularExpression)] = sources.map { ($0.0, try! NSRegularExpression(pattern: $0.1)) }

    /// Parses a backup file name; nil for anything else (including `.part` files).
    public static func parse(_ name: String) -> BackupFileName? {
        let range = NSRange(name.startIndex..., in: name)
        for (kind, re) in patterns {
            guard let m = re.firstMatch(in: name, range: range) else { continue }
            func group(_ i: Int) -> String? {
                let r = m.range(at: i)
                return r.location == NSNotFound ? nil : String(name[Range(r, in: name)!])
            }
            let suffix = group(m.numberOfRanges - 1)
            var f = BackupFileName(kind: kind, time: 0, encrypted: suffix == ".gpg", compressed: suffix == ".gz")
            switch kind {
            case .fullVolume:
                f.time = DuplicityTime.parse(group(1)!) ?? 0
                f.volume = Int(group(2)!)
            case .fullManifest, .fullSignatures:
                f.time = DuplicityTime.parse(group(1)!) ?? 0
            case .incVolume:
                f.previousTime = DuplicityTime.parse(group(1)!)
                f.time = DuplicityTime.parse(group(2)!) ?? 0
                f.volume = Int(group(3)!)
            case .incManifest, .newSignatures:
                f.previousTime = DuplicityTime.parse(group(1)!)
                f.time = DuplicityTime.parse(group(2)!) ?? 0
            }
            return f
        }
        return nil
    }
}
