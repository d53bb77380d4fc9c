import CLinux
import Glibc
import IMCore
import Synchronization

/// Keeps the process clear of its open-file limit by counting accepted sockets.
///
/// Listeners reserve one descriptor before each `accept4` and stop polling while no
/// reservation is possible, so a server at its limit idles instead of spinning on `EMFILE`.
///
/// **Contract:** every socket accepted by `TCPServer` holds one reservation. Whoever closes an
/// accepted socket (the comet's connections, the HTTP server's) must call `release()` exactly
/// once on the `FileLimit` its listener was given — `FileLimit.shared` unless a test injected
/// another. Forgetting it slowly shrinks the capacity; releasing twice is logged and ignored
/// when the count would go below zero.
///
/// Capacity = `limit - baseline - spare`: `baseline` is what the process held before serving
/// (logs, epoll, listeners), `spare` is left for later non-accepted descriptors (log rotation,
/// outbound client sockets, new listeners).
public final class FileLimit: Sendable {
    /// The process-wide instance: the `RLIMIT_NOFILE` soft limit, the descriptors open at first
    /// use as baseline, and a spare margin of 32.
    public static let shared = FileLimit.forCurrentProcess()

    /// The open-file limit the capacity is computed from.
    public let limit: Int
    /// Descriptors kept free for things other than accepted sockets.
    public let spare: Int
    /// Descriptors already open when counting started.
    public let baseline: Int

    private let reservedCount = Atomic<Int>(0)
    private let lastWarningMillis = Atomic<UInt64>(0)
    private static let warningInterval: UInt64 = 10_000
    private static let logger = Logger(label: "imnet.filelimit")

    /// A limit of `limit` descriptors of which `baseline` are taken and `spare` are kept free.
    public init(limit: Int, spare: Int = 32, baseline: Int = 0) {
        self.limit = limit
        self.spare = spare
        self.baseline = baseline
    }

    /// Accepted sockets that may be open at once.
    public var capacity: Int { max(0, limit - baseline - spare) }

    /// Reservations held now.
    public var reserved: Int { reservedCount.load(ordering: .relaxed) }

    /// Whether one more reservation would succeed right now.
    public var hasRoom: Bool { reserved < capacity }

    /// Takes one reservation; false when that would eat into the spare margin.
    public func tryReserve() -> Bool {
        var current = reservedCount.load(ordering: .relaxed)
        while current < capacity {
            let (exchanged, original) = reservedCount.compareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Gives one reservation back (an accepted socket was closed).
    public func release() {
        var current = reservedCount.load(ordering: .relaxed)
        while current > 0 {
            let (exchanged, original) = reservedCount.compareExchange(
                expected: current, desired: current - 1, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
        Self.logger.warning("file limit released more often than reserved")
    }

    /// Counts a paused listener and logs it, at most once every 10 s.
    func noteAcceptPaused(reason: String) {
        IMNetMetrics.acceptPausedAtFileLimit.increment()

        let now = System.monotonicMillis()
        let last = lastWarningMillis.load(ordering: .relaxed)
        guard last == 0 || now &- last >= Self.warningInterval else { return }
        guard
            lastWarningMillis.compareExchange(expected: last, desired: now, ordering: .relaxed)
                .exchanged
        else { return }

        Self.logger.warning(
            "accept paused at file limit",
            [
                "reason": reason, "reserved": "\(reserved)", "capacity": "\(capacity)",
                "limit": "\(limit)", "pauses": "\(IMNetMetrics.acceptPausedAtFileLimit.current)",
            ])
    }

    private static func forCurrentProcess() -> FileLimit {
        let soft = clinux_nofile_soft_limit()
        // -2 is "unlimited"; -1 means the limit could not be read: assume the usual default.
        let limit = soft == -2 ? Int(Int32.max) : soft < 0 ? 1024 : Int(soft)
        let processLimit = FileLimit(limit: limit, spare: 32, baseline: openDescriptorCount())
        logger.debug(
            "file limit",
            ["limit": "\(limit)", "baseline": "\(processLimit.baseline)", "spare": "32"])
        return processLimit
    }

    /// Descriptors open in this process (entries of /proc/self/fd), 0 if that cannot be read.
    static func openDescriptorCount() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }

        var count = 0
        while let entry = readdir(directory) {
            let isDotEntry = withUnsafeBytes(of: entry.pointee.d_name) {
                $0.first == UInt8(ascii: ".")
            }
            if !isDotEntry { count += 1 }
        }
        // The directory stream itself holds one while we count.
        return max(0, count - 1)
    }
}
