#!/usr/bin/env bash
# docker-test: the end-to-end test of the container deployment, bounded in time. It builds the image
# (deploy/Dockerfile, over deploy/docker-base.sh), brings up docker-compose.yml (learner, two shards,
# three actors) with small fast settings, and checks, each wait with its own timeout:
#   1. the learner trains: progress.csv in the volume shows updates and an evaluation result;
#   2. an actor started outside the compose project (docker run, host network, addresses given by
#      ODAC_* variables: the way actors on other machines join) is accepted by the learner;
#   3. a killed actor container (docker kill) does not stop training: env steps keep increasing;
#   4. a crashed actor (its process SIGKILLed) is restarted by the restart policy;
#   5. a restarted replay shard restores its checkpoint (its log says restored N > 0 transitions)
#      and training goes on;
#   6. the data outlives the containers: after `down` and `up` the learner resumes from its
#      checkpoint and the shards restore theirs;
#   7. the same compose file on Docker Swarm: a single-node swarm (unless the engine is in one
#      already), `docker stack deploy`, the actors scaled to 3 (`docker service scale`), all three
#      joining the learner, training and evaluations in its progress.csv, `docker stack rm`, and
#      the swarm left again;
# then removes everything it made (containers, network, volume; dockerd too if it started it), also
# when a check fails. As root it installs docker.io and docker-compose from Debian when missing and
# starts dockerd when none runs. Ends with one line 'docker-test: N passed, M failed'.
#   deploy/docker-test.sh                     # whole test (about 5-10 min on 2 cores)
#   ODAC_DOCKER_TEST_BUDGET_S=900 ODAC_DOCKER_PULL=1 deploy/docker-test.sh
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
budget_s=${ODAC_DOCKER_TEST_BUDGET_S:-900}
start_s=$SECONDS
project=odacdtest$$
image=${ODAC_DOCKER_TEST_IMAGE:-odac:test}
run_id=docker-test
workdir=$(mktemp -d /tmp/odac-docker-test.XXXXXX)
passed=0
failed=0
started_dockerd_pid=""
remote_actor=""

say() { printf '[docker-test %4ds] %s\n' $((SECONDS - start_s)) "$*" >&2; }
ok() { passed=$((passed + 1)); say "PASS: $*"; }
fail() { failed=$((failed + 1)); say "FAIL: $*"; }
left_s() { echo $((budget_s - (SECONDS - start_s))); }

# wait_for TIMEOUT_S DESCRIPTION COMMAND...: polls COMMAND every 2 s until it succeeds (0) or the
# timeout passes (1); the test stops (exit 1, after cleanup) once its whole budget is spent.
wait_for() {
  local timeout=$1 what=$2
  shift 2
  local left
  left=$(left_s)
  if [ "$left" -le 0 ]; then
    fail "the test's budget of ${budget_s}s is spent (waiting for: $what)"
    exit 1
  fi
  [ "$timeout" -gt "$left" ] && timeout=$left
  local until=$((SECONDS + timeout))
  while [ "$SECONDS" -lt "$until" ]; do
    "$@" && return 0
    sleep 2
  done
  say "timed out after ${timeout}s waiting for: $what"
  return 1
}

dump_logs() {
  [ "${#compose[@]}" -gt 0 ] || return 0
  say "last log lines of each service:"
  for s in replay0 replay1 learner actor; do
    "${compose[@]}" logs --no-color --tail 15 "$s" 2>&1 | sed "s/^/  /" >&2 || true
  done
  [ -n "$remote_actor" ] && docker logs --tail 10 "$remote_actor" 2>&1 | sed "s/^/  remote: /" >&2
  return 0
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ]; then dump_logs; fi
  say "cleaning up"
  [ -n "$remote_actor" ] && docker rm -f "$remote_actor" >/dev/null 2>&1
  [ -n "$stack" ] && swarm_down
  if [ "${#compose[@]}" -gt 0 ]; then
    timeout 120 "${compose[@]}" down -v --remove-orphans --timeout 20 >/dev/null 2>&1 ||
      say "compose down failed"
  fi
  if [ -n "$started_dockerd_pid" ] && [ "${ODAC_DOCKER_KEEP_DAEMON:-0}" != 1 ]; then
    kill "$started_dockerd_pid" 2>/dev/null
    wait "$started_dockerd_pid" 2>/dev/null
  fi
  rm -rf "$workdir"
  echo "docker-test: $passed passed, $failed failed"
  if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ]; then exit 1; fi
  exit 0
}
compose=()
stack=""
swarm_made=0
# Removes the stack, its volume and (when this test made it) the swarm.
swarm_down() {
  timeout 60 docker stack rm "$stack" >/dev/null 2>&1
  gone() { [ -z "$(docker ps -aq -f "label=com.docker.stack.namespace=$stack")" ]; }
  local until=$((SECONDS + 90))
  until gone || [ "$SECONDS" -ge "$until" ]; do sleep 2; done
  gone || say "stack $stack: containers left after 90 s"
  docker volume rm "${stack}_odac-data" >/dev/null 2>&1 || true
  [ "$swarm_made" = 1 ] && { timeout 60 docker swarm leave --force >/dev/null 2>&1 || say "swarm leave failed"; }
  stack=""
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# ---- Docker engine and Compose ---------------------------------------------------------------
need_pkgs=()
command -v dockerd >/dev/null || need_pkgs+=(docker.io)
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  need_pkgs+=(docker-compose)
fi
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { say "need ${need_pkgs[*]} (run as root to install them)"; exit 1; }
  say "installing ${need_pkgs[*]}"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${need_pkgs[@]}"; } >"$workdir/apt.log" 2>&1; then
    tail -20 "$workdir/apt.log" >&2
    exit 1
  fi
fi
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd"
  dockerd >/tmp/odac-docker-test-dockerd.log 2>&1 &
  started_dockerd_pid=$!
  docker_up() { docker info >/dev/null 2>&1; }
  wait_for 60 "dockerd to answer" docker_up || { tail -20 /tmp/odac-docker-test-dockerd.log >&2; exit 1; }
fi
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose -p "$project" -f docker-compose.yml)
  say "using $(docker compose version | head -1)"
else
  compose=(docker-compose -p "$project" -f docker-compose.yml)
  say "using $(docker-compose version | head -1)"
fi

# ---- images ----------------------------------------------------------------------------------
t0=$SECONDS
pull_arg=--no-pull
[ "${ODAC_DOCKER_PULL:-0}" = 1 ] && pull_arg=""
./deploy/docker-base.sh $pull_arg >&2 || exit 1
say "base image ready in $((SECONDS - t0))s"
t0=$SECONDS
if ! timeout "$(left_s)" docker build --force-rm -q -t "$image" -f deploy/Dockerfile . >"$workdir/build.log" 2>&1; then
  tail -40 "$workdir/build.log" >&2
  fail "docker build"
  exit 1
fi
ok "image $image built in $((SECONDS - t0))s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"

# ---- the stack ---------------------------------------------------------------------------------
# A free loopback port at or above $1.
free_port() {
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}
export ODAC_IMAGE=$image ODAC_PUBLISH_ADDR=127.0.0.1 ODAC_RUN_ID=$run_id
ODAC_HOST_PORT_WEIGHTS=$(free_port 25555)
ODAC_HOST_PORT_STATS=$(free_port $((ODAC_HOST_PORT_WEIGHTS + 1)))
ODAC_HOST_PORT_REPLAY0=$(free_port $((ODAC_HOST_PORT_STATS + 1)))
ODAC_HOST_PORT_REPLAY1=$(free_port $((ODAC_HOST_PORT_REPLAY0 + 1)))
export ODAC_HOST_PORT_WEIGHTS ODAC_HOST_PORT_STATS ODAC_HOST_PORT_REPLAY0 ODAC_HOST_PORT_REPLAY1
# Small and fast: the run must not end by itself while the test runs.
export ODAC_MAX_ENV_STEPS=100000000 ODAC_TARGET_DISTANCE=0
export ODAC_HIDDEN=64,64 ODAC_MODEL_HIDDEN=64,64 ODAC_BATCH_SIZE=64 ODAC_THREADS=1
export ODAC_LOG_EVERY_S=2 ODAC_CHECKPOINT_EVERY=2000
# A low sample-to-insert ratio so the shards' rate limiter lets env steps flow steadily.
export ODAC_MIN_SIZE=200 ODAC_SAMPLES_PER_INSERT=32 ODAC_CHECKPOINT_EVERY_S=5 ODAC_STATS_EVERY_S=5
export ODAC_NUM_ENVS=2 ODAC_RANDOM_STEPS=200 ODAC_EVAL_EVERY=2 ODAC_EVAL_EPISODES=2

up() {
  timeout 180 "${compose[@]}" up -d --no-build --scale actor="$1" >"$workdir/up.log" 2>&1 ||
    { cat "$workdir/up.log" >&2; return 1; }
}
say "compose up (3 actors), host ports $ODAC_HOST_PORT_WEIGHTS $ODAC_HOST_PORT_STATS $ODAC_HOST_PORT_REPLAY0 $ODAC_HOST_PORT_REPLAY1"
up 3 || { fail "compose up"; exit 1; }

# progress_field NAME: that column of the last row of progress.csv (empty when there is none).
progress_field() {
  "${compose[@]}" exec -T learner cat "/var/lib/odac/runs/$run_id/progress.csv" 2>/dev/null |
    awk -F, -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
                          c { v = $c } END { if (v != "") print v }'
}
env_steps() { progress_field env_steps; }
updates() { progress_field updates; }
have_updates() { local u; u=$(updates); [ -n "$u" ] && [ "$u" -gt 0 ]; }
have_eval() {
  local d; d=$(progress_field eval_distance_mean)
  [ -n "$d" ] && [ "$d" != nan ] && [ "$d" != -nan ]
}
# steps_above N: env steps in progress.csv exceed N.
steps_above() { local e; e=$(env_steps); [ -n "$e" ] && [ "$e" -gt "$1" ]; }
updates_above() { local u; u=$(updates); [ -n "$u" ] && [ "$u" -gt "$1" ]; }
logs_of() { "${compose[@]}" logs --no-color "$1" 2>/dev/null; }
# log_has SERVICE REGEX. grep -c reads the whole log: grep -q would stop at the first match and,
# with pipefail, the writer's SIGPIPE would turn a match into a failure on a long log.
log_has() { [ "$(logs_of "$1" | grep -cE "$2")" -gt 0 ]; }
learner_log_has() { log_has learner "$1"; }

if wait_for 240 "learner updates in progress.csv" have_updates &&
  wait_for 180 "an evaluation result in progress.csv" have_eval; then
  ok "training: $(updates) updates, $(env_steps) env steps, eval final distance $(progress_field eval_distance_mean)"
else
  fail "training did not start"
  exit 1
fi

# ---- an actor from elsewhere (host network, published ports) ---------------------------------
remote_actor=$project-remote-actor
docker run -d --name "$remote_actor" --network host \
  -e ODAC_ENV=box2d -e ODAC_ACTOR_ID=auto -e ODAC_NUM_ENVS=1 -e ODAC_RANDOM_STEPS=200 \
  -e ODAC_SHARDS="tcp://127.0.0.1:$ODAC_HOST_PORT_REPLAY0,tcp://127.0.0.1:$ODAC_HOST_PORT_REPLAY1" \
  -e ODAC_WEIGHTS="tcp://127.0.0.1:$ODAC_HOST_PORT_WEIGHTS" \
  -e ODAC_STATS="tcp://127.0.0.1:$ODAC_HOST_PORT_STATS" \
  "$image" odac-actor >/dev/null
remote_id() { docker logs "$remote_actor" 2>&1 | sed -n 's/.*actor id \([0-9]*\) .*/\1/p' | head -1; }
remote_id_known() { [ -n "$(remote_id)" ]; }
wait_for 20 "the remote actor's id" remote_id_known
rid=$(remote_id)
if [ -n "$rid" ] && wait_for 60 "learner log: actor $rid joined" learner_log_has "actor $rid joined"; then
  ok "remote actor (docker run --network host, ODAC_* addresses) joined as actor $rid"
else
  fail "remote actor did not join (id '$rid')"
  docker logs --tail 20 "$remote_actor" 2>&1 | sed "s/^/  remote: /" >&2
  logs_of learner | grep -E "joined|rejected" | tail -n 10 | sed "s/^/  learner: /" >&2
fi
docker rm -f "$remote_actor" >/dev/null 2>&1
remote_actor=""

# ---- kill one actor ----------------------------------------------------------------------------
mapfile -t actors < <("${compose[@]}" ps -q actor)
if [ "${#actors[@]}" -lt 3 ]; then
  fail "expected 3 actor containers, found ${#actors[@]}"
  exit 1
fi
docker kill "${actors[0]}" >/dev/null
steps=$(env_steps)
if wait_for 90 "env steps above $((steps + 500)) after killing an actor" steps_above $((steps + 500)) &&
  [ "$(docker inspect -f '{{.State.Running}}' "${actors[0]}")" = false ]; then
  ok "actor ${actors[0]:0:12} killed; env steps went on from $steps to $(env_steps)"
else
  fail "training did not continue after an actor was killed"
fi

# ---- crash one actor: the restart policy brings it back ----------------------------------------
pid=$(docker inspect -f '{{.State.Pid}}' "${actors[1]}")
kill -KILL "$pid"
restarted() {
  local count running
  read -r count running < <(docker inspect -f '{{.RestartCount}} {{.State.Running}}' "${actors[1]}")
  [ "$count" -gt 0 ] && [ "$running" = true ]
}
if wait_for 60 "actor ${actors[1]:0:12} restarted by the restart policy" restarted; then
  ok "crashed actor restarted (restart count $(docker inspect -f '{{.RestartCount}}' "${actors[1]}"))"
else
  fail "crashed actor was not restarted"
fi

# ---- restart a replay shard --------------------------------------------------------------------
restored_count() { logs_of replay0 | grep -cE 'restored .*: [1-9][0-9]* transitions'; }
before=$(restored_count)
timeout 90 "${compose[@]}" restart -t 30 replay0 >/dev/null 2>&1
shard_restored() { [ "$(restored_count)" -gt "$before" ]; }
if wait_for 60 "replay0 to log restored N > 0 transitions" shard_restored; then
  n=$(logs_of replay0 | sed -nE 's/.*restored .*: ([0-9]+) transitions.*/\1/p' | tail -1)
  u=$(updates)
  if wait_for 90 "updates above $u after the shard restart" updates_above "$u"; then
    ok "replay0 restarted, restored $n transitions; updates went on past $u"
  else
    fail "training stalled after the shard restart"
  fi
else
  fail "replay0 did not restore its checkpoint"
fi

# ---- down and up: the volume keeps the run -----------------------------------------------------
u=$(updates)
timeout 120 "${compose[@]}" down --timeout 30 >/dev/null 2>&1
resumed_line() { logs_of learner | grep -E 'resumed from .* at update [1-9]'; }
resumed() { resumed_line >/dev/null; }
both_restored() {
  log_has replay0 'restored .*: [1-9][0-9]* transitions' &&
    log_has replay1 'restored .*: [1-9][0-9]* transitions'
}
if up 2 && wait_for 60 "learner log: resumed from its checkpoint" resumed &&
  wait_for 30 "both shards restored" both_restored &&
  wait_for 90 "updates above $u after down/up" updates_above "$u"; then
  ok "after down/up: $(resumed_line | tail -1 | sed 's/.*\(resumed from\)/\1/'); shards restored; updates $(updates)"
else
  fail "the run did not survive down/up (updates before: $u)"
fi

# ---- Docker Swarm: the same compose file as a stack ---------------------------------------------
timeout 120 "${compose[@]}" down -v --remove-orphans --timeout 20 >/dev/null 2>&1
compose=()
if [ "$(docker info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null)" != active ]; then
  if timeout 60 docker swarm init --advertise-addr 127.0.0.1 >"$workdir/swarm.log" 2>&1; then
    swarm_made=1
  else
    cat "$workdir/swarm.log" >&2
    fail "docker swarm init"
    exit 1
  fi
fi
stack=odacswarm$$
# Inside a stack the services reach each other by their tasks' addresses (tasks.<service>):
# the virtual IPs need IPVS, which not every kernel (this VM's among them) gives a container.
export ODAC_SERVICE_PREFIX=tasks. ODAC_RUN_ID=swarm-test
if ! timeout 120 docker stack deploy -c docker-compose.yml "$stack" >"$workdir/stack.log" 2>&1; then
  cat "$workdir/stack.log" >&2
  fail "docker stack deploy"
  exit 1
fi
say "stack $stack deployed; scaling the actors to 3"
timeout 120 docker service scale -d "${stack}_actor=3" >/dev/null 2>&1 || fail "docker service scale"
# The learner's container, and a column of its progress.csv.
swarm_learner() { docker ps -q -f "label=com.docker.swarm.service.name=${stack}_learner" | head -1; }
swarm_field() {
  local c
  c=$(swarm_learner)
  [ -n "$c" ] || return 0
  docker exec "$c" cat "/var/lib/odac/runs/swarm-test/progress.csv" 2>/dev/null |
    awk -F, -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
                          c { v = $c } END { if (v != "") print v }'
}
swarm_trains() { local u; u=$(swarm_field updates); [ -n "$u" ] && [ "$u" -gt 0 ]; }
swarm_evaluates() { local d; d=$(swarm_field eval_distance_mean); [ -n "$d" ] && [ "$d" != nan ] && [ "$d" != -nan ]; }
running_actors() { docker ps -q -f "label=com.docker.swarm.service.name=${stack}_actor" | wc -l; }
three_running() { [ "$(running_actors)" -eq 3 ]; }
# Distinct actor ids the learner logged as joined.
# (docker logs keeps the program's streams apart: the log lines are on its stderr)
joined() {
  local c
  c=$(swarm_learner)
  [ -n "$c" ] || { echo 0; return 0; }
  docker logs "$c" 2>&1 | grep -oE 'actor [0-9]+ joined' | sort -u | wc -l
}
three_joined() { [ "$(joined)" -ge 3 ]; }
if wait_for 180 "3 actor tasks running" three_running &&
  wait_for 120 "3 actors joined the learner" three_joined &&
  wait_for 180 "updates in the stack's progress.csv" swarm_trains &&
  wait_for 180 "an evaluation in the stack's progress.csv" swarm_evaluates; then
  ok "swarm stack: 3 actor tasks joined; $(swarm_field updates) updates, $(swarm_field env_steps) env steps, eval final distance $(swarm_field eval_distance_mean)"
else
  fail "swarm stack did not train with 3 actors ($(running_actors) running, $(joined) joined)"
  docker service ls >&2
  docker service logs --tail 10 "${stack}_learner" 2>&1 | cut -c1-300 | sed "s/^/  learner: /" >&2
fi
swarm_down
if [ -z "$(docker ps -aq -f "label=com.docker.stack.namespace=odacswarm$$")" ] &&
  { [ "$swarm_made" = 0 ] || [ "$(docker info -f '{{.Swarm.LocalNodeState}}')" = inactive ]; }; then
  ok "stack removed$([ "$swarm_made" = 1 ] && echo ", swarm left")"
else
  fail "the stack or the swarm is still there"
fi
