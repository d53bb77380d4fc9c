# bash completion for imctl,
# generated from the imctl command tree by 'imctl generate completion bash'; do not edit.
# Load it with 'source imctl.bash', or install it as
# /usr/share/bash-completion/completions/imctl.

# _imctl_subcommands PATH: the subcommands of the command at PATH ('' is imctl).
_imctl_subcommands() {
    case "$1" in
        '') echo 'serve push pushs push-all push-room server-del count client repl help version' ;;
        'serve') echo 'all comet logic router job' ;;
        'client') echo 'connect simulate' ;;
    esac
}

# _imctl_options PATH: the options of the command at PATH.
_imctl_options() {
    case "$1" in
        '') echo '--version --help' ;;
        'serve') echo '--help' ;;
        'serve all') echo '--tcp --ws --tcp-tls --wss --tls-cert --tls-key --http --server-id --loops --handshake-timeout --heartbeat-timeout --max-frame-body --outbound-limit --write-timeout --http-max-body --room-batch --room-window --room-queue --queue --queue-capacity --log-level --config --print-config --help' ;;
        'serve comet') echo '--server-id --tcp --ws --tcp-tls --wss --tls-cert --tls-key --rpc --rpc-advertise --logic-rpc --register-interval --handshake-timeout --heartbeat-timeout --max-frame-body --outbound-limit --write-timeout --metrics --loops --log-level --config --print-config --help' ;;
        'serve logic') echo '--http --rpc --router --queue --publish-timeout --comet-expiry --http-max-body --loops --log-level --config --print-config --help' ;;
        'serve router') echo '--rpc --metrics --loops --log-level --config --print-config --help' ;;
        'serve job') echo '--queue --logic-rpc --room-batch --room-window --room-queue --metrics --loops --log-level --config --print-config --help' ;;
        'push') echo '--uid --logic --json --help' ;;
        'pushs') echo '--uids --logic --json --help' ;;
        'push-all') echo '--logic --json --help' ;;
        'push-room') echo '--room --ensure --logic --json --help' ;;
        'server-del') echo '--server --logic --json --help' ;;
        'count') echo '--logic --json --help' ;;
        'client') echo '--help' ;;
        'client connect') echo '--token --tcp --ws --tls-ca --binary --heartbeat --json --help' ;;
        'client simulate') echo '--clients --tcp --ws --binary --uid-start --room --heartbeat --ramp --duration --push-rate --logic --json --help' ;;
        'repl') echo '--logic --help' ;;
        'help') echo '--help' ;;
        'version') echo '--help' ;;
    esac
}

# _imctl_value_kind 'PATH OPTION': how OPTION's value is completed; nothing for a flag.
_imctl_value_kind() {
    case "$1" in
        'serve all --tcp') echo text ;;
        'serve all --ws') echo text ;;
        'serve all --tcp-tls') echo text ;;
        'serve all --wss') echo text ;;
        'serve all --tls-cert') echo file ;;
        'serve all --tls-key') echo file ;;
        'serve all --http') echo text ;;
        'serve all --server-id') echo text ;;
        'serve all --loops') echo text ;;
        'serve all --handshake-timeout') echo text ;;
        'serve all --heartbeat-timeout') echo text ;;
        'serve all --max-frame-body') echo text ;;
        'serve all --outbound-limit') echo text ;;
        'serve all --write-timeout') echo text ;;
        'serve all --http-max-body') echo text ;;
        'serve all --room-batch') echo text ;;
        'serve all --room-window') echo text ;;
        'serve all --room-queue') echo text ;;
        'serve all --queue') echo text ;;
        'serve all --queue-capacity') echo text ;;
        'serve all --log-level') echo 'choice trace debug info warning error' ;;
        'serve all --config') echo file ;;
        'serve comet --server-id') echo text ;;
        'serve comet --tcp') echo text ;;
        'serve comet --ws') echo text ;;
        'serve comet --tcp-tls') echo text ;;
        'serve comet --wss') echo text ;;
        'serve comet --tls-cert') echo file ;;
        'serve comet --tls-key') echo file ;;
        'serve comet --rpc') echo text ;;
        'serve comet --rpc-advertise') echo text ;;
        'serve comet --logic-rpc') echo text ;;
        'serve comet --register-interval') echo text ;;
        'serve comet --handshake-timeout') echo text ;;
        'serve comet --heartbeat-timeout') echo text ;;
        'serve comet --max-frame-body') echo text ;;
        'serve comet --outbound-limit') echo text ;;
        'serve comet --write-timeout') echo text ;;
        'serve comet --metrics') echo text ;;
        'serve comet --loops') echo text ;;
        'serve comet --log-level') echo 'choice trace debug info warning error' ;;
        'serve comet --config') echo file ;;
        'serve logic --http') echo text ;;
        'serve logic --rpc') echo text ;;
        'serve logic --router') echo text ;;
        'serve logic --queue') echo text ;;
        'serve logic --publish-timeout') echo text ;;
        'serve logic --comet-expiry') echo text ;;
        'serve logic --http-max-body') echo text ;;
        'serve logic --loops') echo text ;;
        'serve logic --log-level') echo 'choice trace debug info warning error' ;;
        'serve logic --config') echo file ;;
        'serve router --rpc') echo text ;;
        'serve router --metrics') echo text ;;
        'serve router --loops') echo text ;;
        'serve router --log-level') echo 'choice trace debug info warning error' ;;
        'serve router --config') echo file ;;
        'serve job --queue') echo text ;;
        'serve job --logic-rpc') echo text ;;
        'serve job --room-batch') echo text ;;
        'serve job --room-window') echo text ;;
        'serve job --room-queue') echo text ;;
        'serve job --metrics') echo text ;;
        'serve job --loops') echo text ;;
        'serve job --log-level') echo 'choice trace debug info warning error' ;;
        'serve job --config') echo file ;;
        'push --uid') echo text ;;
        'push --logic') echo text ;;
        'pushs --uids') echo text ;;
        'pushs --logic') echo text ;;
        'push-all --logic') echo text ;;
        'push-room --room') echo text ;;
        'push-room --logic') echo text ;;
        'server-del --server') echo text ;;
        'server-del --logic') echo text ;;
        'count --logic') echo text ;;
        'client connect --token') echo text ;;
        'client connect --tcp') echo text ;;
        'client connect --ws') echo text ;;
        'client connect --tls-ca') echo file ;;
        'client connect --heartbeat') echo text ;;
        'client simulate --clients') echo text ;;
        'client simulate --tcp') echo text ;;
        'client simulate --ws') echo text ;;
        'client simulate --uid-start') echo text ;;
        'client simulate --room') echo text ;;
        'client simulate --heartbeat') echo text ;;
        'client simulate --ramp') echo text ;;
        'client simulate --duration') echo text ;;
        'client simulate --push-rate') echo text ;;
        'client simulate --logic') echo text ;;
        'repl --logic') echo text ;;
    esac
}

# _imctl_argument_kind 'PATH INDEX': how the positional at INDEX (from 0) is completed.
_imctl_argument_kind() {
    case "$1" in
        'push 0') echo text ;;
        'pushs 0') echo text ;;
        'push-all 0') echo text ;;
        'push-room 0') echo text ;;
        'count 0') echo 'choice room server' ;;
        'help '*) echo 'command 0' ;;
    esac
}

# _imctl_complete_kind KIND [POSITIONAL...]: fills COMPREPLY for a value of KIND.
_imctl_complete_kind() {
    local kind=$1
    shift
    case $kind in
        file)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
        choice\ *)
            mapfile -t COMPREPLY < <(compgen -W "${kind#choice }" -- "$cur") ;;
        command\ *)
            local first=${kind#command } IFS=' '
            local names=$(_imctl_subcommands "${*:first+1}")
            mapfile -t COMPREPLY < <(compgen -W "$names" -- "$cur") ;;
    esac
}

# _imctl_join_words: sets words, cword and cur from COMP_WORDS, putting back together
# the pieces bash splits at ':' and '=' (http://host:port, --opt=value) where the line
# has no blank between them, as bash-completion's _get_comp_words_by_ref -n =: does.
_imctl_join_words() {
    local line=${COMP_LINE:0:COMP_POINT} piece trimmed i
    words=()
    if [[ -z $line ]]; then  # called without a command line: take the words as they are
        words=("${COMP_WORDS[@]:0:COMP_CWORD+1}")
        cword=$COMP_CWORD
        cur=${COMP_WORDS[COMP_CWORD]}
        return
    fi
    for ((i = 0; i <= COMP_CWORD && i < ${#COMP_WORDS[@]}; i++)); do
        piece=${COMP_WORDS[i]}
        trimmed=${line#"${line%%[![:space:]]*}"}
        if (( i == 0 )) || [[ $trimmed != "$line" ]]; then
            words+=("$piece")
        else
            words[${#words[@]}-1]+=$piece
        fi
        line=${trimmed#"$piece"}
    done
    cword=$(( ${#words[@]} - 1 ))
    cur=${words[cword]}
}

# _imctl: walks the words before the cursor as imctl's parser does (subcommand words,
# then options and positionals; a value option takes the next word), then completes
# the current word: an option's value, an option, a subcommand or a positional.
_imctl() {
    local cur words cword
    if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
        _get_comp_words_by_ref -n =: -c cur -w words -i cword
    else
        _imctl_join_words
    fi
    COMPREPLY=()

    local path='' kind='' dashes='' word i
    local positionals=()
    for ((i = 1; i < cword; i++)); do
        word=${words[i]}
        if [[ -n $kind ]]; then
            kind=''
            continue
        fi
        if [[ -n $dashes ]]; then
            positionals+=("$word")
            continue
        fi
        case $word in
            --) dashes=1 ;;
            --*=*) ;;
            -?*) kind=$(_imctl_value_kind "${path:+$path }$word") ;;
            *)
                if (( ${#positionals[@]} == 0 )) &&
                    [[ " $(_imctl_subcommands "$path") " == *" $word "* ]]; then
                    path=${path:+$path }$word
                else
                    positionals+=("$word")
                fi ;;
        esac
    done

    if [[ -z $kind && -z $dashes && $cur == --*=* ]]; then
        kind=$(_imctl_value_kind "${path:+$path }${cur%%=*}")
        cur=${cur#*=}
        [[ -n $kind ]] || return 0
    fi
    if [[ -n $kind ]]; then
        _imctl_complete_kind "$kind"
    elif [[ -z $dashes && $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_imctl_options "$path")" -- "$cur")
    elif [[ -n $(_imctl_subcommands "$path") ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_imctl_subcommands "$path")" -- "$cur")
    else
        kind=$(_imctl_argument_kind "${path:+$path }${#positionals[@]}")
        _imctl_complete_kind "$kind" "${positionals[@]}"
    fi
    return 0
}

complete -F _imctl imctl
