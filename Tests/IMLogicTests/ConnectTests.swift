import IMCore
import Synchronization
import Testing

@testable import IMLogic

@Suite struct ConnectTests {
    @Test func decimalTokenJoinsRoomOne() async throws {
        let fixture = try LogicFixture()

        let result = try await fixture.logic.connect(server: 3, token: Array("42".utf8))

        #expect(result == ConnectResult(key: SessionKey(user: 42, seq: 1), room: 1))
        #expect(
            await fixture.router.table.sessions(of: [42])[42] == [
                SessionRecord(seq: 1, server: 3, room: 1)
            ])
    }

    @Test func jsonTokenPicksTheRoomAndSeqsCountUp() async throws {
        let fixture = try LogicFixture()

        let first = try await fixture.logic.connect(
            server: 1, token: Array(#"{"mid":5,"room":9}"#.utf8))
        let second = try await fixture.logic.connect(server: 2, token: Array(#"{"mid":5}"#.utf8))

        #expect(first == ConnectResult(key: SessionKey(user: 5, seq: 1), room: 9))
        #expect(second == ConnectResult(key: SessionKey(user: 5, seq: 2), room: nil))
    }

    @Test(arguments: [
        "", "abc", "-1", "+1", "1.5", #""123""#, #"{"mid":-3}"#, #"{"mid":1,"room":-1}"#,
    ])
    func badTokenIsRefused(token: String) async throws {
        let fixture = try LogicFixture()

        await #expect(throws: ConnectError.refused) {
            try await fixture.logic.connect(server: 1, token: Array(token.utf8))
        }
        #expect(fixture.router.table.sessionCount == 0)
        #expect(fixture.logic.metrics.authRefusals.current == 1)
    }

    @Test func negativeIdsFromACustomAuthenticatorAreRefused() async throws {
        let fixture = try LogicFixture()
        let identities = [Identity(user: -1, room: 1), Identity(user: 1, room: -1)]

        for identity in identities {
            let logic = Logic(
                routers: fixture.logic.routers, publisher: fixture.publisher,
                authenticator: FixedAuthenticator(identity: identity))
            await #expect(throws: ConnectError.refused) {
                try await logic.connect(server: 1, token: [])
            }
        }
        #expect(fixture.router.table.sessionCount == 0)
    }

    @Test func customAuthenticatorDecidesTheIdentity() async throws {
        let fixture = try LogicFixture()
        let logic = Logic(
            routers: fixture.logic.routers, publisher: fixture.publisher,
            authenticator: FixedAuthenticator(identity: Identity(user: 77, room: nil)))

        let result = try await logic.connect(server: 1, token: Array("anything".utf8))

        #expect(result == ConnectResult(key: SessionKey(user: 77, seq: 1), room: nil))
    }

    @Test func disconnectRemovesTheSession() async throws {
        let fixture = try LogicFixture()
        let key = try await fixture.connect(11, server: 1)
        let other = try await fixture.connect(11, server: 2)

        let removed = try await fixture.logic.disconnect(server: 1, key: key)
        let again = try await fixture.logic.disconnect(server: 1, key: key)

        #expect(removed)
        #expect(!again)
        let response = await fixture.post("/1/push", [("uid", "11")], json: "{}")
        #expect(response.status == 200)
        #expect(
            fixture.publisher.messages == [
                .multiple(server: 2, keys: [other], body: Array("{}".utf8))
            ])
    }

    @Test func disconnectReportsRouterFailure() async throws {
        let fixture = try LogicFixture()
        let key = try await fixture.connect(11, server: 1)
        fixture.router.goDown()

        await #expect(throws: ConnectError.unavailable("router 1: connection refused")) {
            try await fixture.logic.disconnect(server: 1, key: key)
        }
        #expect(fixture.logic.metrics.routerErrors.current == 1)
    }
}

/// Answers every token with one identity.
private struct FixedAuthenticator: Authenticator {
    var identity: Identity

    func authenticate(token: [UInt8]) -> Identity? { identity }
}
