/* fuzz_util: what the libFuzzer harnesses and the seed generator share: the small learner and
 * replay configurations the checkpoint harnesses load into, the dims the wire harnesses validate
 * against, and writing an input to a file (raw, or wrapped as a checkpoint payload with a valid
 * container header and checksum, so mutations reach the readers behind the checksum). */
#ifndef ODAC_FUZZ_UTIL_H
#define ODAC_FUZZ_UTIL_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_file.h"
#include "learner_core.h"
#include "replay_shard.h"
#include "wire.h"

/* The run every wire harness checks messages against (small, so valid lengths are easy to hit). */
static inline wire_dims_t fuzz_dims(void) {
    wire_dims_t d;
    memset(&d, 0, sizeof d);
    snprintf(d.env_name, sizeof d.env_name, "box2d");
    d.obs_dim = 3, d.goal_dim = 2, d.action_dim = 2, d.horizon = 6;
    return d;
}

static inline learner_config_t fuzz_learner_config(void) {
    learner_config_t c;
    learner_config_default(&c);
    c.variant = LEARNER_ODAC;
    c.obs_dim = 3, c.goal_dim = 2, c.action_dim = 2;
    c.batch_size = 4;
    c.policy_hidden[0] = 4, c.n_policy_hidden = 1;
    c.critic_hidden[0] = 4, c.n_critic_hidden = 1;
    c.model_hidden[0] = 4, c.n_model_hidden = 1;
    c.normalize = 1;
    c.seed = 1;
    return c;
}

static inline replay_shard_config_t fuzz_shard_config(void) {
    replay_shard_config_t c;
    memset(&c, 0, sizeof c);
    c.dims = fuzz_dims();
    c.shard_id = 0;
    c.capacity = 40; /* a few episodes: loading more evicts */
    c.min_size = 1;
    c.samples_per_insert = 4;
    c.tolerance = 100;
    c.future_p = 0.8f;
    c.seed = 7;
    c.max_batch = 16;
    return c;
}

/* A private directory for this process's files (under $TMPDIR or /dev/shm). */
static inline const char *fuzz_dir(void) {
    static char dir[256];
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof dir, "%s/odac-fuzz-XXXXXX", base);
        if (!mkdtemp(dir)) abort();
    }
    return dir;
}

static inline void fuzz_write(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) abort();
}

/* Writes payload as a checkpoint of the given kind (valid header and checksum). */
static inline void fuzz_write_ckpt(const char *path, uint32_t magic, uint32_t version,
                                   const void *payload, size_t len) {
    char err[512];
    ckpt_writer_t *w = ckpt_writer_open(path, magic, version, err, sizeof err);
    if (!w || ckpt_writer_write(w, payload, len) != 0 || ckpt_writer_commit(&w, err, sizeof err))
        abort();
}

/* The kind and version in a checkpoint file's header (from a file this build wrote). */
static inline void fuzz_ckpt_kind(const char *path, uint32_t *magic, uint32_t *version) {
    uint8_t h[CKPT_HEADER_BYTES];
    FILE *f = fopen(path, "rb");
    if (!f || fread(h, 1, sizeof h, f) != sizeof h) abort();
    fclose(f);
    *magic = (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24;
    *version =
        (uint32_t)h[12] | (uint32_t)h[13] << 8 | (uint32_t)h[14] << 16 | (uint32_t)h[15] << 24;
}

#endif
