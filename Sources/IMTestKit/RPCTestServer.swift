import IMNet

/// Runs `body` with a client of an RPC server for `handler` on 127.0.0.1 (a free port), on a
/// one-loop group of its own; the server and the group are stopped afterwards either way.
public func withRPCClient<T>(
    serving handler: any RPCHandler, _ body: (RPCClient) async throws -> T
) async throws -> T {
    let group = try EventLoopGroup(loopCount: 1)
    group.start()
    defer { group.shutdown() }
    let server = RPCServer(group: group, handler: handler)
    let address = try server.start(host: "127.0.0.1", port: 0)
    let client = RPCClient(
        address: address, group: group, configuration: .init(callTimeout: .seconds(5)))
    defer { client.close() }
    do {
        let result = try await body(client)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}
