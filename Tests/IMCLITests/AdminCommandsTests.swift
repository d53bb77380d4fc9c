import Foundation
import Testing

@testable import IMCLI

@Suite struct AdminCommandsTests {
    static let ok = FakeLogic.response("{\"ret\":1}")

    @Test func pushPostsTheMessageToOneUser() throws {
        let logic = try FakeLogic { _ in Self.ok }

        let result = imctl(["push", "--uid", "42", "hello world", "--logic", logic.url])

        #expect(result.status == 0)
        #expect(result.stdout == "ok\n")
        #expect(result.stderr.isEmpty)
        let request = try #require(logic.requests.first)
        #expect(request.method == "POST")
        #expect(request.target == "/1/push?uid=42")
        #expect(request.body == Array("hello world".utf8))
        #expect(request.headers["host"] == "127.0.0.1:\(logic.server.port)")
    }

    @Test func logicURLComesFromTheEnvironmentWhenNoFlag() throws {
        let logic = try FakeLogic { _ in Self.ok }

        let result = imctl(["push-all", "x"], environment: ["IMCTL_LOGIC": logic.url])

        #expect(result.status == 0)
        #expect(logic.requests.map(\.target) == ["/1/push/all"])
    }

    @Test func baseURLPathIsKept() throws {
        let logic = try FakeLogic { _ in Self.ok }

        let result = imctl(["push-all", "x", "--logic", logic.url + "/im/"])

        #expect(result.status == 0)
        #expect(logic.requests.map(\.target) == ["/im/1/push/all"])
    }

    @Test func pushsSendsTheUserListAndTheJSONVerbatim() throws {
        let logic = try FakeLogic { _ in Self.ok }
        let json = "{ \"b\": 2, \"a\": [1.50, \"x\"] }"

        let result = imctl(["pushs", "--uids", "1, 2,3", json, "--logic", logic.url])

        #expect(result.status == 0)
        let request = try #require(logic.requests.first)
        #expect(request.method == "POST")
        #expect(request.target == "/1/pushs")
        #expect(request.headers["content-type"] == "application/json")
        #expect(String(decoding: request.body, as: UTF8.self) == "{\"u\":[1,2,3],\"m\":\(json)}")
    }

    @Test func pushsRefusesAMessageThatIsNotJSON() {
        let result = imctl(["pushs", "--uids", "1", "hello", "--logic", "http://127.0.0.1:9"])

        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("Error: the message for pushs must be valid JSON\n"))
    }

    @Test func pushsRefusesUserIdsThatAreNotIntegers() {
        let result = imctl(["pushs", "--uids", "1,x", "{}"])

        #expect(result.status == 64)
        #expect(
            result.stderr.hasPrefix(
                "Error: invalid value '1,x' for option '--uids': expected comma-separated user ids (0 or more)\n"))
    }

    @Test func pushRoomSendsRoomAndEnsure() throws {
        let logic = try FakeLogic(connections: 2) { _ in Self.ok }

        let plain = imctl(["push-room", "--room", "7", "m", "--logic", logic.url])
        let ensured = imctl(["push-room", "m", "--ensure", "--room=3", "--logic", logic.url])

        #expect(plain.status == 0)
        #expect(ensured.status == 0)
        #expect(logic.requests.map(\.target) == ["/1/push/room?rid=7", "/1/push/room?rid=3&ensure=true"])
    }

    @Test(arguments: [["push", "--uid", "-1", "m"], ["push-room", "--room", "-3", "m"],
        ["server-del", "--server", "-2"], ["pushs", "--uids", "1,-5", "{}"]])
    func negativeIdsAreUsageErrors(_ arguments: [String]) {
        let result = imctl(arguments)

        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("Error: invalid value"))
    }

    @Test func pushRoomRefusesARoomOutsideInt32() {
        let result = imctl(["push-room", "--room", "3000000000", "m"])

        #expect(result.status == 64)
        #expect(
            result.stderr.hasPrefix(
                "Error: invalid value '3000000000' for option '--room': must be between 0 and 2147483647\n"))
    }

    @Test func serverDeletePostsTheServerID() throws {
        let logic = try FakeLogic { _ in Self.ok }

        let result = imctl(["server-del", "--server", "3", "--logic", logic.url])

        #expect(result.status == 0)
        #expect(logic.requests.map(\.method) == ["POST"])
        #expect(logic.requests.map(\.target) == ["/1/server/del?server=3"])
        #expect(logic.requests.first?.body == [])
    }

    @Test func dashReadsStandardInputBytesUnchanged() throws {
        let logic = try FakeLogic { _ in Self.ok }
        let bytes: [UInt8] = [0x00, 0xFF, 0x0A, 0x7B, 0x0D, 0x0A, 0x0A]

        let result = imctl(["push", "--uid", "1", "-", "--logic", logic.url], stdin: bytes)

        #expect(result.status == 0)
        #expect(logic.requests.first?.body == bytes)
    }

    @Test func missingMessageReadsStandardInputWhenItIsNotATerminal() throws {
        let logic = try FakeLogic { _ in Self.ok }

        let result = imctl(["push-all", "--logic", logic.url], stdin: Array("piped\n".utf8))

        #expect(result.status == 0)
        #expect(logic.requests.first?.body == Array("piped\n".utf8))
    }

    @Test func missingMessageOnATerminalIsAUsageError() {
        let result = imctl(["push", "--uid", "1"], stdinIsTerminal: true)

        #expect(result.status == 64)
        #expect(
            result.stderr.hasPrefix(
                "Error: missing <message>: give it as an argument, or '-' to read standard input\n"))
    }

    @Test func jsonFlagPrintsLogicsBodyVerbatim() throws {
        let logic = try FakeLogic { _ in FakeLogic.response("{\"ret\":1,\"extra\":true}") }

        let result = imctl(["push", "--uid", "1", "m", "--json", "--logic", logic.url])

        #expect(result.status == 0)
        #expect(result.stdout == "{\"ret\":1,\"extra\":true}\n")
    }

    @Test func retOtherThanOneFailsWithLogicsMessage() throws {
        let logic = try FakeLogic { _ in FakeLogic.response("{\"ret\":65535,\"msg\":\"router down\"}") }

        let result = imctl(["push", "--uid", "1", "m", "--logic", logic.url])

        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "Error: push failed: router down\n")
    }

    @Test func httpErrorStatusFailsWithStatusAndMessage() throws {
        let logic = try FakeLogic { _ in
            FakeLogic.response("{\"ret\":65535,\"msg\":\"queue full\"}", status: "503 Service Unavailable")
        }

        let result = imctl(["push-room", "--room", "1", "m", "--logic", logic.url])

        #expect(result.status == 1)
        #expect(result.stderr == "Error: push-room failed: HTTP 503: queue full\n")
    }

    @Test func httpErrorWithoutJSONShowsTheBodysFirstLine() throws {
        let logic = try FakeLogic { _ in
            "HTTP/1.1 404 Not Found\r\nContent-Length: 19\r\n\r\n404 page not found\n"
        }

        let result = imctl(["count", "room", "--logic", logic.url])

        #expect(result.status == 1)
        #expect(result.stderr == "Error: count failed: HTTP 404: 404 page not found\n")
    }

    @Test func unreachableLogicFailsWithExit1() throws {
        let port = try unusedPort()

        let result = imctl(["push", "--uid", "1", "m", "--logic", "http://127.0.0.1:\(port)"])

        #expect(result.status == 1)
        #expect(
            result.stderr == "Error: push failed: cannot connect to 127.0.0.1:\(port): Connection refused\n")
    }

    @Test(arguments: ["ftp://host", "not a url", "https://127.0.0.1:7172"])
    func badLogicURLIsAUsageError(url: String) {
        let result = imctl(["push", "--uid", "1", "m", "--logic", url])

        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("Error: invalid value '\(url)' for option '--logic': "))
    }

    @Test func badLogicURLInTheEnvironmentNamesTheVariable() {
        let result = imctl(["push", "--uid", "1", "m"], environment: ["IMCTL_LOGIC": "localhost"])

        #expect(result.status == 64)
        #expect(
            result.stderr.hasPrefix(
                "Error: invalid value 'localhost' in IMCTL_LOGIC: expected a URL such as http://host:port\n"))
    }

    @Test func countRoomPrintsASortedTable() throws {
        let logic = try FakeLogic { _ in
            FakeLogic.response(
                "{\"data\":[{\"RoomId\":12,\"Count\":3},{\"RoomId\":1,\"Count\":250}],\"ret\":1}")
        }

        let result = imctl(["count", "room", "--logic", logic.url])

        #expect(result.status == 0)
        #expect(result.stdout == "ROOM  COUNT\n1     250\n12    3\n")
        #expect(logic.requests.first?.method == "GET")
        #expect(logic.requests.first?.target == "/1/count?type=room")
    }

    @Test func countServerWithNoDataPrintsOnlyTheHeader() throws {
        let logic = try FakeLogic { _ in FakeLogic.response("{\"ret\":1}") }

        let result = imctl(["count", "server", "--logic", logic.url])

        #expect(result.status == 0)
        #expect(result.stdout == "SERVER  COUNT\n")
        #expect(logic.requests.first?.target == "/1/count?type=server")
    }

    @Test func chunkedResponseFromAKeepAliveServerIsRead() throws {
        let logic = try FakeLogic { _ in
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"re\r\n5\r\nt\":1}\r\n0\r\n\r\n"
        }

        let result = imctl(["push-all", "m", "--json", "--logic", logic.url])

        #expect(result.status == 0)
        #expect(result.stdout == "{\"ret\":1}\n")
    }

    @Test func silentServerTimesOutInsteadOfHanging() throws {
        let server = try FakeServer { connection in
            _ = connection.read()  // the request
            _ = connection.read()  // returns once the client gives up and closes
        }
        let client = try LogicHTTPClient(
            baseURL: "http://127.0.0.1:\(server.port)", timeout: .milliseconds(200))

        #expect(throws: SocketError("no response from logic within 200ms")) {
            try client.send(method: "POST", path: "/1/push/all", body: [1])
        }
    }

    private func unusedPort() throws -> UInt16 {
        let server = try FakeServer(connections: 0) { _ in }
        return server.port  // closed again when `server` goes away
    }
}
