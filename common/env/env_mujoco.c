/* env_mujoco: what the MuJoCo envs share: where the MJCF models live, loading one with an error
 * that names the file, and stepping helpers (plain physics steps, a mocap hand moved gradually). */
#include "env_internal.h"
#include <math.h>
#include <limits.h>
#include <mujoco/mujoco.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_models_dir_set[PATH_MAX];      /* env_set_models_dir's value; "" when unset */
static char g_models_dir_exe[PATH_MAX + 64]; /* <dir of this executable>/../share/odac/models */
static pthread_once_t g_exe_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_load_mutex = PTHREAD_MUTEX_INITIALIZER;

void env_set_models_dir(const char *dir) {
    snprintf(g_models_dir_set, sizeof g_models_dir_set, "%s", dir ? dir : "");
}

static void find_exe_models_dir(void) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(g_models_dir_exe, sizeof g_models_dir_exe, "share/odac/models");
        return;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    snprintf(g_models_dir_exe, sizeof g_models_dir_exe, "%s/../share/odac/models", exe);
}

const char *env_models_dir(void) {
    if (g_models_dir_set[0]) return g_models_dir_set;
    const char *from_env = getenv("ODAC_MODELS_DIR");
    if (from_env && *from_env) return from_env;
    pthread_once(&g_exe_once, find_exe_models_dir);
    return g_models_dir_exe;
}

void *env_mj_load_model(const char *file, char *err, size_t errcap) {
    char path[PATH_MAX + 512];
    snprintf(path, sizeof path, "%s/%s", env_models_dir(), file);
    char mjerr[1024] = "";
    /* The XML parser is not documented as thread-safe: one load at a time. */
    pthread_mutex_lock(&g_load_mutex);
    mjModel *m = mj_loadXML(path, NULL, mjerr, sizeof mjerr);
    pthread_mutex_unlock(&g_load_mutex);
    if (!m) {
        /* One line: MuJoCo's message may span several. */
        for (char *c = mjerr; *c; c++)
            if (*c == '\n' || *c == '\r') *c = ' ';
        for (size_t len = strlen(mjerr); len > 0 && mjerr[len - 1] == ' '; len--)
            mjerr[len - 1] = '\0';
        snprintf(err, errcap, "env: cannot load MuJoCo model %s: %s", path,
                 mjerr[0] ? mjerr : "unknown error");
        return NULL;
    }
    return m;
}

int env_mj_open(env_mj_t *mj, const char *file, int substeps, char *err, size_t errcap) {
    memset(mj, 0, sizeof *mj);
    mjModel *m = env_mj_load_model(file, err, errcap);
    if (!m) return -1;
    mjData *d = mj_makeData(m);
    if (!d) {
        snprintf(err, errcap, "env: cannot allocate MuJoCo data for %s", file);
        mj_deleteModel(m);
        return -1;
    }
    mj->magic = ENV_MJ_MAGIC;
    mj->model = m;
    mj->data = d;
    mj->substeps = substeps;
    return 0;
}

void env_mj_close(env_mj_t *mj) {
    if (!mj) return;
    if (mj->data) mj_deleteData((mjData *)mj->data);
    if (mj->model) mj_deleteModel((mjModel *)mj->model);
    mj->data = NULL;
    mj->model = NULL;
    mj->magic = 0;
}

int env_mj_name2id(const env_mj_t *mj, int type, const char *name, char *err, size_t errcap) {
    int id = mj_name2id((const mjModel *)mj->model, type, name);
    if (id < 0) snprintf(err, errcap, "env: the MuJoCo model has no element named '%s'", name);
    return id;
}

void env_mj_step(env_mj_t *mj) {
    const mjModel *m = mj->model;
    mjData *d = mj->data;
    for (int k = 0; k < mj->substeps; k++) mj_step(m, d);
}

void env_mj_step_mocap_to(env_mj_t *mj, int mocap_id, const double target[3]) {
    const mjModel *m = mj->model;
    mjData *d = mj->data;
    double *pos = d->mocap_pos + 3 * mocap_id;
    const double start[3] = {pos[0], pos[1], pos[2]};
    const int n = mj->substeps;
    for (int k = 1; k <= n; k++) {
        const double f = (double)k / n;
        for (int i = 0; i < 3; i++) pos[i] = start[i] + f * (target[i] - start[i]);
        mj_step(m, d);
    }
    /* Exactly the target (no rounding residue), so clipping to bounds stays exact. */
    for (int i = 0; i < 3; i++) pos[i] = target[i];
}

void env_clip_box(double *p, const double *lo, const double *hi, int n) {
    for (int i = 0; i < n; i++) {
        if (p[i] < lo[i]) p[i] = lo[i];
        if (p[i] > hi[i]) p[i] = hi[i];
    }
}

static double clamp_to(double x, double lo, double hi) {
    return x < lo ? lo : x > hi ? hi : x;
}

void env_mj_drive_mocap(env_mj_t *mj, int mocap, const double *here, const float *action,
                        double scale, double max_lead, const double *low, const double *high) {
    const double *current = ((const mjData *)mj->data)->mocap_pos + 3 * mocap;
    double target[3];
    for (int i = 0; i < 3; i++) {
        double t = current[i] + scale * (double)action[i];
        t = clamp_to(t, here[i] - max_lead, here[i] + max_lead);
        target[i] = clamp_to(t, low[i], high[i]);
    }
    env_mj_step_mocap_to(mj, mocap, target);
}

int env_mj_hand_slides(const env_mj_t *mj, int body, const char *const slides[3], const char *env,
                       int *qpos_adr, int *dof_adr, char *err, size_t errcap) {
    const mjModel *m = mj->model;
    for (int i = 0; i < 3; i++) {
        int j = env_mj_name2id(mj, mjOBJ_JOINT, slides[i], err, errcap);
        if (j < 0) return -1;
        if (i == 0) {
            *qpos_adr = m->jnt_qposadr[j];
            *dof_adr = m->jnt_dofadr[j];
        }
        if (m->jnt_type[j] != mjJNT_SLIDE || m->jnt_bodyid[j] != body ||
            m->jnt_qposadr[j] != *qpos_adr + i || m->jnt_dofadr[j] != *dof_adr + i ||
            m->jnt_axis[3 * j + i] != 1.0 || m->body_parentid[body] != 0) {
            if (err && errcap) snprintf(err, errcap, "%s: unexpected joints of the hand", env);
            return -1;
        }
    }
    return 0;
}

void env_hand_object_info(const float *achieved_goal, const double *goal, env_step_info_t *info) {
    double hand2 = 0.0, object2 = 0.0;
    for (int i = 0; i < 3; i++) {
        double dh = (double)achieved_goal[i] - goal[i];
        double dobj = (double)achieved_goal[3 + i] - goal[3 + i];
        hand2 += dh * dh;
        object2 += dobj * dobj;
    }
    info->distance = (float)sqrt(hand2 + object2);
    info->diag[0] = (float)sqrt(hand2);
    info->diag[1] = (float)sqrt(object2);
}

float env_l2_distance(const float *a, const float *b, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        float diff = a[i] - b[i];
        sum += diff * diff;
    }
    return sqrtf(sum);
}
