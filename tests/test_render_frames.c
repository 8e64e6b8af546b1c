/* render: a frame of every env (MuJoCo's renderer offscreen through EGL; box2d in 2-D) is not
 * blank, and a frame after 20 steps differs from the one after reset; another goal gives another
 * picture (its marker, and the camera that aims at it); PNGs are written with the PNG signature and
 * the right size. With ODAC_RENDER_KEEP=DIR the frames are also kept there as PNGs (to look at). */
#include "env.h"
#include "render.h"
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { W = 160, H = 120, STEPS = 20 };

static int distinct_colors(const uint8_t *rgb) {
    /* colours quantised to 4 bits a channel */
    static unsigned char seen[4096];
    memset(seen, 0, sizeof seen);
    int n = 0;
    for (int i = 0; i < W * H; i++) {
        int c = (rgb[3 * i] >> 4) << 8 | (rgb[3 * i + 1] >> 4) << 4 | rgb[3 * i + 2] >> 4;
        n += !seen[c]++;
    }
    return n;
}

static double changed_fraction(const uint8_t *a, const uint8_t *b) {
    int n = 0;
    for (int i = 0; i < W * H; i++)
        n += abs(a[3 * i] - b[3 * i]) + abs(a[3 * i + 1] - b[3 * i + 1]) +
                 abs(a[3 * i + 2] - b[3 * i + 2]) >
             24;
    return (double)n / (W * H);
}

static void keep(const char *name, const char *tag, const uint8_t *rgb) {
    const char *dir = getenv("ODAC_RENDER_KEEP");
    char path[1024], err[512];
    if (!dir || !*dir) return;
    snprintf(path, sizeof path, "%s/%s-%s.png", dir, name, tag);
    CU_ASSERT_EQUAL(render_write_png(path, rgb, W, H, err, sizeof err), 0);
}

static void test_every_env(void) {
    static uint8_t a[W * H * 3], b[W * H * 3], c[W * H * 3];
    for (const char *const *name = env_names(); *name; name++) {
        char err[512];
        env_t *env = env_new(*name, ENV_GOAL_FIXED, 1, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(env);
        const env_spec_t *sp = env_spec(env);
        render_t *r = render_new(env, W, H, err, sizeof err);
        if (!r) printf("\n    %s: %s", *name, err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        float obs[64], ag[64], goal[64], act[16];
        static float path[(1000 + 1) * 64];
        env_reset(env, obs, ag, goal);
        memcpy(path, ag, (size_t)sp->goal_dim * sizeof(float));
        CU_ASSERT_EQUAL(render_frame(r, env, goal, path, 1, a, err, sizeof err), 0);
        for (int t = 0; t < STEPS; t++) {
            for (int k = 0; k < sp->action_dim; k++) act[k] = (k % 2 ? -0.9f : 0.9f);
            env_step_info_t info;
            CU_ASSERT_EQUAL_FATAL(env_step(env, act, obs, ag, &info, err, sizeof err), 0);
            memcpy(path + (size_t)(t + 1) * sp->goal_dim, ag, (size_t)sp->goal_dim * sizeof(float));
        }
        CU_ASSERT_EQUAL(render_frame(r, env, goal, path, STEPS + 1, b, err, sizeof err), 0);
        /* The same state with the goal moved: the marker moves. */
        float moved[64];
        memcpy(moved, goal, sizeof moved);
        moved[0] += !strcmp(*name, "box2d") ? 2.0f : !strcmp(*name, "ant") ? 2.0f : 0.1f;
        CU_ASSERT_EQUAL(render_frame(r, env, moved, path, STEPS + 1, c, err, sizeof err), 0);
        int colors = distinct_colors(a);
        double moved_state = changed_fraction(a, b), moved_goal = changed_fraction(b, c);
        printf("\n    %-12s %3d colours, %.1f%% of pixels changed by %d steps, %.2f%% by the goal",
               *name, colors, 100 * moved_state, STEPS, 100 * moved_goal);
        CU_ASSERT(colors >= 8);          /* not blank */
        CU_ASSERT(moved_state >= 0.002); /* another state, another picture */
        CU_ASSERT(moved_goal > 0); /* the goal is drawn (the arm tasks' camera also aims at it) */
        keep(*name, "reset", a);
        keep(*name, "stepped", b);
        render_free(r);
        env_free(env);
    }
}

static void test_png(void) {
    static uint8_t rgb[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) rgb[i] = (uint8_t)i;
    char path[600], err[512];
    snprintf(path, sizeof path, "%s/f.png", test_tmpdir("render"));
    CU_ASSERT_EQUAL_FATAL(render_write_png(path, rgb, W, H, err, sizeof err), 0);
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    unsigned char head[24];
    CU_ASSERT_EQUAL(fread(head, 1, sizeof head, f), sizeof head);
    fclose(f);
    CU_ASSERT_EQUAL(memcmp(head, "\x89PNG\r\n\x1a\n", 8), 0);
    CU_ASSERT_EQUAL(memcmp(head + 12, "IHDR", 4), 0);
    unsigned w = (unsigned)head[16] << 24 | head[17] << 16 | head[18] << 8 | head[19];
    unsigned h = (unsigned)head[20] << 24 | head[21] << 16 | head[22] << 8 | head[23];
    CU_ASSERT_EQUAL(w, W);
    CU_ASSERT_EQUAL(h, H);
    CU_ASSERT_NOT_EQUAL(render_write_png("/nonexistent-dir/f.png", rgb, W, H, err, sizeof err), 0);
    char e2[512];
    env_t *env = env_new("box2d", ENV_GOAL_FIXED, 1, e2, sizeof e2);
    CU_ASSERT_PTR_NULL(render_new(env, 15, 16, e2, sizeof e2)); /* odd size refused */
    env_free(env);
}

int main(void) {
    const test_case_t cases[] = {{"every env", test_every_env}, {"png", test_png}, {NULL, NULL}};
    return test_run_suite("render", cases);
}
