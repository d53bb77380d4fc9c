import Foundation
import IMCore
import IMTestKit
import Testing

/// A Python that can `import websockets` (the virtual environment `scripts/install-deps
/// --test` makes under `$XDG_CACHE_HOME/imctl/ws-venv`, or `IMCTL_WS_PYTHON`), or nil.
let webSocketsPython: String? = {
    let environment = ProcessInfo.processInfo.environment
    let cache = environment["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")
    let candidate = environment["IMCTL_WS_PYTHON"] ?? cache + "/imctl/ws-venv/bin/python"
    return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
}()

/// `imctl serve all` driven over WebSocket by an independent client: Python's `websockets`
/// library; fails when it is missing (see `ExternalTool`).
@Suite(
    .serialized,
    .enabled(
        if: ExternalTool.shouldRun(whenAvailable: webSocketsPython != nil),
        "python3 with websockets missing"))
struct WebSocketTests {
    /// Auths in JSON mode (token as a raw JSON object), heartbeats, echoes, then asks logic's
    /// HTTP API for a room push of a JSON body and a plain-text body and prints each body it
    /// receives as JSON; then does the same in binary mode.
    static let script = #"""
        import json, struct, sys, urllib.request
        from websockets.sync.client import connect

        ws_url, http = sys.argv[1], sys.argv[2]

        def push(room, body):
            request = urllib.request.Request(
                f"http://{http}/1/push/room?rid={room}", data=body.encode(), method="POST")
            urllib.request.urlopen(request, timeout=10).read()

        def reply(ws):
            return json.loads(ws.recv(timeout=10))

        with connect(ws_url) as ws:
            ws.send(json.dumps({"ver": 1, "op": 7, "seq": 1, "body": {"mid": 4242, "room": 9}}))
            print("auth", json.dumps(reply(ws)))
            ws.send('{"ver":1,"op":2,"seq":2}')
            print("heartbeat", json.dumps(reply(ws)))
            ws.send('{"ver":1,"op":4,"seq":3,"body":{"x":[1,2]}}')
            print("echo", json.dumps(reply(ws)))
            push(9, '{"hello":"json"}')
            push(9, 'plain words')
            bodies = []
            while len(bodies) < 2:
                bodies += [entry["body"] for entry in reply(ws)]
            print("pushes", json.dumps(bodies))

        with connect(ws_url) as ws:
            ws.send(struct.pack(">IHHII", 20, 16, 1, 7, 1) + b"4343")
            frame = ws.recv(timeout=10)
            print("binary auth", struct.unpack(">IHHII", frame[:16]))
        """#

    @Test func pythonWebSocketsClientSpeaksBothModes() throws {
        let python = try #require(webSocketsPython, "\(ExternalTool.missing("websockets"))")
        let server = try ServerProcess(
            arguments: [
                "serve", "all", "--tcp", "127.0.0.1:0", "--ws", "127.0.0.1:0",
                "--http", "127.0.0.1:0", "--log-level", "info",
            ],
            awaiting: ["tcp", "ws", "http"])
        defer { _ = server.stop() }
        let ws = try #require(server.addresses["ws"])
        let http = try #require(server.addresses["http"])

        let output = try run(python, ["-c", Self.script, "ws://\(ws)/sub?x=1", "\(http)"])

        #expect(
            output.stdout == """
                auth [{"ver": 1, "op": 8, "seq": 1, "body": {}}]
                heartbeat [{"ver": 1, "op": 3, "seq": 2, "body": {}}]
                echo [{"ver": 1, "op": 5, "seq": 3, "body": {"x": [1, 2]}}]
                pushes [{"hello": "json"}, "plain words"]
                binary auth (16, 16, 1, 8, 1)

                """, "stderr: \(output.stderr)\nserver log:\n\(server.log)")
        #expect(output.status == 0)
    }

    /// Runs `executable` to completion (bounded: killed after 60 s).
    private func run(_ executable: String, _ arguments: [String]) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()

        let watchdog = DispatchWorkItem { [process] in process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        return (
            process.terminationStatus, String(decoding: stdout, as: UTF8.self),
            String(decoding: stderr, as: UTF8.self)
        )
    }
}
