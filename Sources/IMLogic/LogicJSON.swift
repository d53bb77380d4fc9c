import IMCore

/// The response bodies of the HTTP API, written by hand: goim's key order (`data` before `ret`),
/// no trailing newline, and no Foundation encoder on the request path.
enum LogicJSON {
    /// goim's success code.
    static let ok = 1
    /// goim's only failure code.
    static let failed = 65535

    static let success = #"{"ret":1}"#

    static func failure(_ message: String) -> String {
        #"{"ret":\#(failed),"msg":\#(quoted(message))}"#
    }

    /// `{"data":[{"RoomId":1,"Count":3}],"ret":1}`, entries sorted by room id.
    static func roomCounts(_ counts: [RoomID: Int]) -> String {
        countList(counts, idName: "RoomId")
    }

    /// `{"data":[{"Server":1,"Count":5}],"ret":1}`, entries sorted by server id.
    static func serverCounts(_ counts: [ServerID: Int]) -> String {
        countList(counts, idName: "Server")
    }

    private static func countList(_ counts: [Int32: Int], idName: String) -> String {
        let entries = counts.keys.sorted().map { id in
            #"{"\#(idName)":\#(id),"Count":\#(counts[id] ?? 0)}"#
        }
        return #"{"data":[\#(entries.joined(separator: ","))],"ret":\#(ok)}"#
    }

    /// A JSON string literal for `text`.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Caller-supplied text quoted in an error message, cut short so an error stays small.
    static func excerpt(_ text: String, limit: Int = 64) -> String {
        guard text.count > limit else { return "\"\(text)\"" }
        return "\"\(text.prefix(limit))…\""
    }
}
