/* bench-window_objective: which window trajectory does each form of the ODAC target prefer?
 * Scripted hands (tests/window_script.h) run the fixed-goal window env: straight to the hand's
 * goal (it knocks the handle part of the way on its path, as the learned policies do), or
 * closing the window to handle x 0.20, 0.16 or fully (0.115) and then going to the hand's goal.
 * Each trajectory's value at its start is computed with the learner's own discount
 * (learner_dynamic_discount) and KL (learner_bernoulli_kl) by the backup of ODAC.md step 5,
 * y_t = (1 - gq) r_t - KL(gq || gamma) + gq y_{t+1}, with nothing after the horizon, a perfect
 * outcome model N(g; phi(s_{t+1}), sigma^2 I) (r_t its log density) and scale c = 1, at the
 * paper's gamma 0.99 and at window's default 0.95, once with gq clamped to gamma
 * (--clamp-discount) and once with the optimal gq (the soft-max backup, window's default). One
 * JSON line per gamma, sigma and trajectory:
 *   {"bench":"window_objective","gamma":..,"sigma":..,"trajectory":..,"final_distance":..,
 *    "hand":..,"handle":..,"value_clamped":..,"value_softmax":..,"threads":1,"machine":..}
 * Deterministic: the env's fixed start, no noise. */
#include "benchutil.h"
#include "env.h"
#include "learner_core.h"
#include "../window_script.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM 6

typedef struct {
    const char *name;
    float handle_x; /* where the script stops pushing; NAN: straight to the hand's goal */
} trajectory_t;

/* Value at the start of one reward sequence by the backward backup (see the file comment). */
static double backup_value(const double *r, int T, double gamma, int clamp) {
    double y = -1e300; /* nothing after the horizon: the last step terminates (gq = 0) */
    for (int t = T - 1; t >= 0; t--) {
        double gq = learner_dynamic_discount(r[t], y, gamma, clamp);
        double kl = learner_bernoulli_kl(gq, gamma);
        y = (1.0 - gq) * r[t] - kl + (gq > 0.0 ? gq * y : 0.0);
    }
    return y;
}

int main(void) {
    char machine[256], err[512];
    bench_machine_name(machine, sizeof machine);
    const trajectory_t trajs[] = {{"hand straight to its goal", NAN},
                                  {"push handle to x 0.20, then hand to goal", 0.20f},
                                  {"push handle to x 0.16, then hand to goal", 0.16f},
                                  {"close fully (x 0.115), then hand to goal", 0.115f}};
    const double sigmas[] = {0.01, 0.05};
    const double gammas[] = {0.99, 0.95}; /* the paper's; window's default */
    for (size_t k = 0; k < sizeof sigmas / sizeof sigmas[0]; k++) {
        double sigma = sigmas[k];
        for (size_t j = 0; j < sizeof trajs / sizeof trajs[0]; j++) {
            env_t *env = env_new("window", ENV_GOAL_FIXED, 1, err, sizeof err);
            if (!env) {
                fprintf(stderr, "bench-window_objective: %s\n", err);
                return 1;
            }
            const env_spec_t *spec = env_spec(env);
            float obs[DIM], ag[DIM], dg[DIM], act[3], script_goal[DIM];
            env_step_info_t info;
            env_reset(env, obs, ag, dg);
            memcpy(script_goal, dg, sizeof script_goal);
            script_goal[3] = trajs[j].handle_x;
            closer_t closer = {0};
            double *r = malloc(sizeof(double) * (size_t)spec->horizon);
            if (!r) return 1;
            for (int t = 0; t < spec->horizon; t++) {
                if (isnan(trajs[j].handle_x))
                    act_toward(obs, dg, 1.0f, act);
                else
                    closer_act(&closer, obs, script_goal, act);
                if (env_step(env, act, obs, ag, &info, err, sizeof err) != 0) {
                    fprintf(stderr, "bench-window_objective: %s\n", err);
                    return 1;
                }
                double lp = 0.0;
                for (int i = 0; i < DIM; i++) {
                    double z = (dg[i] - ag[i]) / sigma;
                    lp += -0.5 * z * z - log(sigma) - 0.5 * log(2.0 * M_PI);
                }
                r[t] = lp;
            }
            for (size_t m = 0; m < sizeof gammas / sizeof gammas[0]; m++)
                printf("{\"bench\":\"window_objective\",\"gamma\":%g,\"sigma\":%g,"
                       "\"trajectory\":\"%s\",\"final_distance\":%.4f,\"hand\":%.4f,"
                       "\"handle\":%.4f,\"value_clamped\":%.3f,\"value_softmax\":%.3f,"
                       "\"threads\":1,\"machine\":\"%s\"}\n",
                       gammas[m], sigma, trajs[j].name, info.distance, info.diag[0], info.diag[1],
                       backup_value(r, spec->horizon, gammas[m], 1),
                       backup_value(r, spec->horizon, gammas[m], 0), machine);
            free(r);
            env_free(env);
        }
    }
    return 0;
}
