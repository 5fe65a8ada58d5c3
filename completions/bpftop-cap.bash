# bash completion for bpftop-cap; written by bpftop-cap --completion bash (make man)
_bpftop_cap() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
        -i|--interface) COMPREPLY=($(compgen -W "any $(ls /sys/class/net 2>/dev/null)" -- "$cur")); return ;;
        -c|-s|--snapshot-length|-y|--linktype|-B|--buffer-size|--tc-attach|--egress-at|--pid|--comm|--remote|--ssh|-C|-W|-G|--ring-size|--max-flows|--perf-buffer|--ringbuf|--nice) return ;;
        -Q|--direction) COMPREPLY=($(compgen -W "in out inout" -- "$cur")); return ;;
        -F|-r|-w|--ready-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --cgroup) COMPREPLY=($(compgen -W "PATH ID" -- "$cur")); return ;;
        -Z|--relinquish-privileges) COMPREPLY=($(compgen -u -- "$cur")); return ;;
        --format) COMPREPLY=($(compgen -W "pcap pcapng" -- "$cur")); return ;;
        --time-stamp-precision) COMPREPLY=($(compgen -W "micro nano" -- "$cur")); return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "-i --interface -c -s --snapshot-length -Q --direction -p --no-promiscuous-mode -D --list-interfaces -L --list-data-link-types -y --linktype -F -B --buffer-size --xdp --tc-attach --egress-at --no-proc --pid --comm --cgroup -r --follow -Z --relinquish-privileges --demo --remote --ssh -w -C -W -G --format --time-stamp-precision --micro --nano -U --packet-buffered --ready-file --force --print -l -n -v -e -q -t -x -X -A -K --dont-verify-checksums -N -S --absolute-tcp-sequence-numbers --immediate-mode --ring-size --max-flows --perf-buffer --ringbuf --nice -h --help --version" -- "$cur"))
    fi
}
complete -o default -F _bpftop_cap bpftop-cap
