# tests/ports.sh, sourced by the tests and benchmarks that start real processes.
# pick_port [SPAN]: a random base port whose SPAN ports (default 64: a run's weights, stats,
# status and two ports per shard, and a second run at base + 20) are free now and lie below the
# kernel's ephemeral range, where outgoing connections take their local ports (a base picked in
# that range once found its learner port taken by one: CI, e2e_tensorboard). A port can still be
# taken between this check and the bind; the random pick makes that rare.

# Local TCP ports in use (any state, IPv4 and IPv6), from /proc/net/tcp*.
ports_in_use() {
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    awk 'NR > 1 && $2 ~ /:/ { split($2, a, ":"); print a[2] }' |
    while read -r hex; do echo $((16#$hex)); done | sort -un
}

pick_port() {
  local span=${1:-64} lo=32768 used p q ok
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
  [ "$lo" -gt $((21000 + span)) ] || lo=32768
  used=" $(ports_in_use | tr '\n' ' ') "
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % (lo - 20000 - span)))
    ok=1
    for ((q = p; q < p + span; q++)); do
      case "$used" in *" $q "*) ok=0; break ;; esac
    done
    [ "$ok" = 1 ] && { echo "$p"; return 0; }
  done
  echo "pick_port: no free range of $span ports below $lo" >&2
  return 1
}
