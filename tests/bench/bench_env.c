/* bench_env: env steps per second for every env, single thread, random actions, with the raw
 * mj_step rate of the same model beside it, so the env's own overhead shows:
 * steps_per_s * substeps should be close to physics_steps_per_s. One JSON object per line:
 * {"bench":"env_step","env":..,"steps_per_s":..,"physics_steps_per_s":..,"substeps":..,
 *  "threads":1,"machine":".."}. The physics rate replays the env run's own physics inputs (ctrl,
 * mocap poses) through bare mj_step on the same model and data, so both rates see the same
 * states and contacts. Rates are per second of the thread's CPU time, best of 3 alternating runs.
 * An env that fails to create is skipped with a note on stderr.
 * Usage: bench-env [seconds per measurement, default 1.0] [env name...] */
#include "env.h"
#include "env_internal.h"
#include "rng.h"
#include <mujoco/mujoco.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#define MAX_DIM 256
#define CHUNK 200 /* env steps of the first rate estimate */

/* This thread's CPU time: the same as wall time on an idle machine, and not inflated by other
 * processes on a busy one (the rates compare the env with bare physics, both single-threaded). */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* "<host> <cpu model>", JSON-safe. */
static void machine_name(char *out, size_t cap) {
    struct utsname u;
    char cpu[160] = "unknown cpu";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *colon = strchr(line, ':');
                if (colon) {
                    snprintf(cpu, sizeof cpu, "%s", colon + 2);
                    cpu[strcspn(cpu, "\n")] = '\0';
                }
                break;
            }
        }
        fclose(f);
    }
    snprintf(out, cap, "%s %s", uname(&u) == 0 ? u.nodename : "host", cpu);
    for (char *p = out; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 32) *p = ' ';
}

/* Runs n env steps (random actions from seed, reset at the horizon) from a fresh reset; returns
 * the seconds taken. */
static double run_env(env_t *env, uint64_t seed, long n) {
    const env_spec_t *spec = env_spec(env);
    float obs[MAX_DIM], ag[MAX_DIM], dg[MAX_DIM], action[MAX_DIM];
    env_step_info_t info;
    char err[256];
    rng_t rng;
    rng_seed(&rng, seed, 0);
    env_reset(env, obs, ag, dg);
    double start = now_s();
    for (long t = 0; t < n; t++) {
        for (int i = 0; i < spec->action_dim; i++) action[i] = 2.0f * rng_uniform(&rng) - 1.0f;
        if (env_step(env, action, obs, ag, &info, err, sizeof err) != 0) {
            fprintf(stderr, "bench-env: %s\n", err);
            return -1.0;
        }
        if (info.horizon_reached) env_reset(env, obs, ag, dg);
    }
    return now_s() - start;
}

/* The physics inputs of every mj_step taken while recording: ctrl[nu], mocap_pos[3 * nmocap],
 * mocap_quat[4 * nmocap], captured by MuJoCo's control callback (called inside mj_forward, hence
 * inside mj_step once those inputs are final). An env may also call mj_forward outside mj_step
 * (after a reset, say): such a call happens at the same simulation time as the next mj_step, so a
 * callback at the time of the last record replaces it, leaving one record per mj_step. */
static struct {
    double *buf;
    long cap, len;    /* in doubles */
    double last_time; /* d->time of the last record */
} g_rec;

static void record_inputs(const mjModel *m, mjData *d) {
    long need = m->nu + 7L * m->nmocap;
    if (g_rec.len > 0 && d->time == g_rec.last_time) g_rec.len -= need;
    if (g_rec.len + need > g_rec.cap) return;
    double *out = g_rec.buf + g_rec.len;
    memcpy(out, d->ctrl, sizeof(double) * m->nu);
    memcpy(out + m->nu, d->mocap_pos, sizeof(double) * 3 * m->nmocap);
    memcpy(out + m->nu + 3 * m->nmocap, d->mocap_quat, sizeof(double) * 4 * m->nmocap);
    g_rec.len += need;
    g_rec.last_time = d->time;
}

/* Replays the recorded inputs with bare mj_step calls on the env's own model and data, resetting
 * through the env where the env run reset (every horizon env steps); returns the seconds taken.
 * Same states, same contacts, no env code between the physics steps. */
static double run_physics(env_t *env, env_mj_t *mj, long n) {
    const env_spec_t *spec = env_spec(env);
    const mjModel *m = mj->model;
    mjData *d = mj->data;
    const long per_step = m->nu + 7L * m->nmocap;
    float obs[MAX_DIM], ag[MAX_DIM], dg[MAX_DIM];
    env_reset(env, obs, ag, dg);
    const double *in = g_rec.buf;
    double start = now_s();
    for (long t = 0; t < n; t++) {
        for (int k = 0; k < mj->substeps; k++) {
            memcpy(d->ctrl, in, sizeof(double) * m->nu);
            memcpy(d->mocap_pos, in + m->nu, sizeof(double) * 3 * m->nmocap);
            memcpy(d->mocap_quat, in + m->nu + 3 * m->nmocap, sizeof(double) * 4 * m->nmocap);
            in += per_step;
            mj_step(m, d);
        }
        if ((t + 1) % spec->horizon == 0) env_reset(env, obs, ag, dg);
    }
    return now_s() - start;
}

/* Env steps per second and, for a MuJoCo env, bare physics steps per second over the very same
 * trajectory: best of 3 alternating runs each, to damp a busy machine's noise. */
static void measure(env_t *env, double seconds, double *steps_per_s, double *physics_per_s) {
    const uint64_t seed = 12345;
    double probe = run_env(env, seed, CHUNK); /* warm-up and a first estimate of the rate */
    if (probe <= 0.0) probe = 1e-6;
    long n = (long)(CHUNK / probe * seconds);
    if (n < CHUNK) n = CHUNK;
    env_mj_t *mj = env_mj_of(env);
    *physics_per_s = 0.0;
    if (mj) {
        const mjModel *m = mj->model;
        const long per_env_step = (long)mj->substeps * (m->nu + 7L * m->nmocap);
        const long max_doubles = 32L << 20; /* 256 MB of inputs at most */
        if (per_env_step > 0 && n * per_env_step > max_doubles) n = max_doubles / per_env_step;
        g_rec.cap = n * per_env_step;
        g_rec.len = 0;
        g_rec.last_time = -1.0;
        g_rec.buf = malloc(sizeof(double) * (g_rec.cap > 0 ? g_rec.cap : 1));
        if (!g_rec.buf) {
            fprintf(stderr, "bench-env: out of memory\n");
            exit(1);
        }
        mjcb_control = record_inputs;
        run_env(env, seed, n);
        mjcb_control = NULL;
        if (g_rec.len != g_rec.cap)
            fprintf(stderr, "bench-env: %s: recorded %ld of %ld physics inputs\n",
                    env_spec(env)->name, g_rec.len, g_rec.cap);
    }
    double best_env = 1e30, best_phys = 1e30;
    int diverged = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t_env = run_env(env, seed, n);
        if (t_env > 0.0 && t_env < best_env) best_env = t_env;
        if (mj) {
            /* The replay must end in the very state the env run ended in. */
            const mjModel *m = mj->model;
            mjData *d = mj->data;
            double end_qpos[MAX_DIM];
            int nq = m->nq < MAX_DIM ? m->nq : MAX_DIM;
            memcpy(end_qpos, d->qpos, sizeof(double) * nq);
            double t_phys = run_physics(env, mj, n);
            if (t_phys < best_phys) best_phys = t_phys;
            diverged |= memcmp(end_qpos, d->qpos, sizeof(double) * nq) != 0;
        }
    }
    if (diverged)
        fprintf(stderr, "bench-env: %s: the physics replay did not retrace the env run\n",
                env_spec(env)->name);
    *steps_per_s = n / best_env;
    if (mj) *physics_per_s = (double)n * mj->substeps / best_phys;
    free(g_rec.buf);
    g_rec.buf = NULL;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    if (!(seconds > 0.0)) seconds = 1.0;
    char machine[256];
    machine_name(machine, sizeof machine);
    const char *const *names = env_names();
    for (int a = 2; a < argc; a++) {
        env_spec_t spec;
        char err[512];
        if (env_spec_lookup(argv[a], &spec, err, sizeof err) != 0)
            fprintf(stderr, "bench-env: skipping %s: %s\n", argv[a], err);
    }
    for (int e = 0; names[e]; e++) {
        if (argc > 2) {
            int wanted = 0;
            for (int a = 2; a < argc; a++) wanted |= strcmp(argv[a], names[e]) == 0;
            if (!wanted) continue;
        }
        char err[512];
        env_t *env = env_new(names[e], ENV_GOAL_RANDOM, 1, err, sizeof err);
        if (!env) {
            fprintf(stderr, "bench-env: skipping %s: %s\n", names[e], err);
            continue;
        }
        double steps_per_s, physics;
        measure(env, seconds, &steps_per_s, &physics);
        env_mj_t *mj = env_mj_of(env);
        int substeps = mj ? mj->substeps : 0;
        printf("{\"bench\":\"env_step\",\"env\":\"%s\",\"steps_per_s\":%.1f,"
               "\"physics_steps_per_s\":%.1f,\"substeps\":%d,\"threads\":1,\"machine\":\"%s\"}\n",
               names[e], steps_per_s, physics, substeps, machine);
        fflush(stdout);
        env_free(env);
    }
    return 0;
}
