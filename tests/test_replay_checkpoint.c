/* test_replay_checkpoint: a shard's checkpoint round trip (contents, counters and the sampling
 * stream all survive), refusal of corrupt, truncated and mismatched checkpoints (and of an
 * all-zero rng state, on which sampling would never end) with a message, the server's rule that
 * it starts empty over a bad checkpoint only when told to (fresh), and its stop: a background
 * checkpoint that never finishes is killed, and the final save replaces it at once. */
#include "replay_server.h"
#include "replay_shard.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ckpt_file.h"

#define OD 4
#define GD 2
#define AD 3
#define H 8

static replay_shard_config_t shard_config(int64_t capacity) {
    replay_shard_config_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.dims.env_name, sizeof c.dims.env_name, "box2d");
    c.dims.obs_dim = OD;
    c.dims.goal_dim = GD;
    c.dims.action_dim = AD;
    c.dims.horizon = H;
    c.shard_id = 3;
    c.capacity = capacity;
    c.min_size = 10;
    c.samples_per_insert = 4;
    c.tolerance = 1000;
    c.future_p = 0.8f;
    c.seed = 42;
    c.max_batch = 64;
    return c;
}

/* Episode e of length T with values derived from (e, t, j). */
static void insert_episode(replay_shard_t *s, int e, int T) {
    float obs[(H + 1) * OD], ag[(H + 1) * GD], act[H * AD], goal[GD];
    for (int i = 0; i < (T + 1) * OD; i++) obs[i] = (float)(e * 100 + i) * 0.5f;
    for (int i = 0; i < (T + 1) * GD; i++) ag[i] = (float)(e * 100 + i) * 0.25f;
    for (int i = 0; i < T * AD; i++) act[i] = (float)(e * 100 + i) * -0.125f;
    for (int i = 0; i < GD; i++) goal[i] = (float)(-e - i);
    Odac__Episode ep;
    odac__episode__init(&ep);
    ep.protocol_version = WIRE_PROTOCOL_VERSION;
    ep.env_name = "box2d";
    ep.length = (uint32_t)T;
    ep.policy_version = (uint64_t)e * 10;
    ep.n_observations = (size_t)(T + 1) * OD;
    ep.observations = obs;
    ep.n_achieved_goals = (size_t)(T + 1) * GD;
    ep.achieved_goals = ag;
    ep.n_actions = (size_t)T * AD;
    ep.actions = act;
    ep.n_desired_goal = GD;
    ep.desired_goal = goal;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(replay_shard_insert(s, &ep, err, sizeof err), 0);
}

static replay_shard_t *filled_shard(int64_t capacity, int n_episodes) {
    replay_shard_config_t c = shard_config(capacity);
    char err[256];
    replay_shard_t *s = replay_shard_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (int e = 0; e < n_episodes; e++) insert_episode(s, e, 1 + e % H);
    for (int i = 0; i < 5; i++) CU_ASSERT_EQUAL(replay_shard_sample(s, 16, err, sizeof err), 0);
    replay_shard_count_reject(s, WIRE_REJECT_DECODE);
    replay_shard_count_reject(s, WIRE_REJECT_NONFINITE);
    replay_shard_count_reject(s, WIRE_REJECT_NONFINITE);
    s->counters.sample_waits = 7;
    s->counters.insert_waits = 9;
    return s;
}

static int same_episode(const replay_episode_view_t *a, const replay_episode_view_t *b) {
    int T = a->length;
    return a->seq == b->seq && a->policy_version == b->policy_version && T == b->length &&
           !memcmp(a->obs, b->obs, sizeof(float) * (T + 1) * OD) &&
           !memcmp(a->achieved_goal, b->achieved_goal, sizeof(float) * (T + 1) * GD) &&
           !memcmp(a->actions, b->actions, sizeof(float) * T * AD) &&
           !memcmp(a->desired_goal, b->desired_goal, sizeof(float) * GD);
}

static void test_round_trip(void) {
    const char *dir = test_tmpdir("replay-ckpt");
    replay_shard_t *a = filled_shard(100, 40); /* wrapped and evicted several times */
    CU_ASSERT(replay_store_evicted_episodes(a->store) > 0);
    char err[512];
    CU_ASSERT_EQUAL_FATAL(replay_shard_save(a, dir, err, sizeof err), 0);
    replay_shard_config_t c = shard_config(100);
    replay_shard_t *b = replay_shard_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL_FATAL(replay_shard_load(b, dir, err, sizeof err), 1);
    CU_ASSERT_EQUAL(replay_store_size_episodes(b->store), replay_store_size_episodes(a->store));
    CU_ASSERT_EQUAL(replay_store_size_transitions(b->store),
                    replay_store_size_transitions(a->store));
    CU_ASSERT_EQUAL(replay_store_evicted_episodes(b->store),
                    replay_store_evicted_episodes(a->store));
    CU_ASSERT_EQUAL(replay_store_next_seq(b->store), 40);
    for (int64_t i = 0; i < replay_store_size_episodes(a->store); i++) {
        replay_episode_view_t va, vb;
        replay_store_episode(a->store, i, &va);
        replay_store_episode(b->store, i, &vb);
        CU_ASSERT(same_episode(&va, &vb));
    }
    CU_ASSERT(memcmp(&a->counters, &b->counters, sizeof a->counters) == 0);
    CU_ASSERT_EQUAL(b->counters.inserted_episodes, 40);
    CU_ASSERT_EQUAL(b->counters.rejected[WIRE_REJECT_NONFINITE], 2);
    CU_ASSERT_EQUAL(b->limiter.inserted, a->limiter.inserted);
    CU_ASSERT_EQUAL(b->limiter.sampled, a->limiter.sampled);
    /* The sampling stream continues where it stopped (the rows it maps to may differ: the
     * restored store is laid out compactly). */
    CU_ASSERT(memcmp(a->rng.s, b->rng.s, sizeof a->rng.s) == 0);
    CU_ASSERT_EQUAL(replay_shard_sample(b, 32, err, sizeof err), 0);
    /* Stats message reflects the restored counters. */
    Odac__ShardStats st;
    replay_shard_stats(b, &st);
    CU_ASSERT_EQUAL(st.shard_id, 3);
    CU_ASSERT_EQUAL(st.inserted_episodes, 40);
    CU_ASSERT_EQUAL(st.max_policy_version, 390);
    int found = 0;
    for (size_t i = 0; i < st.n_rejected; i++)
        if (!strcmp(st.rejected[i]->reason, "nonfinite") && st.rejected[i]->count == 2) found = 1;
    CU_ASSERT(found);
    replay_shard_free(a);
    replay_shard_free(b);
}

/* A smaller capacity on restore keeps the newest episodes. */
static void test_restore_smaller_capacity(void) {
    const char *dir = test_tmpdir("replay-ckpt-small");
    replay_shard_t *a = filled_shard(100, 30);
    char err[512];
    CU_ASSERT_EQUAL_FATAL(replay_shard_save(a, dir, err, sizeof err), 0);
    replay_shard_config_t c = shard_config(40);
    replay_shard_t *b = replay_shard_new(&c, err, sizeof err);
    CU_ASSERT_EQUAL_FATAL(replay_shard_load(b, dir, err, sizeof err), 1);
    CU_ASSERT(replay_store_size_transitions(b->store) <= 40);
    int64_t na = replay_store_size_episodes(a->store), nb = replay_store_size_episodes(b->store);
    CU_ASSERT(nb > 0 && nb < na);
    for (int64_t i = 0; i < nb; i++) {
        replay_episode_view_t va, vb;
        replay_store_episode(a->store, na - nb + i, &va);
        replay_store_episode(b->store, i, &vb);
        CU_ASSERT(same_episode(&va, &vb));
    }
    replay_shard_free(a);
    replay_shard_free(b);
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Saves a checkpoint in a fresh dir and returns the dir; path gets the file. */
static const char *saved_dir(char *path, size_t cap) {
    const char *dir = test_tmpdir("replay-ckpt-bad");
    replay_shard_t *a = filled_shard(100, 12);
    char err[512];
    CU_ASSERT_EQUAL_FATAL(replay_shard_save(a, dir, err, sizeof err), 0);
    replay_shard_checkpoint_path(a, dir, path, cap);
    replay_shard_free(a);
    return dir;
}

static void expect_refused(const char *dir, const char *what) {
    replay_shard_config_t c = shard_config(100);
    char err[512] = "";
    replay_shard_t *b = replay_shard_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(replay_shard_load(b, dir, err, sizeof err), -1);
    CU_ASSERT(strlen(err) > 10);
    CU_ASSERT(strstr(err, "replay-shard-3.ckpt") != NULL);
    if (strlen(err) <= 10) fprintf(stderr, "%s: empty message\n", what);
    CU_ASSERT_EQUAL(replay_store_size_episodes(b->store), 0);
    CU_ASSERT_EQUAL(b->counters.inserted_transitions, 0);
    replay_shard_free(b);
}

static void test_corrupt_truncated_mismatched(void) {
    char path[1024];
    /* one flipped byte in the payload */
    const char *dir = saved_dir(path, sizeof path);
    long n = file_size(path);
    CU_ASSERT_FATAL(n > 200);
    FILE *f = fopen(path, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, n / 2, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, n / 2, SEEK_SET);
    fputc(ch ^ 0x5a, f);
    fclose(f);
    expect_refused(dir, "corrupt");
    /* truncated */
    dir = saved_dir(path, sizeof path);
    CU_ASSERT_EQUAL_FATAL(truncate(path, n / 3), 0);
    expect_refused(dir, "truncated");
    /* an empty file */
    dir = saved_dir(path, sizeof path);
    CU_ASSERT_EQUAL_FATAL(truncate(path, 0), 0);
    expect_refused(dir, "empty");
    /* written for other dims */
    dir = saved_dir(path, sizeof path);
    replay_shard_config_t c = shard_config(100);
    c.dims.obs_dim = OD + 1;
    char err[512] = "";
    replay_shard_t *b = replay_shard_new(&c, err, sizeof err);
    CU_ASSERT_EQUAL(replay_shard_load(b, dir, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "obs 4") != NULL && strstr(err, "obs 5") != NULL);
    replay_shard_free(b);
    /* missing: not an error */
    b = replay_shard_new(&c, err, sizeof err);
    CU_ASSERT_EQUAL(replay_shard_load(b, test_tmpdir("replay-ckpt-none"), err, sizeof err), 0);
    replay_shard_free(b);
}

static replay_server_t *server_over(const char *dir, int fresh, char *err, size_t errcap) {
    replay_server_config_t cfg;
    replay_server_config_defaults(&cfg);
    cfg.shard = shard_config(100);
    static int n;
    snprintf(cfg.insert_bind, sizeof cfg.insert_bind, "inproc://ckpt-insert-%d", n);
    snprintf(cfg.sample_bind, sizeof cfg.sample_bind, "inproc://ckpt-sample-%d", n++);
    snprintf(cfg.checkpoint_dir, sizeof cfg.checkpoint_dir, "%s", dir);
    cfg.fresh = fresh;
    cfg.stats_every_s = 0;
    return replay_server_new(&cfg, err, errcap);
}

/* The server refuses a corrupt checkpoint unless fresh, restores a good one, and starts empty
 * with none. */
static void test_server_fresh_rule(void) {
    char path[1024], err[1024] = "";
    const char *dir = saved_dir(path, sizeof path);
    replay_server_t *s = server_over(dir, 0, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(replay_store_size_episodes(replay_server_shard(s)->store), 12);
    replay_server_free(s);

    CU_ASSERT_EQUAL_FATAL(truncate(path, file_size(path) - 5), 0);
    s = server_over(dir, 0, err, sizeof err);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT(strstr(err, "--fresh") != NULL);
    replay_server_free(s);

    s = server_over(dir, 1, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(replay_store_size_episodes(replay_server_shard(s)->store), 0);
    replay_server_free(s);

    s = server_over(test_tmpdir("replay-ckpt-empty"), 0, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(replay_store_size_episodes(replay_server_shard(s)->store), 0);
    replay_server_free(s);
}

static void test_zero_rng_refused(void) {
    const char *dir = test_tmpdir("replay-ckpt-rng");
    replay_shard_t *a = filled_shard(100, 4);
    memset(a->rng.s, 0, sizeof a->rng.s);
    char err[512];
    CU_ASSERT_EQUAL_FATAL(replay_shard_save(a, dir, err, sizeof err), 0);
    replay_shard_free(a);
    expect_refused(dir, "zero rng");
}

static pid_t test_pid;
static char stall_marker[700];

/* In a background checkpoint child only: says so in the marker file (with its pid), then never
 * finishes, like a child writing a checkpoint far larger than the grace period allows. */
static void stall_hook(ckpt_point_t point, const char *path) {
    (void)path;
    if (getpid() == test_pid || point != CKPT_AT_PAYLOAD_WRITTEN) return;
    char tmp[720];
    snprintf(tmp, sizeof tmp, "%s.tmp", stall_marker);
    FILE *f = fopen(tmp, "w");
    if (f) {
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
        rename(tmp, stall_marker);
    }
    for (;;) pause();
}

static void *run_server(void *arg) {
    static int rc;
    rc = replay_server_run(arg);
    return &rc;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void test_stop_kills_background_checkpoint(void) {
    const char *dir = test_tmpdir("replay-ckpt-stop");
    snprintf(stall_marker, sizeof stall_marker, "%s/child-stalled", dir);
    test_pid = getpid();
    replay_server_config_t cfg;
    replay_server_config_defaults(&cfg);
    cfg.shard = shard_config(100);
    snprintf(cfg.insert_bind, sizeof cfg.insert_bind, "inproc://stop-insert");
    snprintf(cfg.sample_bind, sizeof cfg.sample_bind, "inproc://stop-sample");
    snprintf(cfg.checkpoint_dir, sizeof cfg.checkpoint_dir, "%s", dir);
    cfg.checkpoint_every_s = 0.05;
    cfg.stats_every_s = 0;
    char err[512];
    replay_server_t *s = replay_server_new(&cfg, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (int e = 0; e < 7; e++) insert_episode(replay_server_shard(s), e, 1 + e % H);
    ckpt_file_set_hook(stall_hook);
    pthread_t th;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, run_server, s), 0);
    /* Wait (bounded) until a background child is stuck inside its save. */
    int child = 0;
    for (double t0 = now_s(); now_s() - t0 < 20 && !child;) {
        FILE *f = fopen(stall_marker, "r");
        if (f) {
            if (fscanf(f, "%d", &child) != 1) child = 0;
            fclose(f);
        } else {
            struct timespec ms = {0, 2000000};
            nanosleep(&ms, NULL); /* polling a condition with a deadline, not a fixed wait */
        }
    }
    CU_ASSERT_FATAL(child > 0);
    double t0 = now_s();
    replay_server_stop(s);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 15; /* the launcher's grace is 20 s; the old stop waited forever here */
    void *ret = NULL;
    int joined = pthread_timedjoin_np(th, &ret, &deadline);
    CU_ASSERT_EQUAL_FATAL(joined, 0);
    double took = now_s() - t0;
    printf("\n    stop with a stalled background checkpoint took %.3f s ", took);
    CU_ASSERT(took < 5.0);
    CU_ASSERT_EQUAL(*(int *)ret, 0);
    CU_ASSERT(kill(child, 0) == -1 && errno == ESRCH); /* killed and reaped */
    ckpt_file_set_hook(NULL);
    replay_server_free(s);
    /* The final save holds every episode. */
    replay_shard_config_t c = shard_config(100);
    replay_shard_t *b = replay_shard_new(&c, err, sizeof err);
    CU_ASSERT_EQUAL(replay_shard_load(b, dir, err, sizeof err), 1);
    CU_ASSERT_EQUAL(replay_store_size_episodes(b->store), 7);
    replay_shard_free(b);
}

int main(void) {
    const test_case_t cases[] = {
        {"checkpoint round trip", test_round_trip},
        {"restore into a smaller capacity", test_restore_smaller_capacity},
        {"corrupt, truncated, mismatched checkpoints are refused",
         test_corrupt_truncated_mismatched},
        {"server starts empty over a bad checkpoint only with fresh", test_server_fresh_rule},
        {"an all-zero rng state is refused", test_zero_rng_refused},
        {"stop kills a background checkpoint that never ends",
         test_stop_kills_background_checkpoint},
        {NULL, NULL}};
    return test_run_suite("replay_checkpoint", cases);
}
