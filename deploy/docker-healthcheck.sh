#!/bin/sh
# odac-healthcheck: the container health check (Docker HEALTHCHECK, Kubernetes exec probes).
# Exit 0 = healthy. Two kinds of evidence, best first:
#  1. ODAC_HEARTBEAT_FILE set and the file exists: healthy while it was touched within
#     ODAC_HEALTH_MAX_AGE_S seconds (default 60); a hung main loop stops touching it.
#  2. Otherwise, by the process that is PID 1: odac-replay and odac-learner are healthy while they
#     listen on their bind ports (read from /proc/net/tcp, no tools needed); odac-actor and the
#     launcher while PID 1 is alive and not a zombie.
set -eu
max_age=${ODAC_HEALTH_MAX_AGE_S:-60}
if [ -n "${ODAC_HEARTBEAT_FILE:-}" ] && [ -e "$ODAC_HEARTBEAT_FILE" ]; then
  age=$(($(date +%s) - $(date -r "$ODAC_HEARTBEAT_FILE" +%s)))
  [ "$age" -le "$max_age" ] && exit 0
  echo "heartbeat $ODAC_HEARTBEAT_FILE is ${age}s old (limit ${max_age}s)"
  exit 1
fi
state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' /proc/1/status 2>/dev/null || true)
case "$state" in '' | Z | X)
  echo "PID 1 is gone (state '$state')"
  exit 1
  ;;
esac
# listening PORT: some socket in LISTEN state (0A) on this TCP port, IPv4 or IPv6.
listening() {
  hex=$(printf '%04X' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }'
}
# port_of ENDPOINT DEFAULT: the port of tcp://host:port, or DEFAULT.
port_of() {
  p=${1##*:}
  case "$p" in '' | *[!0-9]*) p=$2 ;; esac
  echo "$p"
}
prog=$(tr '\0' '\n' </proc/1/cmdline | head -n 1)
case "$(basename "$prog")" in
odac-replay) ports="$(port_of "${ODAC_INSERT_BIND:-}" 5601) $(port_of "${ODAC_SAMPLE_BIND:-}" 5602)" ;;
odac-learner) ports="$(port_of "${ODAC_WEIGHTS_BIND:-}" 5555) $(port_of "${ODAC_STATS_BIND:-}" 5556)" ;;
*) ports="" ;;
esac
for p in $ports; do
  if ! listening "$p"; then
    echo "$(basename "$prog") is not listening on port $p"
    exit 1
  fi
done
exit 0
