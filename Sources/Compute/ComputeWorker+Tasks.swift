import ControlPlane
import Digest
import Foundation
import NimbusCore

/// The work itself: spawn (images from the cache, a copy-on-write disk, the domain defined and
/// started), reboot and stop (hard: the test guest has no ACPI daemon), terminate (domain
/// destroyed and undefined, files removed). Each is safe to run again after a crash halfway.
extension ComputeWorker {
    func perform(_ instance: Instance) async {
        guard let task = instance.task else { return }
        let started = Date()
        do {
            let state: Instance.State
            switch task {
            case .spawn, .start:
                try await spawn(instance)
                state = .running
            case .reboot:
                try await hypervisor.destroy(domainName(instance.id))
                try await spawn(instance)
                state = .running
            case .stop:
                try await hypervisor.destroy(domainName(instance.id))
                state = .stopped
            case .terminate:
                try await remove(instance)
                state = .terminated
            }
            let current = try await store.finishWork(instance, worker: workerID, state: state, reason: nil)
            let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
            logger.info("\(task.rawValue) \(instance.id): \(state.rawValue) in \(seconds) s\(current ? "" : " (a newer request is queued)")")
        } catch {
            await failed(instance, task, error)
        }
    }

    /// Retries a failed task later, or gives up: the instance goes to `error` (a failed
    /// terminate still ends `terminated` once its domain is surely gone) and its resources are freed.
    func failed(_ instance: Instance, _ task: Instance.Task, _ error: any Error) async {
        let attempts = (try? await store.attempts(instance.id)) ?? config.maxAttempts
        let permanent = error is ImageCache.Unavailable || error is ImageCache.Mismatch
        if !permanent && attempts < config.maxAttempts {
            logger.warning("\(task.rawValue) \(instance.id) failed (attempt \(attempts) of \(config.maxAttempts)), retrying: \(error)")
            // Backing off (2, 4, 8, 16 s): long enough to ride out a libvirtd restart.
            try? await Task.sleep(nanoseconds: UInt64(1 << min(attempts, 5)) * 1_000_000_000)
            try? await store.unclaim(instance, worker: workerID)
            return
        }
        logger.error("\(task.rawValue) \(instance.id) failed: \(error)")
        let reason = "Server.InternalError: \(task.rawValue) failed: \(error)"
        switch task {
        case .spawn, .terminate:
            // A launch that cannot happen frees everything; a terminate ends terminated however it went.
            try? await remove(instance)
            _ = try? await store.finishWork(instance, worker: workerID, state: task == .terminate ? .terminated : .error, reason: reason)
        case .reboot, .start, .stop:
            // The instance keeps its disk and addresses: stopped, to be started again.
            try? await hypervisor.destroy(domainName(instance.id))
            _ = try? await store.finishWork(instance, worker: workerID, state: .stopped, reason: reason)
        }
    }

    /// Boots the instance (idempotent: a running domain is left alone).
    func spawn(_ instance: Instance) async throws {
        let name = domainName(instance.id)
        if let state = try? await hypervisor.state(name), state.isActive { return }
        guard let kernelID = instance.kernelID else { throw ComputeError("the instance has no kernel") }
        async let kernel = cachedImage(kernelID)
        async let ramdisk = cachedImage(instance.ramdiskID)
        async let image = cachedImage(instance.imageID)
        let (kernelPath, ramdiskPath, imagePath) = try await (kernel, ramdisk, image)
        let dir = directory(of: instance.id)
        let disk = (dir as NSString).appendingPathComponent("disk.qcow2")
        let console = (dir as NSString).appendingPathComponent("console.log")
        let makeDisk = config.makeDisk
        try await files.runIfActive {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
            if !FileManager.default.fileExists(atPath: disk) {
                let tmp = disk + ".new"
                unlink(tmp)
                try makeDisk(imagePath, tmp)
                guard rename(tmp, disk) == 0 else { throw ComputeError("cannot create \(disk)") }
            }
        }
        var spec = DomainSpec(name: name, memoryMiB: instance.memoryMiB, vcpus: instance.vcpus)
        // The same UUID every time, so defining the domain again (reboot, a retry) updates it.
        spec.uuid = Self.uuid(for: instance.id)
        spec.virtType = config.virtType
        spec.kernel = kernelPath
        spec.ramdisk = ramdiskPath
        spec.disk = disk
        spec.consoleLog = console
        if let bridge = config.bridge {
            spec.bridge = bridge
            spec.mac = instance.mac
        }
        _ = try await hypervisor.define(xml: spec.xml)
        try await hypervisor.start(name)
    }

    /// A stable UUID (version-4 layout) from the instance id.
    static func uuid(for id: String) -> String {
        var b = Array(Digests.sha256Hex(Array(id.utf8)).prefix(32))
        b[12] = "4"
        b[16] = "8"
        let s = String(b)
        let parts = [s.prefix(8), s.dropFirst(8).prefix(4), s.dropFirst(12).prefix(4), s.dropFirst(16).prefix(4), s.dropFirst(20)]
        return parts.map(String.init).joined(separator: "-")
    }

    func cachedImage(_ id: String?) async throws -> String? {
        guard let id else { return nil }
        return try await cachedImage(id)
    }

    func cachedImage(_ id: String) async throws -> String {
        let sha256 = try await source.sha256(of: id)
        return try await cache.path(for: id, sha256: sha256)
    }

    /// Destroys and undefines the domain and removes the instance's files.
    func remove(_ instance: Instance) async throws {
        let name = domainName(instance.id)
        try await hypervisor.destroy(name)
        try await hypervisor.undefine(name)
        let dir = directory(of: instance.id)
        try await files.runIfActive {
            if FileManager.default.fileExists(atPath: dir) { try FileManager.default.removeItem(atPath: dir) }
        }
    }

    /// Brings the store and libvirt into line: a running instance whose domain is no longer
    /// active shut itself down (`stopped`); a domain of ours that no live instance of this
    /// host owns is removed.
    func reconcile() async throws {
        let mine = try await store.instances(project: nil).filter { $0.host == config.host }
        let domains = Set(try await hypervisor.domains())
        for i in mine where i.task == nil && i.state == .running {
            let state = domains.contains(domainName(i.id)) ? try await hypervisor.state(domainName(i.id)) : .shutOff
            if !state.isActive {
                _ = try await store.setInstanceState(i.id, from: .running, to: .stopped,
                                                     reason: "Client.InstanceInitiatedShutdown: the instance shut down")
                logger.notice("instance \(i.id) is no longer running: stopped")
            }
        }
        let owned = Set(mine.filter { !$0.state.isFinal }.map { domainName($0.id) })
        for d in domains where d.hasPrefix(config.domainPrefix + "-i-") && !owned.contains(d) {
            // Terminated while the worker was away, or a launch that never got recorded.
            if let i = try await store.instance(String(d.dropFirst(config.domainPrefix.count + 1))), i.host != config.host, !i.state.isFinal {
                continue  // another host's (a shared libvirt in tests): not ours to remove
            }
            logger.notice("removing orphaned domain \(d)")
            try? await hypervisor.destroy(d)
            try? await hypervisor.undefine(d)
        }
    }
}
