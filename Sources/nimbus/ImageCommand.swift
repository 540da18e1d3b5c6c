import AWSAuth
import ArgumentParser
import ControlPlane
import Digest
import Foundation
import HTTPClientKit
import Images
import NIOCore
import NIOHTTP1
import NimbusClient
import NimbusCore
import PKI

/// `nimbus image …`: euca2ools' bundle tools for today's clouds — the cloud's keys, bundling an
/// image, uploading a bundle into the user's object-store account, registering it.
struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "EC2 image bundles: keys, bundle, upload-bundle, register.",
        subcommands: [Keys.self, BundleImage.self, UploadBundle.self, Register.self])

    static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("nimbus image: \(message)\n".utf8))
        return ExitCode(1)
    }

    static func env(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `nimbus image keys`: the cloud's key pair and certificate (bundles are encrypted for it).
    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make (once) and show the cloud's key and certificate.")
        @OptionGroup var store: StoreOptions
        func run() async throws {
            let authority = try CloudAuthority.open(directory: store.controlDirectory)
            print("cloud certificate: \(authority.certificatePath)\ncloud key: \(authority.keyPath)")
        }
    }

    /// `nimbus image bundle`: euca-bundle-image.
    struct BundleImage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "bundle", abstract: "Bundle an image file (euca-bundle-image).")
        @Option(name: .shortAndLong, help: "The image file.") var image: String
        @Option(name: .shortAndLong, help: "Name prefix of the bundle's files (default: the image's file name).") var prefix: String?
        @Option(name: .shortAndLong, help: "Directory to write the parts and manifest to.") var destination: String = "/tmp"
        @Option(help: "Kernel id for a machine image, or 'true' to bundle a kernel.") var kernel: String?
        @Option(help: "Ramdisk id for a machine image, or 'true' to bundle a ramdisk.") var ramdisk: String?
        @Option(name: [.customShort("r"), .long], help: "Architecture.") var arch: String = "x86_64"
        @Option(help: "Your certificate (default $EC2_CERT).") var cert: String?
        @Option(help: "Your private key (default $EC2_PRIVATE_KEY).") var privkey: String?
        @Option(help: "The cloud's certificate (default $EUCALYPTUS_CERT).") var ec2cert: String?
        @Option(name: .shortAndLong, help: "Your account id (default $EC2_USER_ID).") var user: String?
        @Option(help: "Bytes per part.") var partSize: Int = 10 * 1024 * 1024

        func run() async throws {
            func read(_ path: String?, _ variable: String, _ what: String) throws -> [UInt8] {
                guard let path = path ?? env(variable) else { throw fail("no \(what): give --\(what) or set \(variable)") }
                guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read \(path)") }
                return Array(data)
            }
            do {
                var writer = BundleWriter(user: user ?? env("EC2_USER_ID") ?? "",
                                          userKey: try PrivateKey(pem: read(privkey, "EC2_PRIVATE_KEY", "privkey")),
                                          userCertificate: try Certificate(pem: read(cert, "EC2_CERT", "cert")),
                                          cloudCertificate: try Certificate(pem: read(ec2cert, "EUCALYPTUS_CERT", "ec2cert")))
                writer.architecture = arch
                writer.kernelID = kernel
                writer.ramdiskID = ramdisk
                writer.partSize = partSize
                var shown = -1
                let manifest = try writer.bundle(imagePath: image, prefix: prefix, into: destination) { done, total in
                    let percent = total == 0 ? 100 : Int(done * 100 / total)
                    if percent != shown {
                        shown = percent
                        FileHandle.standardError.write(Data("\rbundling \(image): \(percent)% (\(done)/\(total) bytes)".utf8))
                    }
                }
                FileHandle.standardError.write(Data("\n".utf8))
                print("Created \(manifest)")
            } catch let e as PKIError {
                throw fail("\(e)")
            } catch let e as BundleError {
                throw fail(e.reason)
            }
        }
    }

    /// `nimbus image upload-bundle`: euca-upload-bundle into the user's object-store account.
    struct UploadBundle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "upload-bundle", abstract: "Upload a bundle (parts in parallel, resumable) into a bucket of your account.")
        @Option(name: .shortAndLong, help: "Bucket (container) to upload into.") var bucket: String
        @Option(name: .shortAndLong, help: "The bundle's manifest; parts are read beside it.") var manifest: String
        @Option(help: "Object-store auth URL (default $ST_AUTH).") var auth: String?
        @Option(help: "Object-store user (default $ST_USER).") var user: String?
        @Option(help: "Object-store key (default $ST_KEY).") var key: String?
        @Option(help: "Parts uploaded at once.") var parallel: Int = 4

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: manifest) else { throw fail("cannot read \(manifest)") }
            let parsed: BundleManifest
            do { parsed = try BundleManifest.parse(Array(data)) } catch { throw fail("\(manifest): \(error.reason)") }
            let client = SwiftClient(credentials: .init(authURL: auth ?? env("ST_AUTH"), user: user ?? env("ST_USER"), key: key ?? env("ST_KEY")))
            defer { client.shutdown() }
            let directory = (manifest as NSString).deletingLastPathComponent
            do {
                try await client.ensureContainer(bucket)
                let files = parsed.parts.map { ($0.filename, (directory as NSString).appendingPathComponent($0.filename)) }
                let uploaded = try await withThrowingTaskGroup(of: Bool.self) { group in
                    var next = 0, count = 0
                    func add() {
                        guard next < files.count else { return }
                        let (name, path) = files[next]
                        next += 1
                        group.addTask { try await Self.upload(client, bucket, name, path) }
                    }
                    for _ in 0..<max(1, min(parallel, 16)) { add() }
                    while let sent = try await group.next() {
                        if sent { count += 1 }
                        add()
                    }
                    return count
                }
                _ = try await client.putObject(bucket, (manifest as NSString).lastPathComponent, file: manifest)
                print("Uploaded \(bucket)/\((manifest as NSString).lastPathComponent) (\(uploaded) of \(files.count) parts sent, the rest already there)")
            } catch let e as ClientError {
                throw fail(e.description)
            }
        }

        /// Sends a part unless the bucket already holds it byte-identical (its ETag is the MD5); true when sent.
        static func upload(_ client: SwiftClient, _ bucket: String, _ name: String, _ path: String) async throws -> Bool {
            guard let data = FileManager.default.contents(atPath: path) else { throw ClientError("part \(path) is missing") }
            let head = try await client.request("HEAD", SwiftClient.path(bucket, name))
            if head.status == 200, head.headers.first(name: "etag")?.trimmingCharacters(in: ["\""]) == Digests.md5Hex(Array(data)) {
                return false
            }
            _ = try await client.putObject(bucket, name, file: path)
            return true
        }
    }

    /// `nimbus image register`: RegisterImage for an uploaded bundle.
    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register an uploaded bundle (bucket/prefix.manifest.xml) as an image.")
        @Argument(help: "bucket/prefix.manifest.xml") var location: String
        @Option(name: .shortAndLong, help: "Image name (default: the manifest's).") var name: String?
        @Option(help: "Kernel id for a machine image.") var kernel: String?
        @Option(help: "Ramdisk id for a machine image.") var ramdisk: String?
        @Option(name: [.customShort("a"), .long], help: "Architecture (default: the manifest's).") var arch: String?
        @Flag(help: "Wait until the image is available (or failed).") var wait = false

        func run() async throws {
            guard let url = env("EC2_URL"), let access = env("EC2_ACCESS_KEY"), let secret = env("EC2_SECRET_KEY") else {
                throw fail("set EC2_URL, EC2_ACCESS_KEY and EC2_SECRET_KEY (source your novarc)")
            }
            let api = try EC2Caller(url: url, accessKey: access, secret: secret, region: env("AWS_DEFAULT_REGION") ?? "nimbus")
            defer { api.shutdown() }
            var params = [("ImageLocation", location)]
            if let name { params.append(("Name", name)) }
            if let kernel { params.append(("KernelId", kernel)) }
            if let ramdisk { params.append(("RamdiskId", ramdisk)) }
            if let arch { params.append(("Architecture", arch)) }
            let id: String
            do { id = try await api.call("RegisterImage", params).value("imageId") ?? "" } catch let error as EC2Caller.Failure {
                throw fail(error.description)
            }
            print("IMAGE\t\(id)")
            guard wait else { return }
            for _ in 0..<3600 {
                let r: EC2Caller.Answer
                do { r = try await api.call("DescribeImages", [("ImageId.1", id)]) } catch let error as EC2Caller.Failure {
                    throw fail(error.description)
                }
                switch r.value("imageState") {
                case "available": print("available"); return
                case "failed": throw fail("\(id) failed: \(r.value("message") ?? "")")
                default: try await Task.sleep(for: .milliseconds(500))
                }
            }
            throw fail("\(id) is still pending")
        }
    }
}
