import IMNet

extension HTTPRequest {
    /// Query item `name` as a non-negative `ID`. Missing, non-numeric, negative or out-of-range
    /// values are a 400 (goim truncated or answered an empty 200 instead).
    func nonNegativeID<ID: FixedWidthInteger & SignedInteger>(
        _ name: String, as _: ID.Type
    ) throws(LogicRequestError) -> ID {
        guard let text = query(name) else { throw .badRequest("missing query parameter \(name)") }
        guard let value = ID(text), value >= 0 else {
            let shown = LogicJSON.excerpt(text)
            throw .badRequest("\(name) must be an integer from 0 to \(ID.max), got \(shown)")
        }
        return value
    }

    /// Query item `name` read like Go's `strconv.ParseBool`; missing means false. Any other
    /// spelling (including an empty value) is a 400 rather than goim's silent false.
    func flag(_ name: String) throws(LogicRequestError) -> Bool {
        guard let text = query(name) else { return false }
        switch text {
        case "1", "t", "T", "TRUE", "true", "True": return true
        case "0", "f", "F", "FALSE", "false", "False": return false
        default:
            throw .badRequest("\(name) must be true or false, got \(LogicJSON.excerpt(text))")
        }
    }
}
