/* window_script: a scripted hand for the window env (written here), shared by its env test and
 * the window objective benchmark. It closes the window to handle x = goal[3], then brings the
 * hand to goal[0:3]. Header-only: each includer gets its own static copies. */
#ifndef ODAC_TESTS_WINDOW_SCRIPT_H
#define ODAC_TESTS_WINDOW_SCRIPT_H
#include <math.h>

#define HANDLE_Y 0.69f /* the handle's fixed y and z in the window scene */
#define HANDLE_Z 0.16f

static inline float clampf(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

static inline float dist3(const float *a, const float *b) {
    float s = 0;
    for (int i = 0; i < 3; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrtf(s);
}

/* Scripted hand: moves toward a target with a proportional action. */
static inline void act_toward(const float *hand, const float *target, float gain, float *act) {
    for (int i = 0; i < 3; i++) act[i] = clampf(gain * (target[i] - hand[i]) / 0.01f, -1, 1);
}

/* Closes the window to handle x = goal[3], then brings the hand to goal[0:3]: go beside the
 * handle on its +x side, in front of it (y = 0.64), step in to the handle's y = 0.69, push along -x
 * (slowing near the goal, as the pane coasts a little), then go to the hand goal, first backing off
 * to y = 0.64 when that goal lies on the handle's other side. */
typedef struct {
    int phase;
} closer_t;

static inline void closer_act(closer_t *c, const float *obs, const float *goal, float *act) {
    const float *hand = obs, *handle = obs + 3;
    float target[3] = {goal[0], goal[1], goal[2]};
    float gain = 1.0f;
    if (c->phase == 2 && handle[0] <= goal[3] + 0.002f)
        c->phase = goal[0] < handle[0] + 0.04f ? 3 : 4;
    switch (c->phase) {
    case 0:
    case 1:
        target[0] = handle[0] + 0.045f;
        target[1] = c->phase == 0 ? 0.64f : HANDLE_Y;
        target[2] = HANDLE_Z;
        if (dist3(hand, target) < 0.008f) c->phase++;
        break;
    case 2: {
        float remaining = handle[0] - goal[3];
        target[0] = handle[0] + 0.03f - fminf(remaining, 0.01f); /* contact at 0.03 */
        target[1] = HANDLE_Y;
        target[2] = HANDLE_Z;
        gain = remaining < 0.02f ? 0.5f : 1.0f;
        break;
    }
    case 3: /* back off in front of the handle */
        target[0] = hand[0];
        target[1] = 0.64f;
        target[2] = hand[2];
        if (hand[1] < 0.65f) c->phase = 4;
        break;
    default: /* the hand goal */
        break;
    }
    act_toward(hand, target, gain, act);
}

#endif
