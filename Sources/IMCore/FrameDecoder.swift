/// Why a frame was rejected. The connection that sent it is closed; no error frame is sent.
public enum FrameError: Error, Sendable, Equatable, CustomStringConvertible {
    /// packLen is below the 16-byte header (goim let this through as an empty body).
    case packLengthTooSmall(Int32)
    /// The body announced by packLen is over the configured limit.
    case bodyTooLarge(size: Int, limit: Int)
    /// The header-length field is not 16.
    case invalidHeaderLength(Int16)
    /// The decoder was used again after it had thrown.
    case decoderFailed

    public var description: String {
        switch self {
        case .packLengthTooSmall(let packLen):
            return "frame length \(packLen) is smaller than the \(Frame.headerSize)-byte header"
        case .bodyTooLarge(let size, let limit):
            return "frame body of \(size) bytes is over the \(limit)-byte limit"
        case .invalidHeaderLength(let headerLen):
            return "frame header length is \(headerLen), expected \(Frame.headerSize)"
        case .decoderFailed:
            return "frame decoder used after an earlier error"
        }
    }
}

/// Splits a byte stream into `Frame`s, whatever the read boundaries.
///
/// Input may arrive split anywhere: a byte at a time, in random chunks, or many frames per read.
/// Frames complete in the input are decoded straight from it (only the body is copied into the
/// `Frame`). Only the bytes of an unfinished frame are kept between calls, and when no frame is
/// pending the decoder holds no heap memory, so an idle connection costs nothing.
///
/// The header is checked as soon as its 16 bytes are known, before any body byte is buffered,
/// so a huge packLen cannot make the decoder buffer. After a throw (a `FrameError`, or an error
/// from the frame callback) the decoder drops what it held and every later call throws
/// `FrameError.decoderFailed`: the connection is meant to be closed.
public struct FrameDecoder: Sendable {
    /// The largest accepted body, in bytes.
    public let maxBodySize: Int

    /// Bytes of the unfinished frame; empty (no storage) between frames.
    private var pending: [UInt8] = []
    private var failed = false

    /// - Precondition: `maxBodySize >= 0`.
    public init(maxBodySize: Int) {
        precondition(maxBodySize >= 0, "maxBodySize must not be negative")
        self.maxBodySize = min(maxBodySize, Frame.maxEncodableBodySize)
    }

    /// Whether bytes of an unfinished frame are held.
    public var hasPartialFrame: Bool { !pending.isEmpty }

    /// Bytes held for the unfinished frame (0 when none).
    public var pendingByteCount: Int { pending.count }

    /// Heap bytes reserved for the unfinished frame; 0 whenever no frame is pending.
    var pendingCapacity: Int { pending.capacity }

    /// Feeds `input` and calls `onFrame` for each frame it completes, in order.
    ///
    /// - Throws: `FrameError` for a malformed header, or whatever `onFrame` throws. Either way
    ///   the decoder is unusable afterwards.
    public mutating func decode(
        _ input: UnsafeRawBufferPointer, _ onFrame: (Frame) throws -> Void
    ) throws {
        guard !failed else { throw FrameError.decoderFailed }

        do {
            var offset = 0
            if !pending.isEmpty {
                offset = try completePending(from: input, onFrame)
            }
            if offset < input.count {
                try decodeDirect(input, from: offset, onFrame)
            }
        } catch {
            failed = true
            pending = []
            throw error
        }
    }

    /// Decodes every complete frame in `input[offset...]` without copying anything but bodies,
    /// then keeps the tail (an unfinished frame) in `pending`.
    private mutating func decodeDirect(
        _ input: UnsafeRawBufferPointer, from start: Int, _ onFrame: (Frame) throws -> Void
    ) throws {
        var offset = start
        while input.count - offset >= Frame.headerSize {
            let frameSize = try validatedFrameSize(input, at: offset)
            guard input.count - offset >= frameSize else { break }

            try onFrame(FrameDecoder.frame(in: input, at: offset, size: frameSize))
            offset += frameSize
        }
        if offset < input.count {
            pending = [UInt8](UnsafeRawBufferPointer(rebasing: input[offset...]))
        }
    }

    /// Adds input to the unfinished frame and emits it once complete. Returns how many input
    /// bytes were used.
    private mutating func completePending(
        from input: UnsafeRawBufferPointer, _ onFrame: (Frame) throws -> Void
    ) throws -> Int {
        var used = fill(toCount: Frame.headerSize, from: input, at: 0)
        guard pending.count >= Frame.headerSize else { return used }

        // No reserve for the whole frame: memory grows with the bytes actually received, so a
        // header announcing a large body costs nothing until the body arrives.
        let frameSize = try pending.withUnsafeBytes { try validatedFrameSize($0, at: 0) }
        used += fill(toCount: frameSize, from: input, at: used)
        guard pending.count == frameSize else { return used }

        let frame = pending.withUnsafeBytes { FrameDecoder.frame(in: $0, at: 0, size: frameSize) }
        pending = []
        try onFrame(frame)
        return used
    }

    /// Appends input bytes to `pending` until it holds `count` bytes or the input runs out.
    private mutating func fill(
        toCount count: Int, from input: UnsafeRawBufferPointer, at offset: Int
    ) -> Int {
        let taken = min(count - pending.count, input.count - offset)
        guard taken > 0 else { return 0 }

        pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[offset..<offset + taken]))
        return taken
    }

    /// Checks the header at `offset` and returns the whole frame's size.
    private func validatedFrameSize(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws -> Int {
        let packLen = Int32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self))
        guard packLen >= Frame.headerSize else { throw FrameError.packLengthTooSmall(packLen) }

        let bodySize = Int(packLen) - Frame.headerSize
        guard bodySize <= maxBodySize else {
            throw FrameError.bodyTooLarge(size: bodySize, limit: maxBodySize)
        }

        let headerLen = Int16(
            bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 4, as: Int16.self))
        guard headerLen == Frame.headerSize else { throw FrameError.invalidHeaderLength(headerLen) }
        return Int(packLen)
    }

    /// The frame whose validated header is at `offset`; copies only the body.
    private static func frame(
        in bytes: UnsafeRawBufferPointer, at offset: Int, size: Int
    ) -> Frame {
        let ver = Int16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 6, as: Int16.self))
        let op = Int32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: Int32.self))
        let seq = Int32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 12, as: Int32.self))
        let bodyStart = offset + Frame.headerSize
        let body = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<offset + size]))
        return Frame(ver: ver, op: op, seq: seq, body: body)
    }
}
