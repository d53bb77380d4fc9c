/// Serves the calls that reach an `RPCServer`.
///
/// `handle` runs on a task of its own per call, so calls on one connection run concurrently
/// and their replies go out in the order they finish. Whatever it throws reaches the caller
/// as `RPCError.remote` with the error's description (cut to 1 KiB), and the connection
/// stays open.
public protocol RPCHandler: Sendable {
    /// Answers one call of `method` (1...Int32.max) with `payload` as its request; returns
    /// the reply payload.
    func handle(method: Int32, payload: [UInt8]) async throws -> [UInt8]
}

/// A method id the handler does not serve.
public struct RPCUnknownMethodError: Error, Sendable, Equatable, CustomStringConvertible {
    public let method: Int32

    public init(method: Int32) {
        self.method = method
    }

    public var description: String { "unknown method \(method)" }
}

/// A request payload the method could not decode.
public struct RPCBadRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    public let method: Int32
    public let reason: RPCDecodingError

    public var description: String { "bad request for method \(method): \(reason)" }
}

/// An `RPCHandler` that dispatches by method id to registered closures; unknown ids are
/// answered with an error (`RPCUnknownMethodError`).
///
/// ```swift
/// var methods = RPCMethodTable()
/// methods.register(101) { (request: SessionKey) in try await router.delete(...) }
/// let server = RPCServer(group: group, handler: methods)
/// ```
public struct RPCMethodTable: RPCHandler {
    /// A method on raw payloads.
    public typealias RawMethod = @Sendable ([UInt8]) async throws -> [UInt8]

    private var methods: [Int32: RawMethod] = [:]

    public init() {}

    /// The method ids registered.
    public var registeredMethods: [Int32] { methods.keys.sorted() }

    /// Serves `method` with `body` on raw payloads; replaces an earlier registration.
    ///
    /// - Precondition: `method > 0` (0 is the server's own ping).
    public mutating func register(_ method: Int32, _ body: @escaping RawMethod) {
        precondition(method > 0, "RPC method ids start at 1")
        methods[method] = body
    }

    /// Serves `method` with `body` on typed values: the payload is decoded as `Request`
    /// (a payload that does not decode exactly is refused with `RPCBadRequestError`) and the
    /// result encoded as the reply.
    public mutating func register<
        Request: RPCDecodable & Sendable, Reply: RPCEncodable & Sendable
    >(
        _ method: Int32, _ body: @escaping @Sendable (Request) async throws -> Reply
    ) {
        register(method) { payload in
            let request: Request
            do throws(RPCDecodingError) {
                request = try RPCDecoder.decode(Request.self, from: payload)
            } catch {
                throw RPCBadRequestError(method: method, reason: error)
            }
            return RPCEncoder.encode(try await body(request))
        }
    }

    public func handle(method: Int32, payload: [UInt8]) async throws -> [UInt8] {
        guard let body = methods[method] else { throw RPCUnknownMethodError(method: method) }
        return try await body(payload)
    }
}
