# fish completion for imctl,
# generated from the imctl command tree by 'imctl generate completion fish'; do not edit.
# Install it as ~/.config/fish/completions/imctl.fish, or source it.

# __imctl_subcommands PATH: the subcommands of the command at PATH.
function __imctl_subcommands
    switch $argv[1]
        case 'imctl'
            printf '%s\n' 'serve' 'push' 'pushs' 'push-all' 'push-room' 'server-del' 'count' 'client' 'repl' 'help' 'version'
        case 'imctl serve'
            printf '%s\n' 'all' 'comet' 'logic' 'router' 'job'
        case 'imctl client'
            printf '%s\n' 'connect' 'simulate'
    end
end

# __imctl_value_options PATH: the options of the command at PATH that take a value.
function __imctl_value_options
    switch $argv[1]
        case 'imctl serve all'
            printf '%s\n' '--tcp' '--ws' '--tcp-tls' '--wss' '--tls-cert' '--tls-key' '--http' '--server-id' '--loops' '--handshake-timeout' '--heartbeat-timeout' '--max-frame-body' '--outbound-limit' '--write-timeout' '--http-max-body' '--room-batch' '--room-window' '--room-queue' '--queue' '--queue-capacity' '--log-level' '--config'
        case 'imctl serve comet'
            printf '%s\n' '--server-id' '--tcp' '--ws' '--tcp-tls' '--wss' '--tls-cert' '--tls-key' '--rpc' '--rpc-advertise' '--logic-rpc' '--register-interval' '--handshake-timeout' '--heartbeat-timeout' '--max-frame-body' '--outbound-limit' '--write-timeout' '--metrics' '--loops' '--log-level' '--config'
        case 'imctl serve logic'
            printf '%s\n' '--http' '--rpc' '--router' '--queue' '--publish-timeout' '--comet-expiry' '--http-max-body' '--loops' '--log-level' '--config'
        case 'imctl serve router'
            printf '%s\n' '--rpc' '--metrics' '--loops' '--log-level' '--config'
        case 'imctl serve job'
            printf '%s\n' '--queue' '--logic-rpc' '--room-batch' '--room-window' '--room-queue' '--metrics' '--loops' '--log-level' '--config'
        case 'imctl push'
            printf '%s\n' '--uid' '--logic'
        case 'imctl pushs'
            printf '%s\n' '--uids' '--logic'
        case 'imctl push-all'
            printf '%s\n' '--logic'
        case 'imctl push-room'
            printf '%s\n' '--room' '--logic'
        case 'imctl server-del'
            printf '%s\n' '--server' '--logic'
        case 'imctl count'
            printf '%s\n' '--logic'
        case 'imctl client connect'
            printf '%s\n' '--token' '--tcp' '--ws' '--tls-ca' '--heartbeat'
        case 'imctl client simulate'
            printf '%s\n' '--clients' '--tcp' '--ws' '--uid-start' '--room' '--heartbeat' '--ramp' '--duration' '--push-rate' '--logic'
        case 'imctl repl'
            printf '%s\n' '--logic'
    end
end

# __imctl_state: prints 'imctl PATH' for the command being completed, then the number of
# positionals typed so far, walking the words as imctl's parser does.
function __imctl_state
    set -l words (commandline -opc)
    set -e words[1]
    set -l path imctl
    set -l positionals 0
    set -l value_next 0
    set -l dashes 0
    for word in $words
        if test $value_next = 1
            set value_next 0
        else if test $dashes = 1
            set positionals (math $positionals + 1)
        else if test "$word" = --
            set dashes 1
        else if string match -q -- '--*=*' $word
            continue
        else if string match -q -- '-?*' $word
            if contains -- $word (__imctl_value_options "$path")
                set value_next 1
            end
        else if test $positionals = 0; and contains -- $word (__imctl_subcommands "$path")
            set path "$path $word"
        else
            set positionals (math $positionals + 1)
        end
    end
    printf '%s\n' "$path" $positionals
end

# __imctl_at PATH [COUNT]: whether the command being completed is PATH (with COUNT
# positionals so far).
function __imctl_at
    set -l state (__imctl_state)
    test "$state[1]" = "$argv[1]"; or return 1
    test (count $argv) -lt 2; or test "$state[2]" = "$argv[2]"
end

complete -c imctl -f

complete -c imctl -n '__imctl_at \'imctl\'' -a 'serve' -d 'Run the server roles'
complete -c imctl -n '__imctl_at \'imctl\'' -a 'push' -d 'Push a message to every session of one user'
complete -c imctl -n '__imctl_at \'imctl\'' -a 'pushs' -d 'Push a JSON message to several users'
complete -c imctl -n '__imctl_at \'imctl\'' -a 'push-all' -d 'Push a message to every connected session'
complete -c imctl -n '__imctl_at \'imctl\'' -a 'push-room' -d 'Push a message to every session in a room'
complete -c imctl -n '__imctl_at \'imctl\'' -a 'server-del' -d 'Remove every session of one comet server from the routers'
complete -c imctl -n '__imctl_at \'imctl\'' -a 'count' -d 'Show online session counts per room or per comet server'
complete -c imctl -n '__imctl_at \'imctl\'' -a 'client' -d 'Act as a goim client'
complete -c imctl -n '__imctl_at \'imctl\'' -a 'repl' -d 'Read commands interactively, or line by line from standard input'
complete -c imctl -n '__imctl_at \'imctl\'' -a 'help' -d 'Show help for a command'
complete -c imctl -n '__imctl_at \'imctl\'' -a 'version' -d 'Show the version'
complete -c imctl -n '__imctl_at \'imctl\'' -l version -d 'Show the version'
complete -c imctl -n '__imctl_at \'imctl\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl serve\'' -a 'all' -d 'Run comet, logic, router and job in one process'
complete -c imctl -n '__imctl_at \'imctl serve\'' -a 'comet' -d 'Run the comet role: client connections and their pushes'
complete -c imctl -n '__imctl_at \'imctl serve\'' -a 'logic' -d 'Run the logic role: the HTTP push API and authentication'
complete -c imctl -n '__imctl_at \'imctl serve\'' -a 'router' -d 'Run the router role: the session table'
complete -c imctl -n '__imctl_at \'imctl serve\'' -a 'job' -d 'Run the job role: hands queued pushes to the comets'
complete -c imctl -n '__imctl_at \'imctl serve\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l tcp -x -d 'Address for goim TCP clients'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l ws -x -d 'Address for WebSocket clients (path /sub)'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l tcp-tls -x -d 'Address for goim TCP clients over TLS; off unless given'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l wss -x -d 'Address for WebSocket clients over TLS (wss, path /sub); off unless given'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l tls-cert -r -F -d 'PEM certificate chain (leaf first) for --tcp-tls and --wss'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l tls-key -r -F -d 'PEM private key (unencrypted) for --tcp-tls and --wss'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l http -x -d 'Address of the HTTP push API'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l server-id -x -d 'This comet\'s server id (1 or more)'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l loops -x -d 'Event-loop threads for connections; 0 means one per core (serve all runs as many again for its HTTP API, serve comet one more for its RPC)'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l handshake-timeout -x -d 'How long a new connection may take to authenticate'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l heartbeat-timeout -x -d 'How long an authenticated connection may stay silent'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l max-frame-body -x -d 'The largest frame body a client may send'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l outbound-limit -x -d 'Bytes queued for one slow client before it is disconnected'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l write-timeout -x -d 'How long queued bytes may wait for a client before it is disconnected'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l http-max-body -x -d 'The largest HTTP request body logic accepts'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l room-batch -x -d 'Room messages job coalesces into one batch'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l room-window -x -d 'How long job coalesces room messages after each send to the comets'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l room-queue -x -d 'Room messages job holds per room before it drops new ones (at least two batches)'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l queue -x -d 'Where logic publishes and job consumes: memory, or kafka://HOST:PORT/TOPIC'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l queue-capacity -x -d 'Dispatch messages the memory queue holds before logic answers 503'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l log-level -x -a 'trace debug info warning error' -d 'The lowest level that is logged'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l config -r -F -d 'Read \'key = value\' settings from a file (keys are the long option names)'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -l print-config -d 'Print the resolved configuration in the config-file syntax and exit'
complete -c imctl -n '__imctl_at \'imctl serve all\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l server-id -x -d 'This comet\'s server id (1 or more)'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l tcp -x -d 'Address for goim TCP clients'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l ws -x -d 'Address for WebSocket clients (path /sub)'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l tcp-tls -x -d 'Address for goim TCP clients over TLS; off unless given'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l wss -x -d 'Address for WebSocket clients over TLS (wss, path /sub); off unless given'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l tls-cert -r -F -d 'PEM certificate chain (leaf first) for --tcp-tls and --wss'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l tls-key -r -F -d 'PEM private key (unencrypted) for --tcp-tls and --wss'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l rpc -x -d 'Address of the internal RPC for job'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l rpc-advertise -x -d 'The RPC address job dials; default: the bound --rpc, 0.0.0.0 as 127.0.0.1'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l logic-rpc -x -d 'Logic\'s internal RPC address'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l register-interval -x -d 'How often the comet refreshes its registration with logic'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l handshake-timeout -x -d 'How long a new connection may take to authenticate'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l heartbeat-timeout -x -d 'How long an authenticated connection may stay silent'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l max-frame-body -x -d 'The largest frame body a client may send'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l outbound-limit -x -d 'Bytes queued for one slow client before it is disconnected'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l write-timeout -x -d 'How long queued bytes may wait for a client before it is disconnected'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l metrics -x -d 'Address for GET /metrics (Prometheus) and /healthz; off unless given'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l loops -x -d 'Event-loop threads for connections; 0 means one per core (serve all runs as many again for its HTTP API, serve comet one more for its RPC)'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l log-level -x -a 'trace debug info warning error' -d 'The lowest level that is logged'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l config -r -F -d 'Read \'key = value\' settings from a file (keys are the long option names)'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -l print-config -d 'Print the resolved configuration in the config-file syntax and exit'
complete -c imctl -n '__imctl_at \'imctl serve comet\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl serve logic\'' -l http -x -d 'Address of the HTTP push API'
complete -c imctl -n '__imctl_at \'imctl serve logic\'' -l rpc -x -d 'Address of the internal RPC for comets and job'
complete -c imctl -n '__imctl_at \'imctl serve logic\'' -l router -x -d 'A router\'s name and RPC address; repeat for several routers'
complete -c imctl -n '__imctl_at \'imctl serve logic\'' -l queue -x -d 'The Kafka topic of dispatch messages: kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?...]'
complete -c imctl -n '__imctl_at \'imctl serve logic\'' -l publish-timeout -x -d 'How long a push waits for the broker\'s acknowledgement before HTTP 503'
complete -c imctl -n '__imctl_at \'imctl serve logic\'' -l comet-expiry -x -d 'How long a comet may go without refreshing its registration'
complete -c imctl -n '__imctl_at \'imctl serve logic\'' -l http-max-body -x -d 'The largest HTTP request body logic accepts'
complete -c imctl -n '__imctl_at \'imctl serve logic\'' -l loops -x -d 'Event-loop threads for connections; 0 means one per core (serve all runs as many again for its HTTP API, serve comet one more for its RPC)'
complete -c imctl -n '__imctl_at \'imctl serve logic\'' -l log-level -x -a 'trace debug info warning error' -d 'The lowest level that is logged'
complete -c imctl -n '__imctl_at \'imctl serve logic\'' -l config -r -F -d 'Read \'key = value\' settings from a file (keys are the long option names)'
complete -c imctl -n '__imctl_at \'imctl serve logic\'' -l print-config -d 'Print the resolved configuration in the config-file syntax and exit'
complete -c imctl -n '__imctl_at \'imctl serve logic\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl serve router\'' -l rpc -x -d 'Address of the internal RPC for logic'
complete -c imctl -n '__imctl_at \'imctl serve router\'' -l metrics -x -d 'Address for GET /metrics (Prometheus) and /healthz; off unless given'
complete -c imctl -n '__imctl_at \'imctl serve router\'' -l loops -x -d 'Event-loop threads for connections; 0 means one per core (serve all runs as many again for its HTTP API, serve comet one more for its RPC)'
complete -c imctl -n '__imctl_at \'imctl serve router\'' -l log-level -x -a 'trace debug info warning error' -d 'The lowest level that is logged'
complete -c imctl -n '__imctl_at \'imctl serve router\'' -l config -r -F -d 'Read \'key = value\' settings from a file (keys are the long option names)'
complete -c imctl -n '__imctl_at \'imctl serve router\'' -l print-config -d 'Print the resolved configuration in the config-file syntax and exit'
complete -c imctl -n '__imctl_at \'imctl serve router\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl serve job\'' -l queue -x -d 'The Kafka topic of dispatch messages: kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?...]'
complete -c imctl -n '__imctl_at \'imctl serve job\'' -l logic-rpc -x -d 'Logic\'s internal RPC address'
complete -c imctl -n '__imctl_at \'imctl serve job\'' -l room-batch -x -d 'Room messages job coalesces into one batch'
complete -c imctl -n '__imctl_at \'imctl serve job\'' -l room-window -x -d 'How long job coalesces room messages after each send to the comets'
complete -c imctl -n '__imctl_at \'imctl serve job\'' -l room-queue -x -d 'Room messages job holds per room before it drops new ones (at least two batches)'
complete -c imctl -n '__imctl_at \'imctl serve job\'' -l metrics -x -d 'Address for GET /metrics (Prometheus) and /healthz; off unless given'
complete -c imctl -n '__imctl_at \'imctl serve job\'' -l loops -x -d 'Event-loop threads for connections; 0 means one per core (serve all runs as many again for its HTTP API, serve comet one more for its RPC)'
complete -c imctl -n '__imctl_at \'imctl serve job\'' -l log-level -x -a 'trace debug info warning error' -d 'The lowest level that is logged'
complete -c imctl -n '__imctl_at \'imctl serve job\'' -l config -r -F -d 'Read \'key = value\' settings from a file (keys are the long option names)'
complete -c imctl -n '__imctl_at \'imctl serve job\'' -l print-config -d 'Print the resolved configuration in the config-file syntax and exit'
complete -c imctl -n '__imctl_at \'imctl serve job\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl push\'' -l uid -x -d 'The user id (mid) to push to'
complete -c imctl -n '__imctl_at \'imctl push\'' -l logic -x -d 'Logic\'s HTTP address'
complete -c imctl -n '__imctl_at \'imctl push\'' -l json -d 'Print logic\'s JSON response as it was received'
complete -c imctl -n '__imctl_at \'imctl push\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl pushs\'' -l uids -x -d 'Comma-separated user ids (mids) to push to'
complete -c imctl -n '__imctl_at \'imctl pushs\'' -l logic -x -d 'Logic\'s HTTP address'
complete -c imctl -n '__imctl_at \'imctl pushs\'' -l json -d 'Print logic\'s JSON response as it was received'
complete -c imctl -n '__imctl_at \'imctl pushs\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl push-all\'' -l logic -x -d 'Logic\'s HTTP address'
complete -c imctl -n '__imctl_at \'imctl push-all\'' -l json -d 'Print logic\'s JSON response as it was received'
complete -c imctl -n '__imctl_at \'imctl push-all\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl push-room\'' -l room -x -d 'The room id'
complete -c imctl -n '__imctl_at \'imctl push-room\'' -l ensure -d 'Send ensure=true (goim passes it on with the room message)'
complete -c imctl -n '__imctl_at \'imctl push-room\'' -l logic -x -d 'Logic\'s HTTP address'
complete -c imctl -n '__imctl_at \'imctl push-room\'' -l json -d 'Print logic\'s JSON response as it was received'
complete -c imctl -n '__imctl_at \'imctl push-room\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl server-del\'' -l server -x -d 'The comet server id'
complete -c imctl -n '__imctl_at \'imctl server-del\'' -l logic -x -d 'Logic\'s HTTP address'
complete -c imctl -n '__imctl_at \'imctl server-del\'' -l json -d 'Print logic\'s JSON response as it was received'
complete -c imctl -n '__imctl_at \'imctl server-del\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl count\'' -l logic -x -d 'Logic\'s HTTP address'
complete -c imctl -n '__imctl_at \'imctl count\'' -l json -d 'Print logic\'s JSON response as it was received'
complete -c imctl -n '__imctl_at \'imctl count\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl count\' 0' -a 'room server' -d 'What to count by: room or server'
complete -c imctl -n '__imctl_at \'imctl client\'' -a 'connect' -d 'Connect as one goim client and print the pushes it receives'
complete -c imctl -n '__imctl_at \'imctl client\'' -a 'simulate' -d 'Open many goim clients and measure what they receive (load generator)'
complete -c imctl -n '__imctl_at \'imctl client\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl client connect\'' -l token -x -d 'The auth token: a user id, or {"mid":UID,"room":RID}'
complete -c imctl -n '__imctl_at \'imctl client connect\'' -l tcp -x -d 'Comet\'s TCP address'
complete -c imctl -n '__imctl_at \'imctl client connect\'' -l ws -x -d 'Comet\'s WebSocket URL instead of --tcp: ws:// or wss://HOST:PORT/sub'
complete -c imctl -n '__imctl_at \'imctl client connect\'' -l tls-ca -r -F -d 'With a wss:// --ws, the CA file that verifies the server'
complete -c imctl -n '__imctl_at \'imctl client connect\'' -l binary -d 'With --ws, speak binary frames instead of goim\'s JSON messages'
complete -c imctl -n '__imctl_at \'imctl client connect\'' -l heartbeat -x -d 'Interval between heartbeats'
complete -c imctl -n '__imctl_at \'imctl client connect\'' -l json -d 'Print each push as a JSON line'
complete -c imctl -n '__imctl_at \'imctl client connect\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl client simulate\'' -l clients -x -d 'How many clients to open'
complete -c imctl -n '__imctl_at \'imctl client simulate\'' -l tcp -x -d 'Comet\'s TCP address'
complete -c imctl -n '__imctl_at \'imctl client simulate\'' -l ws -x -d 'Comet\'s WebSocket URL instead of --tcp: ws://HOST:PORT/sub'
complete -c imctl -n '__imctl_at \'imctl client simulate\'' -l binary -d 'With --ws, speak binary frames instead of goim\'s JSON messages'
complete -c imctl -n '__imctl_at \'imctl client simulate\'' -l uid-start -x -d 'The first client\'s user id; the others count up'
complete -c imctl -n '__imctl_at \'imctl client simulate\'' -l room -x -d 'The room every client joins (and --push-rate pushes to)'
complete -c imctl -n '__imctl_at \'imctl client simulate\'' -l heartbeat -x -d 'Interval between each client\'s heartbeats'
complete -c imctl -n '__imctl_at \'imctl client simulate\'' -l ramp -x -d 'Connects per second (default: as fast as 1000 in flight allow)'
complete -c imctl -n '__imctl_at \'imctl client simulate\'' -l duration -x -d 'How long to measure once all clients are up (default: until Ctrl-C)'
complete -c imctl -n '__imctl_at \'imctl client simulate\'' -l push-rate -x -d 'Room pushes per second sent through logic (needs --room)'
complete -c imctl -n '__imctl_at \'imctl client simulate\'' -l logic -x -d 'Logic\'s HTTP address'
complete -c imctl -n '__imctl_at \'imctl client simulate\'' -l json -d 'Print the summary as one JSON object'
complete -c imctl -n '__imctl_at \'imctl client simulate\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl repl\'' -l logic -x -d 'Logic\'s HTTP address for the commands (a line\'s --logic wins)'
complete -c imctl -n '__imctl_at \'imctl repl\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl help\'' -s h -l help -d 'Show help information'
complete -c imctl -n '__imctl_at \'imctl help\' 0' -a 'serve' -d 'Run the server roles'
complete -c imctl -n '__imctl_at \'imctl help\' 0' -a 'push' -d 'Push a message to every session of one user'
complete -c imctl -n '__imctl_at \'imctl help\' 0' -a 'pushs' -d 'Push a JSON message to several users'
complete -c imctl -n '__imctl_at \'imctl help\' 0' -a 'push-all' -d 'Push a message to every connected session'
complete -c imctl -n '__imctl_at \'imctl help\' 0' -a 'push-room' -d 'Push a message to every session in a room'
complete -c imctl -n '__imctl_at \'imctl help\' 0' -a 'server-del' -d 'Remove every session of one comet server from the routers'
complete -c imctl -n '__imctl_at \'imctl help\' 0' -a 'count' -d 'Show online session counts per room or per comet server'
complete -c imctl -n '__imctl_at \'imctl help\' 0' -a 'client' -d 'Act as a goim client'
complete -c imctl -n '__imctl_at \'imctl help\' 0' -a 'repl' -d 'Read commands interactively, or line by line from standard input'
complete -c imctl -n '__imctl_at \'imctl help\' 0' -a 'help' -d 'Show help for a command'
complete -c imctl -n '__imctl_at \'imctl help\' 0' -a 'version' -d 'Show the version'
complete -c imctl -n '__imctl_at \'imctl version\'' -s h -l help -d 'Show help information'
