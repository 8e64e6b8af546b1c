/* learner_checkpoint: the learner's whole state in one ckpt_file (versioned, checksummed, written
 * atomically): every network and target, Adam moments and step counts, log-alpha, the reward
 * normaliser, the update counter and the rng, followed by the caller's own record (the process's
 * counters), so the learner and its counters come from the same save and can never disagree. The
 * one idea: the payload starts with the shape of the learner it came from (variant, dims, hidden
 * sizes, parameter counts), which a load compares with the learner's own and with the payload's
 * length before writing a single byte, so a mismatched or short file leaves the learner
 * unchanged. Values are stored in host byte order. Payload: shape, state pieces, u64 record
 * length, record. Version 2 files (no record; the counters were in a separate progress.ckpt) are
 * refused with a message naming the version. */
#include "ckpt_file.h"
#include "learner_internal.h"
#include <stdio.h>
#include <string.h>

#define LEARNER_CKPT_MAGIC 0x4e4c444fu /* "ODLN" */
#define LEARNER_CKPT_VERSION 3u        /* 2: input normalisers; 3: the caller's record inside */

/* The shape a checkpoint must match. */
typedef struct {
    int32_t variant, obs_dim, goal_dim, action_dim, model_state_log_std;
    int32_t n_policy_hidden, n_critic_hidden, n_model_hidden;
    int32_t policy_hidden[LEARNER_MAX_HIDDEN], critic_hidden[LEARNER_MAX_HIDDEN],
        model_hidden[LEARNER_MAX_HIDDEN];
    uint64_t n_policy, n_critic, n_model; /* parameter counts */
} ckpt_shape_t;

static void shape_of(const learner_t *L, ckpt_shape_t *s) {
    const learner_config_t *c = &L->cfg;
    memset(s, 0, sizeof *s);
    s->variant = (int32_t)c->variant;
    s->obs_dim = c->obs_dim;
    s->goal_dim = c->goal_dim;
    s->action_dim = c->action_dim;
    s->model_state_log_std = c->model_state_log_std;
    s->n_policy_hidden = c->n_policy_hidden;
    s->n_critic_hidden = c->n_critic_hidden;
    s->n_model_hidden = c->n_model_hidden;
    for (int i = 0; i < c->n_policy_hidden; i++) s->policy_hidden[i] = c->policy_hidden[i];
    for (int i = 0; i < c->n_critic_hidden; i++) s->critic_hidden[i] = c->critic_hidden[i];
    for (int i = 0; i < c->n_model_hidden; i++) s->model_hidden[i] = c->model_hidden[i];
    s->n_policy = L->policy.n_params;
    s->n_critic = L->q1.n_params;
    s->n_model = L->has_model ? L->model.n_params : 0;
}

static void hidden_str(char *out, size_t cap, const int32_t *h, int n) {
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && i < LEARNER_MAX_HIDDEN && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%d", i ? "," : "", (int)h[i]);
}

/* 0 if equal, else -1 with a message naming the first difference. */
static int compare_shape(const ckpt_shape_t *file, const ckpt_shape_t *mine, char *err,
                         size_t errcap) {
#define SAME_INT(field)                                                                            \
    if (file->field != mine->field) {                                                              \
        snprintf(err, errcap, "checkpoint %s is %lld, this learner's is %lld", #field,             \
                 (long long)file->field, (long long)mine->field);                                  \
        return -1;                                                                                 \
    }
    if (file->variant != mine->variant) {
        snprintf(err, errcap, "checkpoint variant is %s, this learner's is %s",
                 learner_variant_name((learner_variant_t)file->variant),
                 learner_variant_name((learner_variant_t)mine->variant));
        return -1;
    }
    SAME_INT(obs_dim)
    SAME_INT(goal_dim)
    SAME_INT(action_dim)
    SAME_INT(model_state_log_std)
    const struct {
        const char *name;
        int32_t nf, nm;
        const int32_t *hf, *hm;
    } nets[3] = {
        {"policy_hidden", file->n_policy_hidden, mine->n_policy_hidden, file->policy_hidden,
         mine->policy_hidden},
        {"critic_hidden", file->n_critic_hidden, mine->n_critic_hidden, file->critic_hidden,
         mine->critic_hidden},
        {"model_hidden", file->n_model_hidden, mine->n_model_hidden, file->model_hidden,
         mine->model_hidden},
    };
    for (int k = 0; k < 3; k++) {
        int same = nets[k].nf == nets[k].nm && nets[k].nf >= 0 && nets[k].nf <= LEARNER_MAX_HIDDEN;
        for (int i = 0; same && i < nets[k].nf; i++) same = nets[k].hf[i] == nets[k].hm[i];
        if (!same) {
            char a[128], b[128];
            hidden_str(a, sizeof a, nets[k].hf, nets[k].nf);
            hidden_str(b, sizeof b, nets[k].hm, nets[k].nm);
            snprintf(err, errcap, "checkpoint %s is [%s], this learner's is [%s]", nets[k].name, a,
                     b);
            return -1;
        }
    }
    SAME_INT(n_policy)
    SAME_INT(n_critic)
    SAME_INT(n_model)
#undef SAME_INT
    return 0;
}

/* One piece of state: its bytes, in payload order. */
typedef struct {
    void *data;
    size_t bytes;
} piece_t;

#define MAX_PIECES 40

/* Lists every piece of L's state after the shape, in payload order; returns the count. */
static int pieces_of(learner_t *L, piece_t *p) {
    int n = 0;
#define PIECE(ptr, nbytes) (p[n].data = (void *)(ptr), p[n].bytes = (nbytes), n++)
    PIECE(L->policy.params, L->policy.n_params * sizeof(float));
    PIECE(L->q1.params, L->q1.n_params * sizeof(float));
    PIECE(L->q2.params, L->q2.n_params * sizeof(float));
    PIECE(L->q1_target.params, L->q1_target.n_params * sizeof(float));
    PIECE(L->q2_target.params, L->q2_target.n_params * sizeof(float));
    nn_adam_t *adams[6] = {&L->adam_policy, &L->adam_q1, &L->adam_q2, &L->adam_alpha, NULL, NULL};
    if (L->has_model) {
        PIECE(L->model.params, L->model.n_params * sizeof(float));
        PIECE(L->model_log_std, (size_t)L->cfg.goal_dim * sizeof(float));
        adams[4] = &L->adam_model;
        adams[5] = &L->adam_log_std;
    }
    for (int k = 0; k < 6; k++) {
        if (!adams[k]) continue;
        PIECE(&adams[k]->t, sizeof adams[k]->t);
        PIECE(adams[k]->m, adams[k]->n * sizeof(float));
        PIECE(adams[k]->v, adams[k]->n * sizeof(float));
    }
    PIECE(&L->log_alpha, sizeof L->log_alpha);
    PIECE(&L->reward_ema, sizeof L->reward_ema);
    PIECE(&L->reward_ema_init, sizeof L->reward_ema_init);
    PIECE(&L->updates, sizeof L->updates);
    normalizer_t *norms[2] = {L->obs_norm, L->goal_norm};
    for (int k = 0; k < 2; k++) {
        PIECE(&norms[k]->count, sizeof norms[k]->count);
        PIECE(norms[k]->sum, (size_t)norms[k]->dim * sizeof(double));
        PIECE(norms[k]->sumsq, (size_t)norms[k]->dim * sizeof(double));
    }
    PIECE(L->rng.s, sizeof L->rng.s);
#undef PIECE
    return n;
}

int learner_save_with(const learner_t *L, const char *path, const void *record, size_t record_len,
                      char *err, size_t errcap) {
    char why[512];
    ckpt_writer_t *w =
        ckpt_writer_open(path, LEARNER_CKPT_MAGIC, LEARNER_CKPT_VERSION, why, sizeof why);
    if (!w) {
        snprintf(err, errcap, "learner: checkpoint not written: %s", why);
        return -1;
    }
    ckpt_shape_t shape;
    shape_of(L, &shape);
    ckpt_writer_write(w, &shape, sizeof shape);
    piece_t pieces[MAX_PIECES];
    int n = pieces_of((learner_t *)L, pieces); /* only read here */
    for (int i = 0; i < n; i++) ckpt_writer_write(w, pieces[i].data, pieces[i].bytes);
    uint64_t len = record ? record_len : 0;
    ckpt_writer_write(w, &len, sizeof len);
    if (len) ckpt_writer_write(w, record, len);
    if (ckpt_writer_commit(&w, why, sizeof why)) {
        snprintf(err, errcap, "learner: checkpoint not written (previous file kept): %s", why);
        return -1;
    }
    return 0;
}

int learner_save(const learner_t *L, const char *path, char *err, size_t errcap) {
    return learner_save_with(L, path, NULL, 0, err, errcap);
}

int learner_load_with(learner_t *L, const char *path, void *record, size_t record_len, char *err,
                      size_t errcap) {
    char why[512];
    ckpt_reader_t *r =
        ckpt_reader_open(path, LEARNER_CKPT_MAGIC, LEARNER_CKPT_VERSION, NULL, why, sizeof why);
    if (!r) {
        if (strstr(why, "format version 2,"))
            snprintf(err, errcap,
                     "learner: checkpoint refused: %s (version 2 kept the run's counters in a "
                     "separate progress.ckpt; start a new run)",
                     why);
        else
            snprintf(err, errcap, "learner: checkpoint refused: %s", why);
        return -1;
    }
    ckpt_shape_t file, mine;
    shape_of(L, &mine);
    if (ckpt_reader_read(r, &file, sizeof file)) {
        snprintf(err, errcap, "learner checkpoint %s refused: payload too short for its header",
                 path);
        ckpt_reader_close(&r);
        return -1;
    }
    if (compare_shape(&file, &mine, why, sizeof why)) {
        snprintf(err, errcap, "learner checkpoint %s refused: %s", path, why);
        ckpt_reader_close(&r);
        return -1;
    }
    piece_t pieces[MAX_PIECES];
    int n = pieces_of(L, pieces);
    size_t need = 0;
    for (int i = 0; i < n; i++) need += pieces[i].bytes;
    size_t have = ckpt_reader_remaining(r);
    uint64_t file_record = 0;
    if (have < need + sizeof file_record) {
        snprintf(err, errcap,
                 "learner checkpoint %s refused: payload holds %zu bytes of state, this learner "
                 "needs %zu",
                 path, have, need + sizeof file_record);
        ckpt_reader_close(&r);
        return -1;
    }
    /* The record's length sits after the state; check it before touching the learner. */
    ckpt_reader_peek(r, need, &file_record, sizeof file_record);
    size_t after = have - need - sizeof file_record;
    if (file_record != (uint64_t)after || (record && file_record != (uint64_t)record_len)) {
        snprintf(err, errcap,
                 "learner checkpoint %s refused: its record holds %llu bytes (%zu after it), the "
                 "caller's is %zu",
                 path, (unsigned long long)file_record, after, record ? record_len : (size_t)0);
        ckpt_reader_close(&r);
        return -1;
    }
    /* The rng state is the last piece (pieces_of): xoshiro256 from all zeros returns only zeros. */
    _Static_assert(sizeof L->rng.s == 4 * sizeof(uint64_t), "rng state is four words");
    uint64_t rng_state[4];
    ckpt_reader_peek(r, need - sizeof rng_state, rng_state, sizeof rng_state);
    if (!(rng_state[0] | rng_state[1] | rng_state[2] | rng_state[3])) {
        snprintf(err, errcap, "learner checkpoint %s refused: rng state is all zero", path);
        ckpt_reader_close(&r);
        return -1;
    }
    for (int i = 0; i < n; i++) ckpt_reader_read(r, pieces[i].data, pieces[i].bytes);
    ckpt_reader_read(r, &file_record, sizeof file_record);
    if (record) ckpt_reader_read(r, record, record_len);
    ckpt_reader_close(&r);
    L->reward_ema_init = L->reward_ema_init ? 1 : 0;
    normalizer_restore(L->obs_norm);
    normalizer_restore(L->goal_norm);
    learner_stats_reset(&L->stats);
    return 0;
}

int learner_load(learner_t *L, const char *path, char *err, size_t errcap) {
    return learner_load_with(L, path, NULL, 0, err, errcap);
}
