/* fuzz_replay_ckpt: libFuzzer harness for the replay shard checkpoint reader
 * (replay/replay_shard.c, replay_shard_load). The first input byte picks the mode as in
 * fuzz_learner_ckpt (even: whole file; odd: payload behind a valid header and checksum). A load
 * that succeeds must leave a shard that can be sampled; one that fails must say why. */
#include "fuzz_util.h"

static replay_shard_t *shard;
static uint32_t magic, version;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char err[512], path[600];
    replay_shard_config_t c = fuzz_shard_config();
    shard = replay_shard_new(&c, err, sizeof err);
    if (!shard) abort();
    if (replay_shard_save(shard, fuzz_dir(), err, sizeof err) != 0) abort();
    replay_shard_checkpoint_path(shard, fuzz_dir(), path, sizeof path);
    fuzz_ckpt_kind(path, &magic, &version);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    if (len < 1) return 0;
    char path[600], err[512] = "";
    replay_shard_checkpoint_path(shard, fuzz_dir(), path, sizeof path);
    if (data[0] & 1)
        fuzz_write_ckpt(path, magic, version, data + 1, len - 1);
    else
        fuzz_write(path, data + 1, len - 1);
    int rc = replay_shard_load(shard, fuzz_dir(), err, sizeof err);
    if (rc < 0 && !err[0]) abort();
    if (rc == 1 && replay_store_size_episodes(shard->store) > 0) {
        int B = 8;
        if (replay_shard_sample(shard, B, err, sizeof err) != 0) abort();
        Odac__ShardStats st;
        odac__shard_stats__init(&st);
        replay_shard_stats(shard, &st);
    }
    return 0;
}
