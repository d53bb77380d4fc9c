/// Why an RPC call failed (see `RPCClient.call`).
///
/// Callers decide on retries by case, never by message text: `timeout` and `disconnected`
/// are transient (the call may or may not have run on the server for `timeout`, and did not
/// reach it for `disconnected` when it failed fast), `remote` is the server's answer,
/// `protocolError` means the two sides disagree about the wire format.
public enum RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No reply within the call's timeout. The server may still run the call.
    case timeout
    /// No connection: the client is waiting to reconnect (the call failed at once without
    /// being sent), or the connection was lost while the call was in flight.
    case disconnected
    /// The server's handler threw; the message is its description.
    case remote(String)
    /// The peer broke the wire format (bad header, unknown reply flag, oversize frame,
    /// undecodable payload), or sent what cannot be decoded; the connection is closed.
    case protocolError(String)
    /// The payload is over the client's `maxPayloadSize`; nothing was sent.
    case payloadTooLarge(size: Int, limit: Int)
    /// Too many calls are waiting on this client (`maxPendingCalls`) or too many bytes are
    /// queued for the server (`maxOutboundBytes`); nothing was sent.
    case overloaded
    /// The client was closed, or its event loop has shut down.
    case closed

    public var description: String {
        switch self {
        case .timeout: return "RPC call timed out"
        case .disconnected: return "RPC server not connected"
        case .remote(let message): return "RPC server error: \(message)"
        case .protocolError(let reason): return "RPC protocol error: \(reason)"
        case .payloadTooLarge(let size, let limit):
            return "RPC payload of \(size) bytes is over the \(limit)-byte limit"
        case .overloaded: return "RPC client overloaded: too many calls waiting"
        case .closed: return "RPC client closed"
        }
    }
}
