import CHTTPParser

/// Why a request was refused before it reached a handler, with the status to answer.
public struct HTTPRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 400 (bad syntax), 413 (body too large), 414 (URI too long), 431 (header section too
    /// large) or 505 (HTTP version other than 1.x).
    public var status: Int
    /// A short reason, safe to send back in the error body.
    public var message: String

    public init(status: Int, message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status) \(message)" }

    static func badRequest(_ message: String) -> HTTPRequestError {
        HTTPRequestError(status: 400, message: message)
    }
    static let bodyTooLarge = HTTPRequestError(status: 413, message: "request body too large")
    static let uriTooLong = HTTPRequestError(status: 414, message: "request target too long")
    static let headersTooLarge = HTTPRequestError(
        status: 431, message: "request header section too large")
    static let versionNotSupported = HTTPRequestError(
        status: 505, message: "HTTP version not supported")
}

/// A request as read off the wire, with the connection facts the server needs beside it.
public struct HTTPParsedRequest: Sendable {
    public var request: HTTPRequest
    /// Whether the connection may serve another request after this one: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    public var keepAlive: Bool
    /// `Connection: Upgrade` with an `Upgrade` header: the bytes after this request belong to
    /// another protocol (WebSocket). The server answers it as a normal request for now.
    public var isUpgrade: Bool
    public var versionMajor: Int
    public var versionMinor: Int
}

/// Parses the requests of one connection with http_parser. Bytes may be split anywhere.
///
/// `parse(_:)` stops after every complete request, so a server can stop reading while it has
/// too many requests in flight and keep the rest of a read for later. After a `bodyTooLarge`
/// or `malformed` event the parser is dead: the connection answers the error and closes.
///
/// Nothing is buffered beyond the limits: the header section, the URL and the body are
/// checked as they arrive. Loop-confined; not `Sendable`.
public final class HTTPRequestParser {
    /// Size limits. A value of zero or less refuses any non-empty input of that kind.
    public struct Limits: Sendable {
        /// Largest body, declared or de-chunked. Default 1 MiB.
        public var maxBodySize: Int
        /// Largest header section (names and values, trailers included). Default 16 KiB.
        public var maxHeaderSize: Int
        /// Most header fields in one request. Default 100.
        public var maxHeaderCount: Int
        /// Longest request target. Default 8 KiB.
        public var maxURLSize: Int

        public init(
            maxBodySize: Int = 1 << 20, maxHeaderSize: Int = 16 * 1024,
            maxHeaderCount: Int = 100, maxURLSize: Int = 8 * 1024
        ) {
            self.maxBodySize = maxBodySize
            self.maxHeaderSize = maxHeaderSize
            self.maxHeaderCount = maxHeaderCount
            self.maxURLSize = maxURLSize
        }
    }

    public enum Event: Sendable {
        /// The headers asked for `Expect: 100-continue` and the declared body fits: write
        /// `100 Continue` (in response order) so the client sends the body.
        case expectContinue
        /// One complete request.
        case request(HTTPParsedRequest)
        /// The declared or accumulated body passed `maxBodySize`; answer 413 and close.
        case bodyTooLarge
        /// The request is unusable; answer `error.status` and close.
        case malformed(HTTPRequestError)
    }

    public let limits: Limits
    private let parser: UnsafeMutablePointer<http_parser>
    private var message = MessageState()
    private var events: [Event] = []
    private var failure: HTTPRequestError?

    /// Whether a `bodyTooLarge` or `malformed` event ended this parser.
    public private(set) var hasFailed = false

    /// Whether part of a request has been read and the rest has not (false between requests).
    public private(set) var isMidRequest = false

    public init(limits: Limits = Limits()) {
        self.limits = limits
        parser = .allocate(capacity: 1)
        http_parser_init(parser, HTTP_REQUEST)
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        parser.deallocate()
    }

    /// Parses `bytes` up to the end of the first complete request in them (or all of them).
    /// Returns how many bytes were used and what happened; call again with the rest.
    public func parse(_ bytes: UnsafeRawBufferPointer) -> (consumed: Int, events: [Event]) {
        guard !hasFailed else { return (bytes.count, []) }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return (0, []) }

        let consumed = withUnsafePointer(to: HTTPRequestParser.settings) { settings in
            http_parser_execute(
                parser, settings, base.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        finishExecute()

        let produced = events
        events = []
        return (hasFailed ? bytes.count : consumed, produced)
    }

    /// Parses all of `bytes` and returns every event (tests and handshakes).
    public func parseAll(_ bytes: [UInt8]) -> [Event] {
        var all: [Event] = []
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let (consumed, events) = parse(UnsafeRawBufferPointer(rebasing: buffer[offset...]))
                all += events
                offset += max(consumed, 1)
            }
        }
        return all
    }

    private func finishExecute() {
        switch http_errno(rawValue: chttp_errno(parser)) {
        case HPE_OK:
            break
        case HPE_PAUSED:
            http_parser_pause(parser, 0)
        case HPE_INVALID_CONTENT_LENGTH where isChunked && declaredContentLength == nil:
            // http_parser reports a chunk size that overflows with its content-length error.
            fail(failure ?? .badRequest("invalid chunk size"))
        case let code:
            fail(failure ?? HTTPRequestParser.error(for: code))
        }
    }

    private func fail(_ error: HTTPRequestError) {
        guard !hasFailed else { return }
        hasFailed = true
        message = MessageState()
        events.append(error.status == 413 ? .bodyTooLarge : .malformed(error))
    }

    private static func error(for code: http_errno) -> HTTPRequestError {
        if code == HPE_HEADER_OVERFLOW { return .headersTooLarge }
        return .badRequest(String(cString: http_errno_description(code)))
    }
}

// MARK: - Per-message state and the http_parser callbacks

extension HTTPRequestParser {
    /// What one request has accumulated so far; reset at every message start.
    private struct MessageState {
        var url: [UInt8] = []
        var headers: [(name: String, value: String)] = []
        var field: [UInt8] = []
        var value: [UInt8] = []
        var valueStarted = false
        var headerBytes = 0
        var headersDone = false
        var head: HTTPParsedRequest?
        var body: [UInt8] = []
    }

    /// Returned from a callback to stop http_parser; `failure` says why.
    private static let stop: Int32 = -1

    private static func owner(_ parser: UnsafeMutablePointer<http_parser>?) -> HTTPRequestParser {
        Unmanaged<HTTPRequestParser>.fromOpaque(parser!.pointee.data).takeUnretainedValue()
    }

    private static func bytes(_ at: UnsafePointer<CChar>?, _ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: at, count: count)
    }

    /// The callbacks reach the parser object through `http_parser.data`; no globals.
    private static let settings: http_parser_settings = {
        var settings = http_parser_settings()
        http_parser_settings_init(&settings)
        settings.on_message_begin = { owner($0).messageBegan() }
        settings.on_url = { owner($0).urlData(bytes($1, $2)) }
        settings.on_header_field = { owner($0).headerFieldData(bytes($1, $2)) }
        settings.on_header_value = { owner($0).headerValueData(bytes($1, $2)) }
        settings.on_headers_complete = { owner($0).headersCompleted() }
        settings.on_body = { owner($0).bodyData(bytes($1, $2)) }
        settings.on_message_complete = { owner($0).messageCompleted() }
        return settings
    }()

    private func refuse(_ error: HTTPRequestError) -> Int32 {
        failure = error
        return HTTPRequestParser.stop
    }

    private func messageBegan() -> Int32 {
        message = MessageState()
        isMidRequest = true
        return 0
    }

    private func urlData(_ data: UnsafeRawBufferPointer) -> Int32 {
        guard message.url.count + data.count <= limits.maxURLSize else {
            return refuse(.uriTooLong)
        }
        message.url.append(contentsOf: data)
        return 0
    }

    private func headerFieldData(_ data: UnsafeRawBufferPointer) -> Int32 {
        if message.valueStarted, let refusal = commitHeader() { return refusal }
        return countHeaderBytes(data.count) ?? appendUnlessTrailer(data, to: \.field)
    }

    private func headerValueData(_ data: UnsafeRawBufferPointer) -> Int32 {
        message.valueStarted = true
        return countHeaderBytes(data.count) ?? appendUnlessTrailer(data, to: \.value)
    }

    /// Counts header (and trailer) bytes against the limit; a refusal code when over it.
    private func countHeaderBytes(_ count: Int) -> Int32? {
        message.headerBytes += count
        return message.headerBytes > limits.maxHeaderSize ? refuse(.headersTooLarge) : nil
    }

    /// Trailers are counted against the limits but not kept.
    private func appendUnlessTrailer(
        _ data: UnsafeRawBufferPointer, to part: WritableKeyPath<MessageState, [UInt8]>
    ) -> Int32 {
        if !message.headersDone { message[keyPath: part].append(contentsOf: data) }
        return 0
    }

    /// Moves the field being read into `headers`; a refusal code past the count limit.
    private func commitHeader() -> Int32? {
        defer {
            message.field = []
            message.value = []
            message.valueStarted = false
        }
        guard !message.headersDone else { return nil }
        guard message.headers.count < limits.maxHeaderCount else { return refuse(.headersTooLarge) }
        // Debian builds http_parser without strict mode, which lets spaces into names.
        guard !message.field.isEmpty, message.field.allSatisfy(HTTPRequestParser.isTokenByte) else {
            return refuse(.badRequest("invalid header name"))
        }

        let name = String(decoding: message.field, as: UTF8.self)
        let value = String(decoding: trimmingTrailingSpace(message.value), as: UTF8.self)
        message.headers.append((name, value))
        return nil
    }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    private func trimmingTrailingSpace(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        let isSpace: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        let end = bytes.lastIndex { !isSpace($0) }.map { $0 + 1 } ?? 0
        return bytes[..<end]
    }

    private func headersCompleted() -> Int32 {
        if message.valueStarted, let refusal = commitHeader() { return refusal }
        message.headersDone = true

        guard parser.pointee.http_major == 1 else { return refuse(.versionNotSupported) }
        if let declared = declaredContentLength, declared > UInt64(max(limits.maxBodySize, 0)) {
            return refuse(.bodyTooLarge)
        }

        switch makeHead() {
        case .failure(let error):
            return refuse(error)
        case .success(let head):
            message.head = head
            if expectsContinue(head) { events.append(.expectContinue) }
            message.body.reserveCapacity(Int(min(declaredContentLength ?? 0, 64 * 1024)))
            return 0
        }
    }

    private var declaredContentLength: UInt64? {
        let hasLength = chttp_flags(parser) & UInt32(F_CONTENTLENGTH.rawValue) != 0
        return hasLength ? parser.pointee.content_length : nil
    }

    private var isChunked: Bool {
        chttp_flags(parser) & UInt32(F_CHUNKED.rawValue) != 0
    }

    /// 100-continue only makes sense for HTTP/1.1 and when a body is still to come.
    private func expectsContinue(_ head: HTTPParsedRequest) -> Bool {
        guard head.versionMinor >= 1, let expect = head.request.header("Expect") else {
            return false
        }
        let bodyComing = isChunked || (declaredContentLength ?? 0) > 0
        return bodyComing && expect.lowercased() == "100-continue"
    }

    private func makeHead() -> Result<HTTPParsedRequest, HTTPRequestError> {
        let methodCode = http_method(rawValue: chttp_method(parser))
        let method = String(cString: http_method_str(methodCode))
        let target = HTTPRequestTarget.parse(message.url, isConnect: methodCode == HTTP_CONNECT)
        guard let target else { return .failure(.badRequest("invalid request target")) }

        let request = HTTPRequest(
            method: method, path: target.path, queryItems: target.queryItems,
            headers: message.headers)
        let head = HTTPParsedRequest(
            request: request, keepAlive: http_should_keep_alive(parser) != 0,
            isUpgrade: chttp_upgrade(parser) != 0 && methodCode != HTTP_CONNECT,
            versionMajor: Int(parser.pointee.http_major),
            versionMinor: Int(parser.pointee.http_minor))
        return .success(head)
    }

    private func bodyData(_ data: UnsafeRawBufferPointer) -> Int32 {
        guard message.body.count + data.count <= limits.maxBodySize else {
            return refuse(.bodyTooLarge)
        }
        message.body.append(contentsOf: data)
        return 0
    }

    private func messageCompleted() -> Int32 {
        guard var head = message.head else { return refuse(.badRequest("incomplete request")) }
        head.request.body = message.body
        message = MessageState()
        isMidRequest = false

        events.append(.request(head))
        http_parser_pause(parser, 1)
        return 0
    }
}

/// The path and query of a request target, decoded.
struct HTTPRequestTarget {
    var path: String
    var queryItems: [(name: String, value: String)]

    /// Splits `url` with `http_parser_parse_url` and decodes the parts; nil when invalid.
    static func parse(_ url: [UInt8], isConnect: Bool) -> HTTPRequestTarget? {
        var fields = http_parser_url()
        http_parser_url_init(&fields)
        let status = url.withUnsafeBytes { raw in
            http_parser_parse_url(
                raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count,
                isConnect ? 1 : 0, &fields)
        }
        guard status == 0 else { return nil }

        let path = field(UF_PATH, of: url, in: &fields)
        let query = field(UF_QUERY, of: url, in: &fields) ?? []
        guard let decodedPath = HTTPPercentDecoding.decode(path ?? [], plusAsSpace: false),
            let items = HTTPPercentDecoding.queryItems(query)
        else { return nil }
        return HTTPRequestTarget(
            path: path == nil && !isConnect ? "/" : decodedPath, queryItems: items)
    }

    private static func field(
        _ field: http_parser_url_fields, of url: [UInt8], in fields: inout http_parser_url
    ) -> ArraySlice<UInt8>? {
        let index = Int32(field.rawValue)
        guard chttp_url_has_field(&fields, index) != 0 else { return nil }

        let offset = Int(chttp_url_field_offset(&fields, index))
        let length = Int(chttp_url_field_length(&fields, index))
        return url[offset..<(offset + length)]
    }
}
