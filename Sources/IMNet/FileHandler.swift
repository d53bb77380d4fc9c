import CLinux

/// Readiness reported by (or requested from) an event loop for one descriptor.
public struct IOEvents: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// Data (or a pending connection, or end of stream) can be read.
    public static let readable = IOEvents(rawValue: 1 << 0)
    /// The send buffer has room.
    public static let writable = IOEvents(rawValue: 1 << 1)
    /// The peer hung up. Reported whether or not it was asked for.
    public static let hangup = IOEvents(rawValue: 1 << 2)
    /// The descriptor has a pending error. Reported whether or not it was asked for.
    public static let error = IOEvents(rawValue: 1 << 3)

    /// Interest in nothing: the descriptor stays registered but only hangup and error are
    /// reported (a paused listener, a connection not reading under back-pressure).
    public static let none: IOEvents = []

    public var description: String {
        let names = [
            (IOEvents.readable, "readable"), (.writable, "writable"), (.hangup, "hangup"),
            (.error, "error"),
        ]
        return "[" + names.filter { contains($0.0) }.map(\.1).joined(separator: ", ") + "]"
    }

    /// The epoll interest mask. Only readable and writable can be asked for; epoll always
    /// reports hangup and error.
    var epollMask: UInt32 {
        var mask: UInt32 = 0
        if contains(.readable) { mask |= clinux_epollin() }
        if contains(.writable) { mask |= clinux_epollout() }
        return mask
    }

    /// The events in an epoll result.
    init(epollMask mask: UInt32) {
        var events: IOEvents = []
        if mask & clinux_epollin() != 0 { events.insert(.readable) }
        if mask & clinux_epollout() != 0 { events.insert(.writable) }
        if mask & (clinux_epollhup() | clinux_epollrdhup()) != 0 { events.insert(.hangup) }
        if mask & clinux_epollerr() != 0 { events.insert(.error) }
        self = events
    }
}

/// An object that owns one descriptor on one event loop: a listener, a connection, a pipe.
///
/// All methods are called on the loop's thread. The loop keeps a strong reference to a
/// registered handler until `deregister` (or shutdown).
///
/// Contract for implementers:
/// - `handleEvents` must act on `.hangup` and `.error` (usually by closing), even when it asked
///   for no events: the loop is level-triggered, so an ignored condition is reported again at
///   once and the loop would spin.
/// - Close the descriptor only after `deregister`; closing first lets the number be reused by
///   another socket while the loop still maps it to this handler.
public protocol FileHandler: AnyObject {
    /// The descriptor; must stay the same while registered.
    var fd: Int32 { get }

    /// The descriptor is ready for `events`.
    func handleEvents(_ events: IOEvents)

    /// Called once after the batch in which `EventLoop.scheduleFlush` was called, if the
    /// handler is still registered. Default: nothing.
    func flush()

    /// The loop is stopping; the handler has already been removed from it. Default: closes
    /// `fd`. Handlers of accepted sockets override it to also `FileLimit.release()`.
    func loopDidShutdown()
}

extension FileHandler {
    public func flush() {}

    public func loopDidShutdown() {
        System.close(fd)
    }
}
