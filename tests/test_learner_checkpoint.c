/* test_learner_checkpoint: save, continue k updates; load into a fresh learner (other seed),
 * the same k updates: every parameter bit-identical. Corrupt, truncated, mismatched and missing
 * checkpoints are refused with a message and leave the learner unchanged; a failed save keeps the
 * previous good file. The caller's record (the process's counters) lives in the same file: a
 * crash at any point of a save leaves a learner and a record from the same save, and an old
 * version-2 file is refused naming its version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ckpt_file.h"
#include "learner_core.h"
#include "test_learner_ref.h"
#include "testutil.h"

enum { B = 16, N_BATCHES = 12, K = 6 };

static learner_config_t small_config(learner_variant_t v, uint64_t seed) {
    learner_config_t c;
    learner_config_default(&c);
    c.variant = v;
    c.obs_dim = 4, c.goal_dim = 2, c.action_dim = 2;
    c.batch_size = B;
    c.policy_hidden[0] = 16, c.policy_hidden[1] = 8, c.n_policy_hidden = 2;
    c.critic_hidden[0] = 12, c.critic_hidden[1] = 8, c.n_critic_hidden = 2;
    c.model_hidden[0] = 8, c.model_hidden[1] = 8, c.n_model_hidden = 2;
    c.reward_scale_auto = 1;
    c.reward_scale_k = 10.0f;
    c.seed = seed;
    return c;
}

static ref_batch_t batches[N_BATCHES];

static void make_batches(const learner_config_t *c) {
    rng_t rng;
    rng_seed(&rng, 99, 0);
    for (int i = 0; i < N_BATCHES; i++) ref_batch_random(&batches[i], c, B, &rng, 1.0f);
}

static void free_batches(void) {
    for (int i = 0; i < N_BATCHES; i++) ref_batch_free(&batches[i]);
}

static void run(learner_t *L, int from, int to) {
    char err[256];
    for (int i = from; i < to; i++)
        CU_ASSERT_EQUAL(learner_update(L, &batches[i].b, err, sizeof err), 0);
}

/* 1 when every parameter, target, log-std and log-alpha of a and b are bit-identical. */
static int same_state(learner_t *a, learner_t *b) {
    for (int k = 0; k < LEARNER_N_NETS; k++) {
        nn_mlp_t *x = learner_net(a, (learner_net_id_t)k), *y = learner_net(b, (learner_net_id_t)k);
        if (!x != !y) return 0;
        if (x && (x->n_params != y->n_params ||
                  memcmp(x->params, y->params, x->n_params * sizeof(float)) != 0))
            return 0;
    }
    float *la = learner_model_log_std(a), *lb = learner_model_log_std(b);
    if (la && memcmp(la, lb, (size_t)learner_config(a)->goal_dim * sizeof(float)) != 0) return 0;
    float x = learner_log_alpha(a), y = learner_log_alpha(b);
    return memcmp(&x, &y, sizeof x) == 0 && learner_updates(a) == learner_updates(b);
}

static void roundtrip(learner_variant_t v, int state_log_std) {
    learner_config_t c = small_config(v, 1);
    c.model_state_log_std = state_log_std;
    make_batches(&c);
    char err[512], path[600], dir[520];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("learner-ckpt"));
    snprintf(path, sizeof path, "%s/learner.ckpt", dir);
    learner_t *a = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    run(a, 0, N_BATCHES - K);
    CU_ASSERT_EQUAL_FATAL(learner_save(a, path, err, sizeof err), 0);
    run(a, N_BATCHES - K, N_BATCHES);

    learner_config_t c2 =
        small_config(v, 12345); /* other seed: all state must come from the file */
    c2.model_state_log_std = state_log_std;
    learner_t *b = learner_new(&c2, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_FALSE(same_state(a, b));
    CU_ASSERT_EQUAL_FATAL(learner_load(b, path, err, sizeof err), 0);
    CU_ASSERT_EQUAL(learner_updates(b), N_BATCHES - K);
    run(b, N_BATCHES - K, N_BATCHES);
    CU_ASSERT_TRUE(same_state(a, b));
    /* and one more update each, from the same point, still agrees */
    run(a, 0, 1);
    run(b, 0, 1);
    CU_ASSERT_TRUE(same_state(a, b));
    learner_free(a);
    learner_free(b);
    free_batches();
    unlink(path);
    rmdir(dir);
}

static void test_roundtrip_odac(void) {
    roundtrip(LEARNER_ODAC, 0);
}
static void test_roundtrip_state_log_std(void) {
    roundtrip(LEARNER_FIXED_DISCOUNT, 1);
}
static void test_roundtrip_her(void) {
    roundtrip(LEARNER_HER_SPARSE, 0);
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Loading path into L must fail with a message containing want; L keeps its parameters. */
static void expect_refused(learner_t *L, const char *path, const char *want) {
    size_t n;
    const float *p = learner_policy_params(L, &n);
    float *before = malloc(n * sizeof(float));
    memcpy(before, p, n * sizeof(float));
    long long updates = learner_updates(L);
    char err[512] = "";
    CU_ASSERT_EQUAL(learner_load(L, path, err, sizeof err), -1);
    printf("\n    refused: %s ", err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    CU_ASSERT_EQUAL(memcmp(before, p, n * sizeof(float)), 0);
    CU_ASSERT_EQUAL(learner_updates(L), updates);
    free(before);
}

static void test_refusals(void) {
    learner_config_t c = small_config(LEARNER_ODAC, 1);
    make_batches(&c);
    char err[512], path[600], bad[640];
    char dir[520];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("learner-ckpt-bad"));
    snprintf(path, sizeof path, "%s/good.ckpt", dir);
    learner_t *a = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    run(a, 0, 3);
    CU_ASSERT_EQUAL_FATAL(learner_save(a, path, err, sizeof err), 0);
    long size = file_size(path);
    CU_ASSERT_FATAL(size > 0);
    FILE *f = fopen(path, "rb");
    char *bytes = malloc((size_t)size);
    CU_ASSERT_EQUAL_FATAL(fread(bytes, 1, (size_t)size, f), (size_t)size);
    fclose(f);

    learner_t *b = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    /* corrupt: one flipped bit in the middle of the parameters */
    snprintf(bad, sizeof bad, "%s/corrupt.ckpt", dir);
    bytes[size / 2] ^= 0x10;
    f = fopen(bad, "wb");
    fwrite(bytes, 1, (size_t)size, f);
    fclose(f);
    bytes[size / 2] ^= 0x10;
    expect_refused(b, bad, "refused");
    /* truncated */
    snprintf(bad, sizeof bad, "%s/truncated.ckpt", dir);
    f = fopen(bad, "wb");
    fwrite(bytes, 1, (size_t)size - 100, f);
    fclose(f);
    expect_refused(b, bad, "refused");
    /* missing */
    snprintf(bad, sizeof bad, "%s/missing.ckpt", dir);
    expect_refused(b, bad, "refused");
    /* mismatched shapes and variant */
    learner_config_t m = small_config(LEARNER_ODAC, 1);
    m.critic_hidden[1] = 9;
    learner_t *x = learner_new(&m, err, sizeof err);
    expect_refused(x, path, "critic_hidden");
    learner_free(x);
    m = small_config(LEARNER_FIXED_MODEL, 1);
    x = learner_new(&m, err, sizeof err);
    expect_refused(x, path, "variant");
    learner_free(x);
    m = small_config(LEARNER_ODAC, 1);
    m.goal_dim = 3;
    x = learner_new(&m, err, sizeof err);
    expect_refused(x, path, "goal_dim");
    learner_free(x);
    m = small_config(LEARNER_ODAC, 1);
    m.model_state_log_std = 1;
    x = learner_new(&m, err, sizeof err);
    expect_refused(x, path, "model_state_log_std");
    learner_free(x);
    /* hyperparameters may differ (a resumed run with another learning rate) */
    m = small_config(LEARNER_ODAC, 1);
    m.lr_critic = 3e-4f;
    x = learner_new(&m, err, sizeof err);
    CU_ASSERT_EQUAL(learner_load(x, path, err, sizeof err), 0);
    learner_free(x);

    /* A save that fails (its temp file cannot be created) keeps the previous good file. */
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CU_ASSERT_EQUAL_FATAL(mkdir(tmp, 0700), 0);
    run(a, 3, 4);
    CU_ASSERT_EQUAL(learner_save(a, path, err, sizeof err), -1);
    printf("\n    failed save: %s ", err);
    rmdir(tmp);
    CU_ASSERT_EQUAL(learner_load(b, path, err, sizeof err), 0);
    CU_ASSERT_EQUAL(learner_updates(b), 3);
    free(bytes);
    learner_free(a);
    learner_free(b);
    free_batches();
    const char *names[] = {"good.ckpt", "corrupt.ckpt", "truncated.ckpt"};
    for (int i = 0; i < 3; i++) {
        snprintf(bad, sizeof bad, "%s/%s", dir, names[i]);
        unlink(bad);
    }
    rmdir(dir);
}

/* The counters a server keeps beside its learner. */
typedef struct {
    long long updates;
    uint64_t env_steps;
} record_t;

static void test_record_round_trip(void) {
    learner_config_t c = small_config(LEARNER_ODAC, 1);
    make_batches(&c);
    char err[512], path[600];
    snprintf(path, sizeof path, "%s/learner.ckpt", test_tmpdir("learner-ckpt-record"));
    learner_t *a = learner_new(&c, err, sizeof err), *b = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    run(a, 0, 2);
    record_t rec = {learner_updates(a), 1234}, back = {0, 0};
    CU_ASSERT_EQUAL_FATAL(learner_save_with(a, path, &rec, sizeof rec, err, sizeof err), 0);
    /* a record of another size is refused, the learner untouched */
    char small[4];
    CU_ASSERT_EQUAL(learner_load_with(b, path, small, sizeof small, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "record"));
    CU_ASSERT_EQUAL(learner_updates(b), 0);
    CU_ASSERT_EQUAL(learner_load_with(b, path, &back, sizeof back, err, sizeof err), 0);
    CU_ASSERT_EQUAL(back.updates, 2);
    CU_ASSERT_EQUAL(back.env_steps, 1234);
    CU_ASSERT(same_state(a, b));
    /* learner_load skips the record; a file without one refuses a caller that wants one */
    CU_ASSERT_EQUAL(learner_load(b, path, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(learner_save(a, path, err, sizeof err), 0);
    CU_ASSERT_EQUAL(learner_load_with(b, path, &back, sizeof back, err, sizeof err), -1);
    learner_free(a);
    learner_free(b);
    free_batches();
}

static ckpt_point_t crash_point;

static void crash_hook(ckpt_point_t point, const char *p) {
    (void)p;
    if (point == crash_point) _exit(77);
}

/* A child saves L (and its record) and dies at point; the parent then loads what is on disk
 * into a fresh learner. Returns the updates of what was loaded, -1 when there was no file. */
static long long crash_and_load(learner_t *L, const learner_config_t *c, const char *path,
                                ckpt_point_t point) {
    pid_t pid = fork();
    if (pid == 0) {
        crash_point = point;
        ckpt_file_set_hook(crash_hook);
        char err[512];
        record_t rec = {learner_updates(L), (uint64_t)learner_updates(L) * 100};
        learner_save_with(L, path, &rec, sizeof rec, err, sizeof err);
        _exit(0);
    }
    int status = 0;
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 77);
    if (access(path, F_OK) != 0) return -1;
    char err[512];
    learner_t *b = learner_new(c, err, sizeof err);
    record_t rec = {-1, 0};
    CU_ASSERT_EQUAL(learner_load_with(b, path, &rec, sizeof rec, err, sizeof err), 0);
    /* the one property the two-file layout broke: state and counters from the same save */
    CU_ASSERT_EQUAL(rec.updates, learner_updates(b));
    CU_ASSERT_EQUAL(rec.env_steps, (uint64_t)learner_updates(b) * 100);
    long long updates = learner_updates(b);
    learner_free(b);
    return updates;
}

static void test_crash_points(void) {
    learner_config_t c = small_config(LEARNER_ODAC, 1);
    make_batches(&c);
    char err[512], path[600];
    snprintf(path, sizeof path, "%s/learner.ckpt", test_tmpdir("learner-ckpt-crash"));
    learner_t *a = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    run(a, 0, 3);
    /* The first checkpoint: a crash before its rename leaves no checkpoint at all (a resume
     * starts from scratch), after it a whole one. */
    CU_ASSERT_EQUAL(crash_and_load(a, &c, path, CKPT_AT_PAYLOAD_WRITTEN), -1);
    CU_ASSERT_EQUAL(crash_and_load(a, &c, path, CKPT_AT_BEFORE_RENAME), -1);
    CU_ASSERT_EQUAL(crash_and_load(a, &c, path, CKPT_AT_AFTER_RENAME), 3);
    /* Later checkpoints: the previous one whole, or the new one whole. */
    run(a, 3, 5);
    CU_ASSERT_EQUAL(crash_and_load(a, &c, path, CKPT_AT_PAYLOAD_WRITTEN), 3);
    CU_ASSERT_EQUAL(crash_and_load(a, &c, path, CKPT_AT_BEFORE_RENAME), 3);
    CU_ASSERT_EQUAL(crash_and_load(a, &c, path, CKPT_AT_AFTER_RENAME), 5);
    learner_free(a);
    free_batches();
}

/* A version-2 learner checkpoint (its counters were in a separate progress.ckpt) is refused
 * with a message naming the version. */
static void test_refuses_version_2(void) {
    learner_config_t c = small_config(LEARNER_ODAC, 1);
    char err[512], path[600];
    snprintf(path, sizeof path, "%s/learner.ckpt", test_tmpdir("learner-ckpt-v2"));
    ckpt_writer_t *w = ckpt_writer_open(path, 0x4e4c444fu /* "ODLN" */, 2, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    char zeros[64] = {0};
    ckpt_writer_write(w, zeros, sizeof zeros);
    CU_ASSERT_EQUAL_FATAL(ckpt_writer_commit(&w, err, sizeof err), 0);
    learner_t *L = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(L);
    expect_refused(L, path, "format version 2");
    CU_ASSERT_EQUAL(learner_load(L, path, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "progress.ckpt"));
    learner_free(L);
}

/* A file whose rng state is all zero (xoshiro256 would return only zeros) is refused, even
 * behind a valid checksum. */
static void test_refuses_zero_rng(void) {
    learner_config_t c = small_config(LEARNER_ODAC, 1);
    char err[512], path[600];
    snprintf(path, sizeof path, "%s/learner.ckpt", test_tmpdir("learner-ckpt-rng"));
    learner_t *L = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(L);
    record_t rec = {0, 0};
    CU_ASSERT_EQUAL_FATAL(learner_save_with(L, path, &rec, sizeof rec, err, sizeof err), 0);
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    uint8_t header[CKPT_HEADER_BYTES];
    CU_ASSERT_EQUAL_FATAL(fread(header, 1, sizeof header, f), sizeof header);
    long size = file_size(path);
    size_t n = (size_t)size - CKPT_HEADER_BYTES;
    uint8_t *payload = malloc(n);
    CU_ASSERT_EQUAL_FATAL(fread(payload, 1, n, f), n);
    fclose(f);
    /* payload: ... rng state (4 x u64), u64 record length, record */
    memset(payload + n - sizeof rec - 8 - 32, 0, 32);
    uint32_t magic, version;
    memcpy(&magic, header + 8, 4);
    memcpy(&version, header + 12, 4);
    ckpt_writer_t *w = ckpt_writer_open(path, magic, version, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    ckpt_writer_write(w, payload, n);
    CU_ASSERT_EQUAL_FATAL(ckpt_writer_commit(&w, err, sizeof err), 0);
    free(payload);
    CU_ASSERT_EQUAL(learner_load_with(L, path, &rec, sizeof rec, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "rng state is all zero"));
    learner_free(L);
}

int main(void) {
    const test_case_t cases[] = {
        {"save, continue, load, continue: bit-identical (odac)", test_roundtrip_odac},
        {"bit-identical with a state-dependent log-std (fixed-discount)",
         test_roundtrip_state_log_std},
        {"bit-identical without a model (her-sparse)", test_roundtrip_her},
        {"corrupt, truncated, missing, mismatched refused", test_refusals},
        {"the caller's record in the same file", test_record_round_trip},
        {"a crash at any point of a save: state and record from one save", test_crash_points},
        {"a version-2 file is refused naming its version", test_refuses_version_2},
        {"an all-zero rng state is refused", test_refuses_zero_rng},
        {NULL, NULL}};
    return test_run_suite("learner_checkpoint", cases);
}
