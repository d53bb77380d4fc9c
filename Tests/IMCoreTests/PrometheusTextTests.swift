import IMCore
import Testing

@Suite struct PrometheusTextTests {
    @Test func counterAndGaugeGetHelpTypeAndOneSampleEach() {
        let registry = MetricsRegistry()
        let counter = Counter("imctl_things_total", help: "things done")
        let gauge = Gauge("imctl_open", help: "open now")
        registry.register([counter, gauge])
        counter.increment(by: 3)
        gauge.set(-2)

        #expect(
            registry.exposition() == """
                # HELP imctl_things_total things done
                # TYPE imctl_things_total counter
                imctl_things_total 3
                # HELP imctl_open open now
                # TYPE imctl_open gauge
                imctl_open -2

                """)
    }

    @Test func metricsSharingANameFormOneFamilyWithTheirLabels() {
        let registry = MetricsRegistry()
        let tcp = Gauge("imctl_conns", help: "by proto", labels: [MetricLabel("proto", "tcp")])
        let other = Counter("imctl_other_total", help: "x")
        let ws = Gauge("imctl_conns", help: "ignored", labels: [MetricLabel("proto", "ws")])
        registry.register([tcp, other, ws])
        tcp.add(2)
        ws.add(1)

        #expect(
            registry.exposition() == """
                # HELP imctl_conns by proto
                # TYPE imctl_conns gauge
                imctl_conns{proto="tcp"} 2
                imctl_conns{proto="ws"} 1
                # HELP imctl_other_total x
                # TYPE imctl_other_total counter
                imctl_other_total 0

                """)
        #expect(registry.familyNames == ["imctl_conns", "imctl_other_total"])
    }

    @Test func helpEscapesBackslashAndNewlineButNotQuotes() {
        #expect(PrometheusText.escapeHelp(#"a\b"# + "\n" + #""c""#) == #"a\\b\n"c""#)
        #expect(PrometheusText.escapeHelp("plain") == "plain")
    }

    @Test func labelValuesEscapeBackslashQuoteAndNewline() {
        let registry = MetricsRegistry()
        let value = #"C:\dir "x""# + "\ny"
        registry.register(Counter("imctl_x_total", help: "h", labels: [MetricLabel("path", value)]))

        let sample = registry.exposition().split(separator: "\n").last
        #expect(sample == #"imctl_x_total{path="C:\\dir \"x\"\ny"} 0"#)
    }

    @Test func severalLabelsKeepTheirOrder() {
        let registry = MetricsRegistry()
        registry.register(
            Counter(
                "imctl_x_total", help: "h",
                labels: [MetricLabel("b", "2"), MetricLabel("a", "1")]))

        #expect(registry.exposition().hasSuffix("imctl_x_total{b=\"2\",a=\"1\"} 0\n"))
    }

    @Test func registryRefusesDuplicatesClashesAndBadNames() {
        let registry = MetricsRegistry()
        let first = Counter("imctl_a_total", help: "h")

        #expect(registry.register(first))
        #expect(!registry.register(first))
        #expect(!registry.register(Counter("imctl_a_total", help: "same name and labels")))
        #expect(!registry.register(Gauge("imctl_a_total", help: "other type", labels: [
            MetricLabel("k", "v"),
        ])))
        #expect(!registry.register(Counter("1bad", help: "h")))
        #expect(!registry.register(Counter("bad-name", help: "h")))
        for labels in [
            [MetricLabel("le-x", "")], [MetricLabel("__r", "")],
            [MetricLabel("k", "1"), MetricLabel("k", "2")],
        ] {
            #expect(!registry.register(Counter("imctl_b", help: "h", labels: labels)))
        }
        #expect(registry.register(Counter("imctl:ns_a_total", help: "colons are fine")))
        #expect(registry.all.count == 2)
    }

    @Test func computedGaugeIsReadAtScrapeTime() {
        let registry = MetricsRegistry()
        let depth = Gauge("source", help: "")
        registry.register(ComputedGauge("imctl_depth", help: "d") { depth.current })

        depth.set(7)

        #expect(registry.exposition().hasSuffix("imctl_depth 7\n"))
    }

    @Test func floatsUsePrometheusSpellings() {
        #expect(PrometheusText.format(.infinity) == "+Inf")
        #expect(PrometheusText.format(-.infinity) == "-Inf")
        #expect(PrometheusText.format(.nan) == "NaN")
        #expect(PrometheusText.format(0.25) == "0.25")
        #expect(Double(PrometheusText.format(0.0005)) == 0.0005)
    }
}

@Suite struct HistogramTests {
    @Test func bucketsAreCumulativeAndInfEqualsCount() {
        let histogram = Histogram(
            "imctl_latency_seconds", help: "h", labels: [MetricLabel("kind", "push")],
            buckets: [1, 0.1, 0.5, 0.1, .infinity])
        for value in [0.05, 0.1, 0.3, 0.7, 2, 30] { histogram.observe(value) }

        #expect(histogram.upperBounds == [0.1, 0.5, 1])
        #expect(histogram.cumulativeCounts == [2, 3, 4, 6])
        #expect(histogram.count == 6)
        #expect(abs(histogram.sum - 33.15) < 1e-9)
    }

    @Test func exposesBucketSumAndCountSeries() {
        let registry = MetricsRegistry()
        let histogram = Histogram(
            "imctl_latency_seconds", help: "latency", labels: [MetricLabel("kind", "push")],
            buckets: [0.1, 1])
        registry.register(histogram)
        histogram.observe(0.05)
        histogram.observe(0.5)
        histogram.observe(5)

        #expect(
            registry.exposition() == """
                # HELP imctl_latency_seconds latency
                # TYPE imctl_latency_seconds histogram
                imctl_latency_seconds_bucket{kind="push",le="0.1"} 1
                imctl_latency_seconds_bucket{kind="push",le="1.0"} 2
                imctl_latency_seconds_bucket{kind="push",le="+Inf"} 3
                imctl_latency_seconds_sum{kind="push"} 5.55
                imctl_latency_seconds_count{kind="push"} 3

                """)
    }

    @Test func aValueOnABoundCountsInThatBucketAndNaNIsIgnored() {
        let histogram = Histogram("imctl_h", help: "h", buckets: [1, 2])
        histogram.observe(1)
        histogram.observe(2)
        histogram.observe(.nan)

        #expect(histogram.cumulativeCounts == [1, 2, 2])
        #expect(histogram.sum == 3)
    }

    @Test func anEmptyHistogramStillHasEverySeries() {
        let histogram = Histogram("imctl_h", help: "h", buckets: [1])

        let lines = histogram.samples().map { "\($0.suffix) \($0.value)" }

        #expect(lines == ["_bucket integer(0)", "_bucket integer(0)", "_sum double(0.0)",
            "_count integer(0)"])
    }

    @Test func concurrentObservationsAreAllCounted() async {
        let histogram = Histogram("imctl_h", help: "h", buckets: [0.5])
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask {
                    for _ in 0..<1_000 { histogram.observe(task.isMultiple(of: 2) ? 0.25 : 1) }
                }
            }
        }

        #expect(histogram.cumulativeCounts == [2_000, 4_000])
        #expect(histogram.sum == 2_000 * 0.25 + 2_000)
    }

    @Test func aLeLabelIsDroppedSoBucketsStayUnambiguous() {
        let histogram = Histogram("imctl_h", help: "h", labels: [MetricLabel("le", "x")])

        #expect(histogram.labels.isEmpty)
    }
}
