import CLinux
import Glibc

/// An IPv4 host and port, as given on the command line or seen on an accepted socket.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// A dotted IPv4 address or a host name.
    public var host: String
    /// 0...65535; 0 asks the kernel for a free port when listening.
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` (`127.0.0.1:3101`, `localhost:0`). An empty host (`:8080`) means all
    /// interfaces, `0.0.0.0`. Throws on a missing or out-of-range port, IPv6 addresses (not
    /// supported), or characters that cannot be in a host name.
    public init(parsing text: String) throws(SocketAddressError) {
        guard let colon = text.lastIndex(of: ":") else {
            throw SocketAddressError(input: text, reason: "expected HOST:PORT")
        }

        let host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard !host.contains(":"), !host.hasPrefix("[") else {
            throw SocketAddressError(input: text, reason: "IPv6 addresses are not supported")
        }
        guard host.utf8.allSatisfy(Self.isHostByte) else {
            throw SocketAddressError(input: text, reason: "invalid host name")
        }
        guard (1...5).contains(portText.count),
            portText.utf8.allSatisfy({ (48...57).contains($0) }),
            let port = Int(portText), port <= 65535
        else {
            throw SocketAddressError(input: text, reason: "port must be a number from 0 to 65535")
        }

        self.init(host: host.isEmpty ? "0.0.0.0" : host, port: port)
    }

    public var description: String { "\(host):\(port)" }

    /// The address in a kernel `sockaddr_in`.
    init(_ address: sockaddr_in) {
        var raw = address.sin_addr
        let host = withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(INET_ADDRSTRLEN)) {
            text in
            guard inet_ntop(AF_INET, &raw, text.baseAddress, socklen_t(text.count)) != nil else {
                return "0.0.0.0"
            }
            return String(cString: text.baseAddress!)
        }
        self.init(host: host, port: Int(UInt16(bigEndian: address.sin_port)))
    }

    private static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"),
            UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }

    /// Resolves `host` to an IPv4 address: a dotted address as is, a name through
    /// `getaddrinfo` (the first IPv4 answer).
    static func resolveIPv4(_ host: String) throws(SocketAddressError) -> in_addr {
        let name = host.isEmpty ? "0.0.0.0" : host
        var address = in_addr()
        if inet_pton(AF_INET, name, &address) == 1 { return address }

        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var results: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(name, nil, &hints, &results)
        guard code == 0 else {
            let reason = String(cString: gai_strerror(code))
            throw SocketAddressError(input: host, reason: "cannot resolve host: \(reason)")
        }
        defer { freeaddrinfo(results) }

        guard let resolved = results?.pointee.ai_addr else {
            throw SocketAddressError(input: host, reason: "cannot resolve host: no IPv4 address")
        }
        return resolved.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
    }
}

/// A host/port that cannot be parsed or resolved.
public struct SocketAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text as given.
    public let input: String
    /// What is wrong with it.
    public let reason: String

    public init(input: String, reason: String) {
        self.input = input
        self.reason = reason
    }

    public var description: String { "invalid address '\(input)': \(reason)" }
}
