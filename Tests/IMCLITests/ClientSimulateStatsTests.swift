import Foundation
import IMCore
import Testing

@testable import IMCLI

@Suite struct ClientSimulateStatsTests {
    /// |reported - exact| / exact, for the ~1 % promise.
    private func relativeError(_ reported: UInt64?, _ exact: Double) -> Double {
        abs(Double(reported ?? 0) - exact) / exact
    }

    @Test func emptyHistogramHasNoPercentiles() {
        let histogram = LatencyHistogram()
        #expect(histogram.percentile(0.5) == nil)
        #expect(histogram.total == 0)
    }

    @Test func smallValuesAreExact() {
        var histogram = LatencyHistogram()
        for value in [3, 1, 2, 5, 4] as [UInt64] { histogram.record(micros: value) }
        #expect(histogram.percentile(0.5) == 3)
        #expect(histogram.percentile(0.2) == 1)
        #expect(histogram.percentile(1.0) == 5)
        #expect(histogram.maxMicros == 5)
    }

    @Test func percentilesOfAUniformSpreadAreWithinOnePercent() {
        var histogram = LatencyHistogram()
        for value in 1...200_000 as ClosedRange<UInt64> { histogram.record(micros: value) }

        #expect(histogram.total == 200_000)
        #expect(relativeError(histogram.percentile(0.5), 100_000) < 0.01)
        #expect(relativeError(histogram.percentile(0.9), 180_000) < 0.01)
        #expect(relativeError(histogram.percentile(0.99), 198_000) < 0.01)
        #expect(histogram.percentile(1.0) == 200_000)
        #expect(histogram.maxMicros == 200_000)
    }

    @Test func everyBucketHoldsItsRepresentativeAndBucketsGrowMonotonically() {
        var previous = -1
        var value: UInt64 = 0
        while value < 1 << 40 {
            let bucket = LatencyHistogram.bucket(of: value)
            #expect(bucket >= previous && bucket < LatencyHistogram.bucketCount)
            let representative = LatencyHistogram.representative(of: bucket)
            #expect(LatencyHistogram.bucket(of: representative) == bucket || value >= 1 << 39)
            previous = bucket
            value = value < 1000 ? value + 1 : value + value / 300
        }
        #expect(LatencyHistogram.bucket(of: .max) == LatencyHistogram.bucketCount - 1)
    }

    @Test func mergeSubtractAndSparseFormRoundTrip() {
        var first = LatencyHistogram()
        var second = LatencyHistogram()
        for value in [10, 20, 3000] as [UInt64] { first.record(micros: value) }
        for value in [40, 5_000_000] as [UInt64] { second.record(micros: value) }

        var merged = first
        merged.merge(second)
        #expect(merged.total == 5)
        #expect(merged.maxMicros == 5_000_000)
        #expect(merged.subtracting(first).counts == second.counts)

        let rebuilt = LatencyHistogram(sparse: merged.sparse, maxMicros: merged.maxMicros)
        #expect(rebuilt == merged)
    }

    @Test func countersAddAndCountSettledClients() {
        var total = SimulationCounters(connected: 3, authenticated: 4, failed: 1, messages: 10)
        total.add(SimulationCounters(connected: 1, authenticated: 1, failed: 2, messages: 5))
        #expect(total.connected == 4)
        #expect(total.settled == 8)
        #expect(total.messages == 15)
    }

    @Test func workerReportsSurviveTheirJSONForm() throws {
        var snapshot = SimulationSnapshot()
        snapshot.counters.messages = 7
        snapshot.latency.record(micros: 1234)
        snapshot.firstError = "connect failed"

        let data = try JSONEncoder().encode(WorkerReport(snapshot))
        let decoded = try JSONDecoder().decode(WorkerReport.self, from: data).snapshot
        #expect(decoded.counters == snapshot.counters)
        #expect(decoded.latency == snapshot.latency)
        #expect(decoded.firstError == "connect failed")
    }

    @Test func workerSharesSplitClientsEvenly() {
        #expect(SimulateWorkers.shares(of: 250, parts: 3) == [84, 83, 83])
        #expect(SimulateWorkers.shares(of: 30_000, parts: 2) == [15_000, 15_000])
        #expect(SimulateWorkers.sourceAddress(forWorker: 0) == "127.0.0.2")
        #expect(SimulateWorkers.sourceAddress(forWorker: 1) == "127.0.0.3")
    }
}

@Suite struct ClientSimulateWireTests {
    private func push(_ body: String) -> [UInt8] {
        Frame.push(Array(body.utf8)).encoded
    }

    @Test func aStampedBodyGivesItsSendTime() {
        let body = SimulateWire.pushBody(sequence: 12, sentNanos: 1_790_000_000_123_456_789)
        #expect(String(decoding: body, as: UTF8.self)
            == #"{"sim_seq":12,"sent_ns":1790000000123456789}"#)
        #expect(body.withUnsafeBytes(SimulateWire.sentNanos) == 1_790_000_000_123_456_789)
        let other = Array(#"{"test":1}"#.utf8)
        #expect(other.withUnsafeBytes(SimulateWire.sentNanos) == nil)
    }

    @Test func framesBackToBackAreCountedAndAPartialOneIsLeft() throws {
        let stamped = String(
            decoding: SimulateWire.pushBody(sequence: 1, sentNanos: 1_000), as: UTF8.self)
        let authReply = Frame(ver: 1, op: Operation.authReply, seq: 1).encoded
        let bytes = push(stamped) + push("b") + authReply + Array(push("partial").prefix(10))
        var tally = ReceiveTally(nowNanos: 3_001_000)
        var latency = LatencyHistogram()

        let used = try bytes.withUnsafeBytes { try SimulateWire.walkFrames($0, &tally, &latency) }

        #expect(used == bytes.count - 10)
        #expect(tally.messages == 2)
        #expect(tally.authReplies == 1)
        #expect(latency.total == 1)
        #expect(latency.maxMicros == 3000)
    }

    @Test func aRawFrameCountsEachInnerFrame() throws {
        let inner = push("1") + push("2") + push("3")
        let raw = Frame(ver: 1, op: 9, seq: 0, body: inner).encoded
        var tally = ReceiveTally(nowNanos: 0)
        var latency = LatencyHistogram()

        let used = try raw.withUnsafeBytes { try SimulateWire.walkFrames($0, &tally, &latency) }

        #expect(used == raw.count)
        #expect(tally.messages == 3)
    }

    @Test func aBadFrameHeaderIsAnError() {
        var bytes = push("x")
        bytes[5] = 8  // headerLen 8
        var tally = ReceiveTally(nowNanos: 0)
        var latency = LatencyHistogram()
        #expect(throws: SimulateWireError.self) {
            try bytes.withUnsafeBytes { try SimulateWire.walkFrames($0, &tally, &latency) }
        }
    }

    @Test func goimJSONMessagesCountPushesAndReplies() throws {
        let body = String(
            decoding: SimulateWire.pushBody(sequence: 1, sentNanos: 5_000_000), as: UTF8.self)
        let text = #"[{"ver":0,"op":5,"seq":0,"body":\#(body)},"#
            + #"{"ver":0,"op":5,"seq":0,"body":"a]\"}"},"#
            + #"{"ver":0,"op":5,"seq":0,"body":[1,{"x":[]}]},"#
            + #"{"ver":1,"op":3,"seq":2,"body":{}}]"#
        var tally = ReceiveTally(nowNanos: 6_000_000)
        var latency = LatencyHistogram()

        try Array(text.utf8).withUnsafeBytes {
            try SimulateWire.walkJSONMessage($0, &tally, &latency)
        }

        #expect(tally.messages == 3)
        #expect(tally.heartbeatReplies == 1)
        #expect(latency.maxMicros == 1000)
    }

    @Test func truncatedJSONIsAnError() {
        var tally = ReceiveTally(nowNanos: 0)
        var latency = LatencyHistogram()
        #expect(throws: SimulateWireError.self) {
            try Array(#"[{"op":5,"body":"abc"#.utf8).withUnsafeBytes {
                try SimulateWire.walkJSONMessage($0, &tally, &latency)
            }
        }
    }

    @Test func webSocketFramesAreFoundInPlace() throws {
        let payload = [UInt8](repeating: 65, count: 300)
        let bytes = [0x81, 0x02, 0x68, 0x69] + [0x82, 126, 0x01, 0x2C] + payload + [0x89, 0x00]

        let frames = try bytes.withUnsafeBytes { raw in
            var found: [SimulateWire.WebSocketFrameView] = []
            var offset = 0
            while let frame = try SimulateWire.webSocketFrame(in: raw, at: offset) {
                found.append(frame)
                offset = frame.end
            }
            return found
        }

        #expect(frames.map(\.opcode) == [1, 2, 9])
        #expect(frames[1].payload == 8..<308)
        #expect(frames.last?.end == bytes.count)
        let partial = Array(bytes.prefix(100))
        let incomplete = try partial.withUnsafeBytes {
            try SimulateWire.webSocketFrame(in: $0, at: 4)
        }
        #expect(incomplete == nil)
    }
}
