import Foundation
import IMCore
import IMTestKit
import Testing

/// The distributed mode end to end: `TestCluster` runs a tansu broker, two routers, logic, job
/// and two comets as separate `imctl serve ...` processes; real TCP clients connect to the
/// comets and pushes go through logic's HTTP API, Kafka and job. One cluster per test.
///
/// Pushes of different kinds and keys travel on different partitions, so their order is not
/// kept: every check compares what a client received as a sorted list, then waits a moment
/// for anything extra.
@Suite(.serialized, TestCluster.enabled, .timeLimit(.minutes(3)))
struct ClusterTests {
    /// How long the clients listen for an unexpected extra push.
    static let quietPeriod: TimeInterval = 1

    /// One quiet period for all `devices` together: the first listens for the whole period,
    /// the others then only collect what arrived meanwhile.
    static func expectNothingMore(
        on devices: [ClusterDevice], sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        for (index, device) in devices.enumerated() {
            let extra = try device.extraBodies(within: index == 0 ? quietPeriod : 0.05)
            #expect(extra.isEmpty, "\(device.label) got extra", sourceLocation: sourceLocation)
        }
    }

    @Test func everyPushKindArrivesExactlyOnceAcrossTwoComets() throws {
        let cluster = try TestCluster.start()
        defer { cluster.stop() }

        let phone = try cluster.connect(comet: 1, token: "1001", label: "1001 phone@1")
        let laptop = try cluster.connect(comet: 2, token: "1001", label: "1001 laptop@2")
        let userB = try cluster.connect(comet: 1, token: "1002")
        let userC = try cluster.connect(comet: 2, token: "1003")
        let memberOne = try cluster.connect(comet: 1, token: #"{"mid":1004,"room":7}"#)
        let memberTwo = try cluster.connect(comet: 2, token: #"{"mid":1005,"room":7}"#)

        try cluster.push("/1/push?uid=1001", "to-a")
        try cluster.push("/1/pushs", #"{"u":[1002,1003],"m":"to-b-and-c"}"#)
        try cluster.push("/1/push/room?rid=7", "to-room-7")
        try cluster.push("/1/push/all", "to-all")

        let expected: [(ClusterDevice, [String])] = [
            (phone, ["to-a", "to-all"]), (laptop, ["to-a", "to-all"]),
            (userB, [#""to-b-and-c""#, "to-all"]), (userC, [#""to-b-and-c""#, "to-all"]),
            (memberOne, ["to-all", "to-room-7"]), (memberTwo, ["to-all", "to-room-7"]),
        ]
        for (device, bodies) in expected {
            let received = try device.bodies(count: bodies.count, timeout: 15)
            #expect(received.sorted() == bodies, "\(device.label)")
        }
        try Self.expectNothingMore(on: expected.map(\.0))
    }

    @Test func aKilledCometsSessionsExpireTheOtherKeepsDeliveringAndItCanReturn() throws {
        let cluster = try TestCluster.start()
        defer { cluster.stop() }

        let survivor = try cluster.connect(comet: 1, token: "2001")
        let survivorMember = try cluster.connect(comet: 1, token: #"{"mid":2002,"room":8}"#)
        var doomed: [ClusterDevice] = []
        doomed.append(try cluster.connect(comet: 2, token: "2003"))
        doomed.append(try cluster.connect(comet: 2, token: #"{"mid":2004,"room":8}"#))
        let before = #"{"data":[{"Server":1,"Count":2},{"Server":2,"Count":2}],"ret":1}"#
        #expect(try cluster.waitForCounts("server", before, timeout: 5))

        cluster.kill(.comet(2))
        let killed = Date()
        // Logic sweeps every second; a comet that refreshed just before it died expires
        // `cometExpiry` after that refresh. No /1/server/del is sent.
        let bound = TestCluster.cometExpiry + 1 + 2
        let after = #"{"data":[{"Server":1,"Count":2}],"ret":1}"#
        #expect(try cluster.waitForCounts("server", after, timeout: bound + 5))
        let waited = Date().timeIntervalSince(killed)
        #expect(waited <= bound, "sessions left the counts after \(waited) s; bound \(bound) s")
        let rooms = #"{"data":[{"RoomId":1,"Count":1},{"RoomId":8,"Count":1}],"ret":1}"#
        #expect(try cluster.counts("room") == rooms)
        #expect(cluster.log(of: .logic).contains("comet expired"))

        try cluster.push("/1/push?uid=2001", "to-survivor")
        try cluster.push("/1/push/room?rid=8", "to-room-8")
        try cluster.push("/1/push/all", "to-all")
        #expect(try survivor.bodies(count: 2, timeout: 15).sorted() == ["to-all", "to-survivor"])
        let toMember = try survivorMember.bodies(count: 2, timeout: 15)
        #expect(toMember.sorted() == ["to-all", "to-room-8"])
        try Self.expectNothingMore(on: [survivor, survivorMember])
        for device in doomed { device.client.close() }

        // The same server id back on new ports: logic and job follow it.
        try cluster.restart(.comet(2))
        let returning = try cluster.connect(comet: 2, token: "2005")
        try cluster.push("/1/push?uid=2005", "welcome-back")
        #expect(try returning.bodies(count: 1, timeout: 15) == ["welcome-back"])
    }

    @Test func everyAcceptedPushIsDeliveredAfterJobComesBack() throws {
        let cluster = try TestCluster.start()
        defer { cluster.stop() }

        let userOne = try cluster.connect(comet: 1, token: "3001")
        let userTwo = try cluster.connect(comet: 2, token: "3002")
        let member = try cluster.connect(comet: 2, token: #"{"mid":3003,"room":9}"#)

        cluster.kill(.job)
        var toOne: Set<String> = []
        var toTwo: Set<String> = []
        var toRoom: Set<String> = []
        for index in 1...4 {
            try cluster.push("/1/push?uid=3001", "one-\(index)")
            try cluster.push("/1/push?uid=3002", "two-\(index)")
            try cluster.push("/1/push/room?rid=9", "room-\(index)")
            toOne.insert("one-\(index)")
            toTwo.insert("two-\(index)")
            toRoom.insert("room-\(index)")
        }
        try cluster.push("/1/push/all", "all")
        try cluster.restart(.job)

        // At least once: duplicates are allowed here, losses and strangers are not.
        let checks = [(userOne, toOne), (userTwo, toTwo), (member, toRoom)]
        for (device, expected) in checks {
            let wanted = expected.union(["all"])
            let received = try device.bodies(untilAllOf: wanted, timeout: 40)
            #expect(Set(received) == wanted, "\(device.label) got \(received)")
        }
    }

    @Test func aPushWhileTheBrokerIsDownGets503InTimeAndPushesResumeAfterwards() throws {
        let cluster = try TestCluster.start()
        defer { cluster.stop() }
        let device = try cluster.connect(comet: 1, token: "4001")

        cluster.broker.stop()
        let start = Date()
        let refused = try cluster.post("/1/push?uid=4001", "while-down")
        let waited = Date().timeIntervalSince(start)
        #expect(refused.status == 503)
        #expect(refused.text.contains(#""ret":65535"#) && refused.text.contains(#""msg":""#))
        let bound = TestCluster.publishTimeout + 2
        #expect(waited <= bound, "503 after \(waited) s; the publish timeout is 3 s")

        try cluster.broker.restart()
        try cluster.broker.createTopic(cluster.topic, partitions: TestCluster.partitions)
        // Push until one arrives: producer and consumer reconnect on their own schedule.
        var delivered: [String] = []
        let recovered = try eventually(timeout: 60) {
            _ = try cluster.post("/1/push?uid=4001", "after-restart")
            delivered += try device.bodies(count: 1, timeout: 1)
            return delivered.contains("after-restart")
        }
        #expect(recovered, "nothing delivered after the broker came back: \(cluster.log(of: .job))")
    }

    @Test func goimJSONFromAnotherProducerIsDelivered() throws {
        let cluster = try TestCluster.start()
        defer { cluster.stop() }

        // A fresh router gives a user's first session seq 1: the key goim's logic would name.
        let user = try cluster.connect(comet: 2, token: "5001")
        let memberOne = try cluster.connect(comet: 1, token: #"{"mid":5002,"room":11}"#)
        let memberTwo = try cluster.connect(comet: 2, token: #"{"mid":5003,"room":11}"#)

        // goim's logic keyed room messages by the room id's 4 big-endian bytes, others not.
        let toUser = #"{"op":"multiple","server":2,"subkeys":["5001_1"],"msg":"dG8tdXNlcg=="}"#
        let toRoom = #"{"op":"broadcast_room","roomid":11,"msg":"dG8tcm9vbQ==","ensure":true}"#
        let toAll = #"{"op":"broadcast","msg":"dG8tYWxs"}"#
        try GoimProducer.produce(
            [
                .init(key: nil, value: toUser), .init(key: [0, 0, 0, 11], value: toRoom),
                .init(key: nil, value: toAll),
            ],
            to: cluster.broker, topic: cluster.topic)

        #expect(try user.bodies(count: 2, timeout: 15).sorted() == ["to-all", "to-user"])
        for member in [memberOne, memberTwo] {
            let received = try member.bodies(count: 2, timeout: 15)
            #expect(received.sorted() == ["to-all", "to-room"], "\(member.label)")
        }
        try Self.expectNothingMore(on: [user, memberOne, memberTwo])
    }

    @Test func aRoomMessageReachesACometWhoseFirstMemberJustJoined() throws {
        let cluster = try TestCluster.start()
        defer { cluster.stop() }

        // Comet 2 has never had a member of room 12 until right before the push.
        let early = try cluster.connect(comet: 1, token: #"{"mid":6001,"room":12}"#)
        let late = try cluster.connect(comet: 2, token: #"{"mid":6002,"room":12}"#)
        try cluster.push("/1/push/room?rid=12", "to-room-12")
        #expect(try early.bodies(count: 1, timeout: 15) == ["to-room-12"])
        #expect(try late.bodies(count: 1, timeout: 15) == ["to-room-12"])

        // A comet that did not exist when job started: its first member pushes at once.
        try cluster.startComet(3)
        let newcomer = try cluster.connect(comet: 3, token: #"{"mid":6003,"room":13}"#)
        try cluster.push("/1/push/room?rid=13", "to-room-13")
        #expect(try newcomer.bodies(count: 1, timeout: 15) == ["to-room-13"])
        try Self.expectNothingMore(on: [early, late, newcomer])
    }
}
