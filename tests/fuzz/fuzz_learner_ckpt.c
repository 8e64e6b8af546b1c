/* fuzz_learner_ckpt: libFuzzer harness for the learner checkpoint reader
 * (learner/learner_checkpoint.c, learner_load_with). The first input byte picks the mode: even,
 * the rest is the whole file; odd, the rest is a payload written with a valid header and
 * checksum, so mutations reach the shape checks and the state behind them. A refused file must
 * leave the learner's update counter unchanged. */
#include "fuzz_util.h"

typedef struct { /* the learner server's record: wall time, env steps, version, best eval */
    double wall_time_s;
    uint64_t env_steps, publish_version;
    double best_eval;
} record_t;

static learner_t *learner;
static uint32_t magic, version;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char err[512], path[512];
    learner_config_t c = fuzz_learner_config();
    learner = learner_new(&c, err, sizeof err);
    if (!learner) abort();
    /* The kind and version this build writes, from a file it wrote. */
    snprintf(path, sizeof path, "%s/kind.ckpt", fuzz_dir());
    if (learner_save(learner, path, err, sizeof err) != 0) abort();
    fuzz_ckpt_kind(path, &magic, &version);
    unlink(path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    if (len < 1) return 0;
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/learner.ckpt", fuzz_dir());
    if (data[0] & 1)
        fuzz_write_ckpt(path, magic, version, data + 1, len - 1);
    else
        fuzz_write(path, data + 1, len - 1);
    long long before = learner_updates(learner);
    record_t rec;
    if (learner_load_with(learner, path, &rec, sizeof rec, err, sizeof err) != 0) {
        if (!err[0] || learner_updates(learner) != before) abort();
    }
    return 0;
}
