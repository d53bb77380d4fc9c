import IMCore
import Testing

@Suite struct DurationParsingTests {
    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)), ("2s", .seconds(2)), ("5m", .seconds(300)),
        ("1h", .seconds(3600)), ("1m30s", .seconds(90)), ("1.5s", .milliseconds(1500)),
        ("0.25h", .seconds(900)), (".5s", .milliseconds(500)), ("0", .zero), ("0s", .zero),
        ("100us", .microseconds(100)), ("7ns", .nanoseconds(7)), (" 3s\n", .seconds(3)),
        ("1h2m3s4ms", .milliseconds(3_723_004)), ("1.0000000001s", .seconds(1)),
    ])
    func parsesDurations(text: String, expected: Duration) {
        #expect(Duration(parsing: text) == expected)
    }

    @Test(arguments: [
        "", " ", "5", "s", "5x", "5 s", "-5s", "+5s", "5S", "1.2.3s", "ms", "1m 30s", "5sec", ".s",
        "9999999999999h", "3000000h",
    ])
    func refusesMalformedDurations(text: String) {
        #expect(Duration(parsing: text) == nil)
    }

    @Test(arguments: [
        (Duration.seconds(5), "5s"), (.milliseconds(500), "500ms"), (.seconds(300), "5m"),
        (.seconds(3600), "1h"), (.seconds(90), "1m30s"), (.seconds(3723), "1h2m3s"), (.zero, "0s"),
        (.milliseconds(1500), "1500ms"), (.microseconds(5), "5us"),
        (.nanoseconds(1_000_001), "1000001ns"),
        (.seconds(-2), "-2s"),
    ])
    func formatsShortly(duration: Duration, text: String) {
        #expect(duration.shortDescription == text)
    }

    @Test func formattedDurationsParseBack() {
        let samples: [Duration] = [
            .seconds(1), .milliseconds(250), .seconds(86_400), .seconds(3601),
            .nanoseconds(123_456_789),
            .milliseconds(61_001),
        ]

        for duration in samples {
            #expect(Duration(parsing: duration.shortDescription) == duration)
        }
    }
}

@Suite struct ByteSizeTests {
    @Test(arguments: [
        ("512", 512), ("0", 0), ("4KiB", 4096), ("1k", 1024), ("1K", 1024), ("2KB", 2048),
        ("1MiB", 1 << 20), ("1m", 1 << 20), ("3MB", 3 << 20), ("1g", 1 << 30), ("2GiB", 2 << 30),
        ("10B", 10), (" 8kib ", 8192),
    ])
    func parsesSizes(text: String, expected: Int) {
        #expect(ByteSize.parse(text) == expected)
    }

    @Test(arguments: [
        "", "KiB", "-1", "+1", "1.5MiB", "1 KiB", "1TiB", "1x", "0x10", "99999999999999999999",
        "9223372036854775807k",
    ])
    func refusesMalformedSizes(text: String) {
        #expect(ByteSize.parse(text) == nil)
    }

    @Test(arguments: [
        (1 << 20, "1MiB"), (4096, "4KiB"), (1536, "1536"), (0, "0"), (3 << 30, "3GiB"),
        (1025, "1025"),
    ])
    func formatsShortly(bytes: Int, text: String) {
        #expect(ByteSize.format(bytes) == text)
        #expect(ByteSize.parse(text) == bytes)
    }
}
