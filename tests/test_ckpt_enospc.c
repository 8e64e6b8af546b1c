/* test_ckpt_enospc: checkpoints on a full disk. A small tmpfs is mounted as the run directory
 * (needs root or CAP_SYS_ADMIN; otherwise the test says so and is skipped, exit 77); once a
 * filler file has taken every byte, a learner save and a replay shard's final save fail with the
 * system's reason (ENOSPC), leave no temp file, and the previous checkpoint still loads with its
 * old contents; the replay server still stops, its run returning -1 (odac-replay then exits 1);
 * freed space makes the next save succeed again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "learner_core.h"
#include "replay_server.h"
#include "replay_shard.h"
#include "testutil.h"

static char mnt[512], filler[600];

/* Fills the file system at mnt until a write fails with ENOSPC. */
static void fill_disk(void) {
    FILE *f = fopen(filler, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    setvbuf(f, NULL, _IONBF, 0);
    static char block[4096];
    int full = 0;
    for (int i = 0; i < 1 << 20 && !full; i++)
        full = fwrite(block, 1, sizeof block, f) != sizeof block;
    int e = errno;
    for (int k = 0; k < 4096 && fwrite(block, 1, 1, f) == 1; k++) { /* the last bytes too */
    }
    fclose(f);
    CU_ASSERT_FATAL(full);
    CU_ASSERT_EQUAL(e, ENOSPC);
}

static void free_disk(void) {
    unlink(filler);
}

static learner_config_t small_learner(void) {
    learner_config_t c;
    learner_config_default(&c);
    c.obs_dim = 4, c.goal_dim = 2, c.action_dim = 2;
    c.policy_hidden[0] = 16, c.n_policy_hidden = 1;
    c.critic_hidden[0] = 16, c.n_critic_hidden = 1;
    c.model_hidden[0] = 8, c.n_model_hidden = 1;
    c.seed = 1;
    return c;
}

static void test_learner_save_on_full_disk(void) {
    learner_config_t c = small_learner();
    char err[1024], path[600], tmp[620];
    snprintf(path, sizeof path, "%s/learner.ckpt", mnt);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    learner_t *a = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    long long rec = 111;
    CU_ASSERT_EQUAL_FATAL(learner_save_with(a, path, &rec, sizeof rec, err, sizeof err), 0);
    fill_disk();
    rec = 222;
    CU_ASSERT_EQUAL(learner_save_with(a, path, &rec, sizeof rec, err, sizeof err), -1);
    printf("\n    full disk: %s ", err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, strerror(ENOSPC)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "previous file kept"));
    CU_ASSERT(access(tmp, F_OK) != 0);
    learner_t *b = learner_new(&c, err, sizeof err);
    long long back = 0;
    CU_ASSERT_EQUAL(learner_load_with(b, path, &back, sizeof back, err, sizeof err), 0);
    CU_ASSERT_EQUAL(back, 111);
    free_disk();
    CU_ASSERT_EQUAL(learner_save_with(a, path, &rec, sizeof rec, err, sizeof err), 0);
    CU_ASSERT_EQUAL(learner_load_with(b, path, &back, sizeof back, err, sizeof err), 0);
    CU_ASSERT_EQUAL(back, 222);
    learner_free(a);
    learner_free(b);
    unlink(path);
}

static void insert_episode(replay_shard_t *s, int e) {
    enum { T = 5 };
    float obs[(T + 1) * 4], ag[(T + 1) * 2], act[T * 2], goal[2] = {1, 2};
    for (int i = 0; i < (T + 1) * 4; i++) obs[i] = (float)(e + i);
    for (int i = 0; i < (T + 1) * 2; i++) ag[i] = (float)(e - i);
    for (int i = 0; i < T * 2; i++) act[i] = 0.1f * (float)i;
    Odac__Episode ep;
    odac__episode__init(&ep);
    ep.protocol_version = WIRE_PROTOCOL_VERSION;
    ep.env_name = "box2d";
    ep.length = T;
    ep.n_observations = (T + 1) * 4, ep.observations = obs;
    ep.n_achieved_goals = (T + 1) * 2, ep.achieved_goals = ag;
    ep.n_actions = T * 2, ep.actions = act;
    ep.n_desired_goal = 2, ep.desired_goal = goal;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(replay_shard_insert(s, &ep, err, sizeof err), 0);
}

static void test_replay_stop_on_full_disk(void) {
    replay_server_config_t cfg;
    replay_server_config_defaults(&cfg);
    memset(&cfg.shard, 0, sizeof cfg.shard);
    snprintf(cfg.shard.dims.env_name, sizeof cfg.shard.dims.env_name, "box2d");
    cfg.shard.dims.obs_dim = 4, cfg.shard.dims.goal_dim = 2, cfg.shard.dims.action_dim = 2;
    cfg.shard.dims.horizon = 8;
    cfg.shard.capacity = 1000, cfg.shard.min_size = 1, cfg.shard.samples_per_insert = 4;
    cfg.shard.future_p = 0.8f, cfg.shard.seed = 3, cfg.shard.max_batch = 16;
    snprintf(cfg.insert_bind, sizeof cfg.insert_bind, "inproc://enospc-insert");
    snprintf(cfg.sample_bind, sizeof cfg.sample_bind, "inproc://enospc-sample");
    snprintf(cfg.checkpoint_dir, sizeof cfg.checkpoint_dir, "%s/replay", mnt);
    cfg.checkpoint_every_s = 0;
    cfg.stats_every_s = 0;
    char err[1024];
    replay_server_t *s = replay_server_new(&cfg, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (int e = 0; e < 3; e++) insert_episode(replay_server_shard(s), e);
    CU_ASSERT_EQUAL_FATAL(
        replay_shard_save(replay_server_shard(s), cfg.checkpoint_dir, err, sizeof err), 0);
    for (int e = 3; e < 9; e++) insert_episode(replay_server_shard(s), e);
    fill_disk();
    replay_server_stop(s); /* asked before run: run writes its final save and returns */
    CU_ASSERT_EQUAL(replay_server_run(s), -1);
    replay_server_free(s);
    /* The checkpoint written before the disk filled is intact. */
    replay_shard_t *b = replay_shard_new(&cfg.shard, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(replay_shard_load(b, cfg.checkpoint_dir, err, sizeof err), 1);
    CU_ASSERT_EQUAL(replay_store_size_episodes(b->store), 3);
    char path[1024], tmp[1100];
    replay_shard_checkpoint_path(b, cfg.checkpoint_dir, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CU_ASSERT(access(tmp, F_OK) != 0);
    replay_shard_free(b);
    free_disk();
}

int main(void) {
    snprintf(mnt, sizeof mnt, "%s", test_tmpdir("enospc"));
    snprintf(filler, sizeof filler, "%s/filler", mnt);
    if (mount("odac-enospc", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") != 0) {
        printf("test_ckpt_enospc: SKIPPED: cannot mount a 1 MiB tmpfs at %s (%s); needs root or "
               "CAP_SYS_ADMIN (CI runs as root)\n",
               mnt, strerror(errno));
        return 77;
    }
    const test_case_t cases[] = {
        {"learner save on a full disk: reported, previous checkpoint kept",
         test_learner_save_on_full_disk},
        {"replay final save on a full disk: reported, stops, previous kept",
         test_replay_stop_on_full_disk},
        {NULL, NULL}};
    int rc = test_run_suite("ckpt_enospc", cases);
    if (umount2(mnt, MNT_DETACH) != 0) perror("umount");
    rmdir(mnt);
    return rc;
}
