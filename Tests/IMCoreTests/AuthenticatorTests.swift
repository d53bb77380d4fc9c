import IMCore
import Testing

@Suite struct AuthenticatorTests {
    let authenticator = DefaultAuthenticator()

    func identity(_ token: String) -> Identity? {
        authenticator.authenticate(token: Array(token.utf8))
    }

    @Test(arguments: [
        ("1001", Int64(1001)), ("0", 0), ("007", 7), ("9223372036854775807", Int64.max),
    ])
    func decimalTokenIsThatUserInRoomOne(token: String, user: Int64) {
        #expect(identity(token) == Identity(user: user, room: 1))
    }

    @Test func jsonTokenPicksUserAndRoom() {
        #expect(identity(#"{"mid":1003,"room":7}"#) == Identity(user: 1003, room: 7))
    }

    @Test func jsonTokenWithoutRoomHasNoRoom() {
        #expect(identity(#"{"mid":1003}"#) == Identity(user: 1003, room: nil))
        #expect(identity(#"{"mid":1003,"room":null}"#) == Identity(user: 1003, room: nil))
    }

    @Test func jsonTokenIgnoresOrderWhitespaceAndExtraKeys() {
        let token = #" { "room" : 0 , "extra": {"a":[1,2,{"b":null}]}, "mid" : 5 } "#

        #expect(identity(token) == Identity(user: 5, room: 0))
    }

    @Test func jsonTokenAcceptsTheExtremes() {
        #expect(
            identity(#"{"mid":9223372036854775807,"room":2147483647}"#)
                == Identity(user: Int64.max, room: Int32.max))
    }

    @Test(arguments: [
        "", "abc", "-1", "+1", " 1", "1 ", "1.5", "1e3", "0x10", #""123""#,
        "9223372036854775808", "99999999999999999999999",
        #"{"mid":-1}"#, #"{"mid":1.5}"#, #"{"mid":1.0}"#, #"{"mid":1e3}"#, #"{"mid":true}"#,
        #"{"mid":"1"}"#, #"{"mid":null}"#, #"{"room":1}"#, "{}", "[1]", "{",
        #"{"mid":9223372036854775808}"#, #"{"mid":1,"room":-1}"#, #"{"mid":1,"room":2147483648}"#,
        #"{"mid":1,"room":1.5}"#, #"{"mid":1,"room":"7"}"#, #"{"mid":1} x"#, #"{"mid":01}"#,
        #"{"mid":1,}"#, "{'mid':1}", #"{"mid":-0.5}"#,
    ])
    func refusesEverythingElse(token: String) {
        #expect(identity(token) == nil)
    }

    @Test func refusesOverLongTokens() {
        let padded = #"{"mid":1,"pad":""# + String(repeating: "x", count: 1100) + #""}"#
        let longDigits = String(repeating: "0", count: 1025)

        #expect(identity(padded) == nil)
        #expect(identity(longDigits) == nil)
        #expect(identity(String(repeating: "0", count: 1023) + "7") == Identity(user: 7, room: 1))
    }

    @Test func refusesDeeplyNestedJSONWithoutCrashing() {
        let nested =
            #"{"mid":1,"x":"# + String(repeating: "[", count: 500)
            + String(repeating: "]", count: 500) + "}"

        #expect(identity(nested) == nil)
    }

    @Test func refusesInvalidUTF8() {
        #expect(authenticator.authenticate(token: [0xFF, 0xFE]) == nil)
    }
}
