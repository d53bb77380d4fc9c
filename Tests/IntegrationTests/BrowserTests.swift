import Foundation
import IMTestKit
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Debian's Chromium (`scripts/install-deps --test` installs it), or `IMCTL_CHROMIUM`; nil when
/// neither is there.
let chromiumBinary: String? = {
    let explicit = ProcessInfo.processInfo.environment["IMCTL_CHROMIUM"]
    let candidates = [explicit, "/usr/bin/chromium"].compactMap { $0 }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// The acceptance check from the issue: a real browser page connects to `/sub`, authenticates
/// in JSON mode as uid 1001, and shows a message sent with `imctl push --uid 1001`.
@Suite(.serialized)
struct BrowserTests {
    static let message = "hello from imctl"

    @Test func headlessChromiumPageShowsAMessagePushedWithImctl() throws {
        let chromium = try #require(
            chromiumBinary, "Chromium is not installed: run scripts/install-deps --test")
        let server = try ServerProcess(
            arguments: [
                "serve", "all", "--tcp", "127.0.0.1:0", "--ws", "127.0.0.1:0",
                "--http", "127.0.0.1:0", "--log-level", "info",
            ],
            awaiting: ["ws", "http"])
        defer { server.stop() }
        let ws = try #require(server.addresses["ws"])
        let http = try #require(server.addresses["http"])

        let workspace = try TemporaryWorkspace()
        defer { workspace.remove() }
        let reports = try BrowserReports()
        defer { reports.stop() }
        let page = try workspace.write(
            "page.html", BrowserPage.html(webSocket: ws, reportPort: reports.port))

        let browser = try HeadlessChromium(binary: chromium, page: page, workspace: workspace)
        defer { browser.stop() }
        func context() -> Comment {
            """
            reports: \(reports.all)
            chromium log tail:\n\(browser.logTail)
            server:\n\(server.log)
            """
        }

        let authed = try #require(reports.wait(for: "authed", timeout: 30), context())
        #expect(authed == #"[{"ver":1,"op":8,"seq":1,"body":{}}]"#, context())

        let push = try CommandRunner.imctl(
            ["push", "--uid", "1001", Self.message, "--logic", "http://\(http)"])
        #expect(push.status == 0, "imctl push: \(push.stdout)\(push.stderr)")

        let shown = try #require(reports.wait(for: "got", timeout: 30), context())
        #expect(shown == Self.message, context())
    }
}

/// The page the browser loads. It reports what happens to the test by fetching
/// `http://127.0.0.1:<reportPort>/<event>?m=<detail>`; `authed` carries the reply re-encoded
/// (so framing whitespace does not matter), `got` the text the page shows.
enum BrowserPage {
    static func html(webSocket: HostPort, reportPort: UInt16) -> String {
        #"""
        <!doctype html>
        <meta charset="utf-8">
        <title>imctl browser check</title>
        <div id="got"></div>
        <script>
        function report(event, detail) {
            const url = "http://127.0.0.1:\#(reportPort)/" + event
                + "?m=" + encodeURIComponent(detail);
            fetch(url, {mode: "no-cors"}).catch(() => {});
        }

        const ws = new WebSocket("ws://\#(webSocket)/sub");
        ws.onopen = () => ws.send(JSON.stringify({ver: 1, op: 7, seq: 1, body: 1001}));
        ws.onerror = () => report("error", "websocket error");
        ws.onclose = (event) => report("closed", String(event.code));
        ws.onmessage = (event) => {
            const frames = JSON.parse(event.data);
            for (const frame of frames) {
                if (frame.op === 8) report("authed", JSON.stringify(frames));
                if (frame.op !== 5) continue;
                const shown = document.getElementById("got");
                const body = frame.body;
                shown.textContent = typeof body === "string" ? body : JSON.stringify(body);
                report("got", shown.textContent);
            }
        };
        </script>
        """#
    }
}

/// A unique directory under the system temp dir, removed by `remove()`.
struct TemporaryWorkspace {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("imctl-browser-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
    }

    func write(_ name: String, _ text: String) throws -> URL {
        let file = url.appendingPathComponent(name)
        try Data(text.utf8).write(to: file)
        return file
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// `chromium --headless=new` showing one page, with its own profile in the workspace and its
/// output in a log file there. `--no-sandbox` because tests may run as root.
final class HeadlessChromium {
    private let process = Process()
    private let logFile: URL

    init(binary: String, page: URL, workspace: TemporaryWorkspace) throws {
        logFile = workspace.url.appendingPathComponent("chromium.log")
        try Data().write(to: logFile)
        let log = try FileHandle(forWritingTo: logFile)

        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--user-data-dir=\(workspace.url.appendingPathComponent("profile").path)",
            page.absoluteString,
        ]
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    /// The last lines Chromium logged, for failure messages.
    var logTail: String {
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(20).joined(separator: "\n")
    }

    /// SIGTERM (Chromium then closes its helper processes), SIGKILL if it lingers past 10 s.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)

        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// A tiny blocking HTTP endpoint on 127.0.0.1, port 0, that records each request's path and
/// `m` query parameter and answers 204. Each connection is read on its own thread, bounded to
/// 8 KiB and 5 s, so a browser's idle preconnect never stalls the next report.
final class BrowserReports: Sendable {
    struct Report: Sendable, CustomStringConvertible {
        var event: String
        var detail: String

        var description: String { "\(event)=\(detail)" }
    }

    let port: UInt16
    private let listener: Int32
    private let reports = Mutex<[Report]>([])
    private let stopping = Atomic<Bool>(false)

    init() throws {
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw ReportsError.socket(errno) }
        do {
            port = try Self.bindLoopback(listener)
        } catch {
            close(listener)
            throw error
        }
        Thread.detachNewThread { [self] in self.acceptLoop() }
    }

    enum ReportsError: Error {
        case socket(Int32)
    }

    var all: [Report] { reports.withLock { $0 } }

    /// Polls until a report named `event` arrives; its detail, or nil after `timeout`.
    func wait(for event: String, timeout: TimeInterval) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if let found = all.first(where: { $0.event == event }) { return found.detail }
            usleep(20_000)
        } while Date() < deadline
        return nil
    }

    /// The accept loop notices within 100 ms and closes the listener itself.
    func stop() {
        stopping.store(true, ordering: .relaxed)
    }

    private static func bindLoopback(_ fd: Int32) throws -> UInt16 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = in_addr_t(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && listen(fd, 16) == 0
                    && getsockname(fd, generic, &length) == 0
            }
        }
        guard bound else { throw ReportsError.socket(errno) }
        return UInt16(bigEndian: address.sin_port)
    }

    private func acceptLoop() {
        while !stopping.load(ordering: .relaxed) {
            var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 100) > 0 else { continue }

            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            Thread.detachNewThread { [self] in self.answer(client) }
        }
        close(listener)
    }

    private func answer(_ client: Int32) {
        defer { close(client) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        guard let target = Self.requestTarget(client) else { return }
        if let report = Self.report(from: target) { reports.withLock { $0.append(report) } }

        let reply = "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\n"
            + "Connection: close\r\n\r\n"
        _ = reply.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }

    /// The second word of the request line, once the whole line has arrived.
    private static func requestTarget(_ client: Int32) -> String? {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while received.count < 8192 {
            let count = recv(client, &chunk, chunk.count, 0)
            guard count > 0 else { return nil }
            received += chunk[..<count]

            let text = String(decoding: received, as: UTF8.self)
            guard let line = text.split(separator: "\r\n", maxSplits: 1).first,
                text.contains("\r\n")
            else { continue }
            let words = line.split(separator: " ")
            return words.count == 3 ? String(words[1]) : nil
        }
        return nil
    }

    private static func report(from target: String) -> Report? {
        guard let parts = URLComponents(string: "http://reports" + target) else { return nil }
        let detail = parts.queryItems?.first { $0.name == "m" }?.value ?? ""
        return Report(event: String(parts.path.dropFirst()), detail: detail)
    }
}
