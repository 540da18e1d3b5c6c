import Digest

/// New EC2 access and secret keys, in the shapes AWS clients expect (20 upper-case letters and
/// digits; 40 characters of base64's alphabet).
enum CredentialMaker {
    static func accessKey() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
        return "NIMB" + String(decoding: Digests.randomBytes(16).map { alphabet[Int($0 & 31)] }, as: UTF8.self)
    }

    static func secretKey() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        return String(decoding: Digests.randomBytes(40).map { alphabet[Int($0 & 63)] }, as: UTF8.self)
    }
}
