#!/bin/sh
# odac-entrypoint: the image's entrypoint. Fills in the settings a container cannot know ahead of
# time, then execs the command (so the odac process is PID 1 and gets SIGTERM from `docker stop`).
#  - ODAC_RUN_ID unset: <env>-<variant>-<seed> from ODAC_ENV/ODAC_VARIANT/ODAC_SEED, the same for
#    the learner and the shards, so both find the same run directory.
#  - odac-learner with ODAC_RUN_DIR unset: /var/lib/odac/runs (the volume).
#  - odac-replay with ODAC_SHARD_ID=auto: the ordinal ending the hostname (StatefulSet pod
#    replay-1 -> 1); with ODAC_CHECKPOINT_DIR unset: /var/lib/odac/runs/<run-id>/replay-<shard-id>,
#    the layout the local launcher uses.
#  - odac-actor with ODAC_ACTOR_ID=auto (or hostname): an id derived from the container's hostname
#    (a CRC of it), distinct per replica of `docker compose up --scale actor=N` or per pod of a
#    Kubernetes Deployment, and stable while the container lives (so a restarted actor keeps it).
#    A hostname ending in -<number> (a StatefulSet pod, actor-3) uses that number instead.
set -eu
data=/var/lib/odac
: "${ODAC_RUN_ID:=${ODAC_ENV:-box2d}-${ODAC_VARIANT:-odac}-${ODAC_SEED:-0}}"
export ODAC_RUN_ID
prog=$(basename "${1:-}")
case "$prog" in
odac-learner)
  : "${ODAC_RUN_DIR:=$data/runs}"
  export ODAC_RUN_DIR
  ;;
odac-replay)
  if [ "${ODAC_SHARD_ID:-}" = auto ]; then
    host=$(cat /proc/sys/kernel/hostname)
    ODAC_SHARD_ID=${host##*-}
    case "$ODAC_SHARD_ID" in '' | *[!0-9]* | "$host")
      echo "odac-entrypoint: ODAC_SHARD_ID=auto needs a hostname ending in -<number>, not $host" >&2
      exit 2
      ;;
    esac
    export ODAC_SHARD_ID
  fi
  if [ -z "${ODAC_CHECKPOINT_DIR:-}" ]; then
    ODAC_CHECKPOINT_DIR="$data/runs/$ODAC_RUN_ID/replay-${ODAC_SHARD_ID:-0}"
    export ODAC_CHECKPOINT_DIR
  fi
  mkdir -p "$ODAC_CHECKPOINT_DIR"
  ;;
odac-actor)
  case "${ODAC_ACTOR_ID:-}" in
  auto | hostname)
    host=$(cat /proc/sys/kernel/hostname)
    ordinal=${host##*-}
    case "$ordinal" in
    '' | *[!0-9]* | "$host") ODAC_ACTOR_ID=$(printf '%s' "$host" | cksum | cut -d' ' -f1) ;;
    *) ODAC_ACTOR_ID=$ordinal ;;
    esac
    # Ids stay below 2^31 so any signed or unsigned 32-bit field holds them.
    ODAC_ACTOR_ID=$((ODAC_ACTOR_ID % 2147483648))
    export ODAC_ACTOR_ID
    echo "odac-entrypoint: actor id $ODAC_ACTOR_ID (from hostname $host)" >&2
    ;;
  esac
  ;;
esac
exec "$@"
