/// A domain's state as libvirt reports it (virDomainState), in the words EC2 maps to instance states.
public enum DomainState: Int32, Sendable {
    case noState = 0, running = 1, blocked = 2, paused = 3, shuttingDown = 4, shutOff = 5, crashed = 6, suspended = 7

    /// Alive as far as a user is concerned.
    public var isActive: Bool { self == .running || self == .blocked || self == .paused || self == .shuttingDown }
}
