extension CommandTree {
    static let clientSimulate = CommandSpec(
        name: "simulate",
        abstract: "Open many goim clients and measure what they receive (load generator).",
        discussion: """
            Opens --clients connections to comet over TCP (--tcp) or WebSocket (--ws, goim's \
            JSON messages, or binary frames with --binary) and authenticates each (op 7) with \
            user ids counted up from --uid-start: with --room the token is \
            {"mid":UID,"room":RID}, else the decimal id. Every client heartbeats (op 2) and \
            counts the pushes it receives, each frame of a batch as one message.

            A progress line goes to standard error each second; at the end a summary table \
            (or, with --json, one JSON object) goes to standard output. --duration counts \
            from the moment every client has connected or failed; without it the run ends on \
            Ctrl-C.

            With --push-rate the command also pushes to --room through logic's HTTP API \
            (POST /1/push/room?rid=RID), each body being \
            {"sim_seq":SEQ,"sent_ns":UNIX_NANOS}; clients receiving such a body record its \
            latency. The pushes start once every client has connected or failed, and the run \
            waits a few seconds at the end for the last ones to arrive.

            Past one process's open-file limit (at most 15,000 clients per process) the \
            clients are spread over worker processes, each binding its own 127.0.0.x source \
            address when comet is on loopback.

            Exit status: 0 when the run completed, even if some clients failed (they are \
            reported); 1 when no client could connect or logic cannot be reached.
            """,
        options: [
            OptionSpec(
                long: "clients", valueName: "n", kind: .value(.integer),
                abstract: "How many clients to open.", isRequired: true),
            OptionSpec(
                long: "tcp", valueName: "host:port", kind: .value(.address),
                abstract: "Comet's TCP address.", defaultValue: "127.0.0.1:8080"),
            OptionSpec(
                long: "ws", valueName: "url", kind: .value(.url),
                abstract: "Comet's WebSocket URL instead of --tcp: ws://HOST:PORT/sub."),
            OptionSpec(
                long: "binary", kind: .flag,
                abstract: "With --ws, speak binary frames instead of goim's JSON messages."),
            OptionSpec(
                long: "uid-start", valueName: "uid", kind: .value(.integer),
                abstract: "The first client's user id; the others count up.",
                defaultValue: "1"),
            OptionSpec(
                long: "room", valueName: "rid", kind: .value(.integer),
                abstract: "The room every client joins (and --push-rate pushes to)."),
            OptionSpec(
                long: "heartbeat", valueName: "duration", kind: .value(.duration),
                abstract: "Interval between each client's heartbeats.", defaultValue: "30s"),
            OptionSpec(
                long: "ramp", valueName: "n", kind: .value(.integer),
                abstract: "Connects per second (default: as fast as 1000 in flight allow)."),
            OptionSpec(
                long: "duration", valueName: "duration", kind: .value(.duration),
                abstract: "How long to measure once all clients are up (default: until Ctrl-C)."),
            OptionSpec(
                long: "push-rate", valueName: "n", kind: .value(.integer),
                abstract: "Room pushes per second sent through logic (needs --room)."),
            logicOption,
            OptionSpec(
                long: "json", kind: .flag, abstract: "Print the summary as one JSON object."),
        ])
}
