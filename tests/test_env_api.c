/* test_env_api: the registry in env.c, checked across all six env kinds: specs, errors for
 * unknown names and non-finite actions (env left unchanged), clipping, the horizon flag,
 * determinism, batches equal to envs stepped one by one, no heap use per step or reset, and
 * where models are looked up. */
#include "env.h"
#include "env_internal.h"
#include "rng.h"
#include "testutil.h"
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIM 64
#define ERRCAP 512

static const char *const k_names[6] = {"box2d",      "ant",    "sawyer-push",
                                       "fetch-push", "window", "faucet"};

static void random_action(rng_t *rng, float *a, int n, float scale) {
    for (int i = 0; i < n; i++) a[i] = scale * (2.0f * rng_uniform(rng) - 1.0f);
}

static void test_names_and_specs(void) {
    const char *const *names = env_names();
    int n = 0;
    while (names[n]) n++;
    CU_ASSERT_EQUAL(n, 6);
    for (int i = 0; i < 6 && i < n; i++) CU_ASSERT_STRING_EQUAL(names[i], k_names[i]);

    /* name, obs, goal, action, horizon, substeps (ENVS.md; fetch-push: the standard Fetch 25-D). */
    struct {
        const char *name;
        int obs, goal, action, horizon, substeps;
    } want[6] = {{"box2d", 2, 2, 2, 100, 0},        {"ant", 29, 15, 8, 100, 5},
                 {"sawyer-push", 4, 4, 2, 100, 50}, {"fetch-push", 25, 3, 3, 50, 20},
                 {"window", 6, 6, 3, 100, 5},       {"faucet", 6, 6, 3, 100, 5}};
    for (int i = 0; i < 6; i++) {
        env_spec_t spec;
        char err[ERRCAP] = "";
        CU_ASSERT_EQUAL_FATAL(env_spec_lookup(want[i].name, &spec, err, sizeof err), 0);
        CU_ASSERT_STRING_EQUAL(spec.name, want[i].name);
        if (want[i].obs > 0) {
            CU_ASSERT_EQUAL(spec.obs_dim, want[i].obs);
        } else {
            CU_ASSERT(spec.obs_dim > 0 && spec.obs_dim <= MAX_DIM);
        }
        CU_ASSERT_EQUAL(spec.goal_dim, want[i].goal);
        CU_ASSERT_EQUAL(spec.action_dim, want[i].action);
        CU_ASSERT_EQUAL(spec.horizon, want[i].horizon);
        CU_ASSERT_EQUAL(spec.substeps, want[i].substeps);
        CU_ASSERT_EQUAL(spec.action_low, -1.0f);
        CU_ASSERT_EQUAL(spec.action_high, 1.0f);
        CU_ASSERT(spec.success_threshold > 0.0f);
        CU_ASSERT(spec.n_diag >= 0 && spec.n_diag <= ENV_DIAG_MAX);
        for (int k = 0; k < spec.n_diag; k++) CU_ASSERT_PTR_NOT_NULL(spec.diag_names[k]);
    }
}

static void test_unknown_name(void) {
    char err[ERRCAP] = "";
    env_spec_t spec;
    CU_ASSERT_EQUAL(env_spec_lookup("hopper", &spec, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "hopper"));
    err[0] = '\0';
    CU_ASSERT_PTR_NULL(env_new("hopper", ENV_GOAL_FIXED, 1, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "hopper"));
    err[0] = '\0';
    CU_ASSERT_PTR_NULL(env_new(NULL, ENV_GOAL_FIXED, 1, err, sizeof err));
    CU_ASSERT(err[0] != '\0');
    err[0] = '\0';
    CU_ASSERT_PTR_NULL(env_batch_new("Box2d", ENV_GOAL_FIXED, 2, 1, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "Box2d"));
    err[0] = '\0';
    CU_ASSERT_PTR_NULL(env_batch_new("box2d", ENV_GOAL_FIXED, 0, 1, err, sizeof err));
    CU_ASSERT(err[0] != '\0');
    env_free(NULL);
    env_batch_free(NULL);
}

/* A non-finite action is refused with its index named, and the env is left as it was: the
 * following steps match those of a twin env that never saw the bad action. */
static void check_non_finite(const char *name) {
    char err[ERRCAP] = "";
    env_t *a = env_new(name, ENV_GOAL_FIXED, 7, err, sizeof err);
    env_t *b = env_new(name, ENV_GOAL_FIXED, 7, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    const env_spec_t *spec = env_spec(a);
    float obs_a[MAX_DIM], ag_a[MAX_DIM], dg[MAX_DIM], obs_b[MAX_DIM], ag_b[MAX_DIM];
    float action[MAX_DIM];
    env_step_info_t info_a, info_b;
    env_reset(a, obs_a, ag_a, dg);
    env_reset(b, obs_b, ag_b, dg);
    rng_t rng;
    rng_seed(&rng, 3, 0);
    for (int t = 0; t < 5; t++) {
        random_action(&rng, action, spec->action_dim, 1.0f);
        float saved = action[spec->action_dim - 1];
        action[spec->action_dim - 1] = t % 2 ? INFINITY : NAN;
        err[0] = '\0';
        CU_ASSERT_EQUAL(env_step(a, action, obs_a, ag_a, &info_a, err, sizeof err), -1);
        char want[32];
        snprintf(want, sizeof want, "action[%d]", spec->action_dim - 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
        action[spec->action_dim - 1] = saved;
        CU_ASSERT_EQUAL(env_step(a, action, obs_a, ag_a, &info_a, err, sizeof err), 0);
        CU_ASSERT_EQUAL(env_step(b, action, obs_b, ag_b, &info_b, err, sizeof err), 0);
        CU_ASSERT_EQUAL(memcmp(obs_a, obs_b, sizeof(float) * spec->obs_dim), 0);
        CU_ASSERT_EQUAL(memcmp(ag_a, ag_b, sizeof(float) * spec->goal_dim), 0);
        CU_ASSERT_EQUAL(env_steps_taken(a), t + 1);
    }
    env_free(a);
    env_free(b);
}

static void test_non_finite_action(void) {
    check_non_finite("box2d");
    check_non_finite("ant");
    check_non_finite("sawyer-push");
}

/* An action outside [-1, 1] acts like its clipped value. */
static void check_clipping(const char *name) {
    char err[ERRCAP];
    env_t *a = env_new(name, ENV_GOAL_FIXED, 1, err, sizeof err);
    env_t *b = env_new(name, ENV_GOAL_FIXED, 1, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    const env_spec_t *spec = env_spec(a);
    float obs_a[MAX_DIM], obs_b[MAX_DIM], ag[MAX_DIM], dg[MAX_DIM];
    float big[MAX_DIM], clipped[MAX_DIM];
    env_step_info_t info;
    env_reset(a, obs_a, ag, dg);
    env_reset(b, obs_b, ag, dg);
    rng_t rng;
    rng_seed(&rng, 5, 0);
    for (int t = 0; t < 10; t++) {
        random_action(&rng, big, spec->action_dim, 3.0f);
        for (int i = 0; i < spec->action_dim; i++)
            clipped[i] = big[i] > 1.0f ? 1.0f : (big[i] < -1.0f ? -1.0f : big[i]);
        CU_ASSERT_EQUAL(env_step(a, big, obs_a, ag, &info, err, sizeof err), 0);
        CU_ASSERT_EQUAL(env_step(b, clipped, obs_b, ag, &info, err, sizeof err), 0);
        CU_ASSERT_EQUAL(memcmp(obs_a, obs_b, sizeof(float) * spec->obs_dim), 0);
    }
    env_free(a);
    env_free(b);
}

static void test_clipping(void) {
    check_clipping("box2d");
    check_clipping("ant");
    check_clipping("sawyer-push");
}

/* horizon_reached is 0 before the horizon, 1 from the step that reaches it, 0 after a reset;
 * the distance reported equals env_distance() of what the step returned. */
static void test_horizon_and_distance(void) {
    for (int e = 0; e < 3; e++) {
        char err[ERRCAP];
        env_t *env = env_new(k_names[e], ENV_GOAL_FIXED, 1, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(env);
        const env_spec_t *spec = env_spec(env);
        float obs[MAX_DIM], ag[MAX_DIM], dg[MAX_DIM], action[MAX_DIM];
        env_step_info_t info;
        rng_t rng;
        rng_seed(&rng, 9, 0);
        for (int episode = 0; episode < 2; episode++) {
            env_reset(env, obs, ag, dg);
            for (int t = 1; t <= spec->horizon + 1; t++) {
                random_action(&rng, action, spec->action_dim, 1.0f);
                CU_ASSERT_EQUAL(env_step(env, action, obs, ag, &info, err, sizeof err), 0);
                CU_ASSERT_EQUAL(info.horizon_reached, t >= spec->horizon);
                double sum = 0.0;
                for (int i = 0; i < spec->goal_dim; i++)
                    sum += ((double)ag[i] - dg[i]) * ((double)ag[i] - dg[i]);
                CU_ASSERT_DOUBLE_EQUAL(info.distance, sqrt(sum), 1e-5 * (1.0 + sqrt(sum)));
                CU_ASSERT_DOUBLE_EQUAL(env_distance(env, ag, dg), sqrt(sum),
                                       1e-5 * (1.0 + sqrt(sum)));
            }
        }
        env_free(env);
    }
}

/* Runs 2 episodes of an env with seeded random actions and a random goal; records obs,
 * achieved and desired goals into out (which must hold the whole trajectory). */
static int run_trajectory(const char *name, uint64_t seed, float *out) {
    char err[ERRCAP];
    env_t *env = env_new(name, ENV_GOAL_RANDOM, seed, err, sizeof err);
    if (!env) return -1;
    const env_spec_t *spec = env_spec(env);
    float obs[MAX_DIM], ag[MAX_DIM], dg[MAX_DIM], action[MAX_DIM];
    env_step_info_t info;
    rng_t rng;
    rng_seed(&rng, seed, 99);
    int n = 0;
    for (int episode = 0; episode < 2; episode++) {
        env_reset(env, obs, ag, dg);
        memcpy(out + n, dg, sizeof(float) * spec->goal_dim);
        n += spec->goal_dim;
        for (int t = 0; t < 30; t++) {
            random_action(&rng, action, spec->action_dim, 1.0f);
            env_step(env, action, obs, ag, &info, err, sizeof err);
            memcpy(out + n, obs, sizeof(float) * spec->obs_dim);
            n += spec->obs_dim;
            memcpy(out + n, ag, sizeof(float) * spec->goal_dim);
            n += spec->goal_dim;
            out[n++] = info.distance;
        }
    }
    env_free(env);
    return n;
}

static void test_determinism(void) {
    size_t cap = 2 * (MAX_DIM + 30 * (2 * MAX_DIM + 1));
    float *a = malloc(cap * sizeof *a), *b = malloc(cap * sizeof *b), *c = malloc(cap * sizeof *c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a && b && c);
    for (int e = 0; e < 6; e++) {
        int na = run_trajectory(k_names[e], 42, a);
        int nb = run_trajectory(k_names[e], 42, b);
        CU_ASSERT(na > 0);
        CU_ASSERT_EQUAL(na, nb);
        if (na > 0 && na == nb) CU_ASSERT_EQUAL(memcmp(a, b, sizeof(float) * na), 0);
        /* A different seed changes something (random goals and actions differ). */
        int nc = run_trajectory(k_names[e], 43, c);
        if (na > 0 && na == nc) CU_ASSERT_NOT_EQUAL(memcmp(a, c, sizeof(float) * na), 0);
    }
    free(a);
    free(b);
    free(c);
}

/* A batch of 3 steps exactly like 3 envs made with env_new_stream(seed, i), i = 0..2. */
static void test_batch_equals_individual(void) {
    enum { N = 3, T = 120 };
    for (int e = 0; e < 6; e++) {
        char err[ERRCAP];
        env_batch_t *batch = env_batch_new(k_names[e], ENV_GOAL_RANDOM, N, 11, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
        CU_ASSERT_EQUAL(env_batch_size(batch), N);
        CU_ASSERT_PTR_NULL(env_batch_get(batch, N));
        env_t *single[N];
        for (int i = 0; i < N; i++) {
            single[i] =
                env_new_stream(k_names[e], ENV_GOAL_RANDOM, 11, (uint64_t)i, err, sizeof err);
            CU_ASSERT_PTR_NOT_NULL_FATAL(single[i]);
        }
        const env_spec_t *spec = env_spec(single[0]);
        const int od = spec->obs_dim, gd = spec->goal_dim, ad = spec->action_dim;
        float bobs[N * MAX_DIM], bag[N * MAX_DIM], bdg[N * MAX_DIM], actions[N * MAX_DIM];
        float obs[MAX_DIM], ag[MAX_DIM], dg[MAX_DIM];
        env_step_info_t binfo[N], info;
        for (int i = 0; i < N; i++) {
            env_reset(env_batch_get(batch, i), bobs + i * od, bag + i * gd, bdg + i * gd);
            env_reset(single[i], obs, ag, dg);
            CU_ASSERT_EQUAL(memcmp(dg, bdg + i * gd, sizeof(float) * gd), 0);
            CU_ASSERT_EQUAL(memcmp(obs, bobs + i * od, sizeof(float) * od), 0);
        }
        rng_t rng;
        rng_seed(&rng, 5, 5);
        int mismatches = 0;
        for (int t = 0; t < T; t++) {
            random_action(&rng, actions, N * ad, 1.0f);
            CU_ASSERT_EQUAL(env_batch_step(batch, actions, bobs, bag, binfo, err, sizeof err), 0);
            for (int i = 0; i < N; i++) {
                env_step(single[i], actions + i * ad, obs, ag, &info, err, sizeof err);
                mismatches += memcmp(obs, bobs + i * od, sizeof(float) * od) != 0;
                mismatches += memcmp(ag, bag + i * gd, sizeof(float) * gd) != 0;
                mismatches += info.distance != binfo[i].distance;
                mismatches += info.horizon_reached != binfo[i].horizon_reached;
            }
        }
        CU_ASSERT_EQUAL(mismatches, 0);
        /* A non-finite action in row 2 is refused for the whole batch, naming row and index. */
        actions[2 * ad + 0] = NAN;
        err[0] = '\0';
        CU_ASSERT_EQUAL(env_batch_step(batch, actions, bobs, bag, binfo, err, sizeof err), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "batch env 2"));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "action[0]"));
        for (int i = 0; i < N; i++) CU_ASSERT_EQUAL(env_steps_taken(env_batch_get(batch, i)), T);
        for (int i = 0; i < N; i++) env_free(single[i]);
        env_batch_free(batch);
    }
}

/* Stepping and resetting allocate nothing: the heap's in-use bytes (glibc's mallinfo2) are the
 * same before and after 300 steps with resets, for single envs and a batch. */
static void test_no_allocation_per_step(void) {
    for (int e = 0; e < 6; e++) {
        char err[ERRCAP];
        env_t *env = env_new(k_names[e], ENV_GOAL_RANDOM, 1, err, sizeof err);
        env_batch_t *batch = env_batch_new(k_names[e], ENV_GOAL_RANDOM, 2, 1, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(env);
        CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
        const env_spec_t *spec = env_spec(env);
        float obs[2 * MAX_DIM], ag[2 * MAX_DIM], dg[2 * MAX_DIM], action[2 * MAX_DIM];
        env_step_info_t info[2];
        rng_t rng;
        rng_seed(&rng, 1, 1);
        int failures = 0;
        for (int pass = 0; pass < 2; pass++) { /* pass 0 warms up lazily allocated state */
            struct mallinfo2 before = mallinfo2();
            for (int t = 0; t < 300; t++) {
                if (t % 100 == 0) {
                    env_reset(env, obs, ag, dg);
                    for (int i = 0; i < 2; i++)
                        env_reset(env_batch_get(batch, i), obs + i * spec->obs_dim,
                                  ag + i * spec->goal_dim, dg + i * spec->goal_dim);
                }
                random_action(&rng, action, 2 * spec->action_dim, 1.0f);
                failures += env_step(env, action, obs, ag, info, err, sizeof err) != 0;
                failures += env_batch_step(batch, action, obs, ag, info, err, sizeof err) != 0;
            }
            struct mallinfo2 after = mallinfo2();
            if (pass == 1) {
                CU_ASSERT_EQUAL(after.uordblks, before.uordblks);
                CU_ASSERT_EQUAL(after.hblkhd, before.hblkhd);
            }
        }
        CU_ASSERT_EQUAL(failures, 0);
        env_batch_free(batch);
        env_free(env);
    }
}

/* The models directory: env_set_models_dir() over $ODAC_MODELS_DIR; a missing model is an error
 * naming the full path. */
static void test_models_dir(void) {
    const char *from_env = getenv("ODAC_MODELS_DIR");
    if (from_env && *from_env) CU_ASSERT_STRING_EQUAL(env_models_dir(), from_env);
    const char *missing = test_tmpdir("env-models");
    env_set_models_dir(missing);
    CU_ASSERT_STRING_EQUAL(env_models_dir(), missing);
    char err[ERRCAP] = "", want[600];
    CU_ASSERT_PTR_NULL(env_new("ant", ENV_GOAL_FIXED, 1, err, sizeof err));
    snprintf(want, sizeof want, "%s/ant.xml", missing);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    /* box2d needs no model. */
    env_t *box = env_new("box2d", ENV_GOAL_FIXED, 1, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(box);
    env_free(box);
    env_set_models_dir(NULL);
    if (from_env && *from_env) {
        CU_ASSERT_STRING_EQUAL(env_models_dir(), from_env);
        env_t *ant = env_new("ant", ENV_GOAL_FIXED, 1, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL(ant);
        env_free(ant);
    }
    CU_ASSERT(env_mj_of(NULL) == NULL);
}

int main(void) {
    const test_case_t cases[] = {{"names and specs", test_names_and_specs},
                                 {"unknown name", test_unknown_name},
                                 {"non-finite action", test_non_finite_action},
                                 {"clipping", test_clipping},
                                 {"horizon and distance", test_horizon_and_distance},
                                 {"determinism", test_determinism},
                                 {"batch equals individual", test_batch_equals_individual},
                                 {"no allocation per step", test_no_allocation_per_step},
                                 {"models dir", test_models_dir},
                                 {NULL, NULL}};
    return test_run_suite("env_api", cases);
}
