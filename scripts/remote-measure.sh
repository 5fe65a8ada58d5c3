#!/usr/bin/env bash
# Measure --remote (docs/performance.md): the latency from a packet on the
# remote host's wire to the local text line, and the CPU of both ends of
# the ssh stream under a TCP stream. Root. Like the e2e tests, the remote
# host is a network namespace running its own sshd (config and keys in a
# temp dir, a private /run); nothing outside the namespaces and the temp
# dir is touched.
#
#   scripts/remote-measure.sh BINARY [latency|cpu|all] [extra capture flags]
set -euo pipefail
bin=$(realpath "$1")
what=${2:-all}
shift $(($# > 1 ? 2 : 1))
extra=("$@")
dir=$(mktemp -d)
A=bpc-rm-a-$$ B=bpc-rm-b-$$
cleanup() {
	[[ -n ${sshd:-} ]] && kill "$sshd" 2>/dev/null
	ip netns pids "$A" 2>/dev/null | xargs -r kill 2>/dev/null || true
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$A"
ip netns add "$B"
ip link add rma$$ netns "$A" type veth peer name rmb$$ netns "$B" # captured
ip link add rsa$$ netns "$A" type veth peer name rsb$$ netns "$B" # ssh
ip -n "$A" addr add 198.18.250.1/24 dev rma$$
ip -n "$B" addr add 198.18.250.2/24 dev rmb$$
ip -n "$A" addr add 198.19.250.1/24 dev rsa$$
ip -n "$B" addr add 198.19.250.2/24 dev rsb$$
for ns in "$A" "$B"; do
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
ip -n "$A" link set rma$$ up
ip -n "$A" link set rsa$$ up
ip -n "$B" link set rmb$$ up
ip -n "$B" link set rsb$$ up
ssh-keygen -q -t ed25519 -N '' -f "$dir/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$dir/userkey"
cp "$dir/userkey.pub" "$dir/authorized_keys"
mkdir "$dir/home" "$dir/tmp"
cat >"$dir/sshd_config" <<EOF
ListenAddress 198.19.250.1:2222
HostKey $dir/hostkey
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/sshd.pid
StrictModes no
UsePAM no
PermitRootLogin yes
SetEnv PATH=/usr/sbin:/usr/bin:/sbin:/bin TMPDIR=$dir/tmp HOME=$dir/home
EOF
ip netns exec "$A" unshare -m sh -c "mount -t tmpfs -o mode=755 tmpfs /run && mkdir -m 755 /run/sshd && exec /usr/sbin/sshd -D -e -f $dir/sshd_config" 2>"$dir/sshd.log" &
sshd=$!
sleep 1
ssh="ssh -F /dev/null -i $dir/userkey -o UserKnownHostsFile=$dir/known -o StrictHostKeyChecking=accept-new -o BatchMode=yes -p 2222"

# lat reads text lines (-tt) and prints the median and the 90th
# percentile of (arrival - time stamp) over the datagrams.
lat='
import sys, time
d = []
for line in sys.stdin:
    now = time.time()
    try: d.append(now - float(line.split()[0]))
    except ValueError: pass
d.sort()
if d: print("n=%d median %.2f ms, p90 %.2f ms, max %.2f ms" % (len(d), 1e3*d[len(d)//2], 1e3*d[int(len(d)*0.9)], 1e3*d[-1]))
'
# send N datagrams, one every S seconds, from B to A's port 7100.
send='
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[1])):
    s.sendto(b"x" * 100, ("198.18.250.1", 7100)); time.sleep(float(sys.argv[2]))
'
latency() { # $1: label, $2: N, $3: seconds apart; the rest: the capture's command line
	local label=$1 n=$2 gap=$3
	shift 3
	rm -f "$dir/ready"
	("$@" --ready-file "$dir/ready" -tt -l -c "$n" udp port 7100 | python3 -c "$lat" >"$dir/lat") 2>"$dir/lat.err" &
	local p=$!
	while [[ ! -e $dir/ready ]]; do sleep 0.1; done
	ip netns exec "$B" python3 -c "$send" "$n" "$gap"
	wait $p
	echo "latency, $label, one every $gap s: $(cat "$dir/lat")"
}
if [[ $what == latency || $what == all ]]; then
	for g in "20 1" "50 0.1"; do
		latency "local -i (no ssh)" $g ip netns exec "$A" "$bin" -i rma$$ "${extra[@]}"
		latency "--remote" $g ip netns exec "$B" "$bin" --ssh "$ssh" --remote root@198.19.250.1 -i rma$$ "${extra[@]}"
	done
fi

# ticks sums utime+stime (clock ticks) of the processes in namespace $1
# whose command name is $2.
ticks() {
	local t=0 pid
	for pid in $(ip netns pids "$1"); do
		[[ $(cat /proc/"$pid"/comm 2>/dev/null) == "$2" ]] || continue
		t=$((t + $(awk '{print $14 + $15}' /proc/"$pid"/stat)))
	done
	echo $t
}
cpu() {
	rm -f "$dir/ready" "$dir/out.pcapng"
	ip netns exec "$B" "$bin" --ssh "$ssh" --remote root@198.19.250.1 -i rma$$ --ready-file "$dir/ready" -w "$dir/out.pcapng" "${extra[@]}" tcp port 7200 2>"$dir/cpu.err" &
	local p=$!
	while [[ ! -e $dir/ready ]]; do sleep 0.1; done
	ip netns exec "$A" python3 -c '
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(("198.18.250.1", 7200)); l.listen(1)
c, _ = l.accept()
while c.recv(1 << 20): pass' &
	local srv=$!
	sleep 0.5
	local names=("$A bpftop-cap" "$A sshd-session" "$A sshd" "$B ssh" "$B bpftop-cap") before=() after=() i
	for i in "${names[@]}"; do before+=("$(ticks $i)"); done
	local t0=$EPOCHREALTIME
	ip netns exec "$B" python3 -c '
import socket, time
s = socket.create_connection(("198.18.250.1", 7200)); b = b"x" * (1 << 20); n = 0; end = time.time() + 10
while time.time() < end: s.sendall(b); n += len(b)
print("sent %.2f Gbit/s" % (n * 8 / 10 / 1e9))'
	for i in "${names[@]}"; do after+=("$(ticks $i)"); done
	local t1=$EPOCHREALTIME hz
	hz=$(getconf CLK_TCK)
	for i in "${!names[@]}"; do
		awk -v n="${names[$i]}" -v d="$((after[i] - before[i]))" -v hz="$hz" -v t0="$t0" -v t1="$t1" \
			'BEGIN { split(n, f, " "); printf "cpu %s %s: %.0f%% of a CPU\n", (f[1] ~ /-a-/ ? "remote" : "local"), f[2], 100 * d / hz / (t1 - t0) }'
	done
	kill -INT $p
	wait $p || true
	wait $srv 2>/dev/null || true
	grep -h "packets" "$dir/cpu.err" || true
}
if [[ $what == cpu || $what == all ]]; then
	cpu
fi
