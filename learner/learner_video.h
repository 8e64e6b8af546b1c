/* learner_video: the learner has its evaluation policy filmed every N evaluations (--video-every,
 * off by default). The server saves its checkpoint, then a child process, the odac program beside
 * odac-learner running `odac eval RUN_DIR --episodes 1 --video RUN_DIR/videos/update_U.mp4`,
 * renders one deterministic episode of that policy on the fixed goal, exactly as `odac eval`
 * does, while the updates go on. One child at a time: evaluations that arrive while one runs
 * count towards the next video. */
#ifndef ODAC_LEARNER_VIDEO_H
#define ODAC_LEARNER_VIDEO_H

#include <stddef.h>
#include <sys/types.h>

#define LEARNER_VIDEO_PATH_MAX 4096

typedef struct {
    long long every;   /* evaluations between videos (0: off) */
    long long evals;   /* evaluations counted since the last video started */
    pid_t pid;         /* the child filming now (0: none) */
    long long written; /* videos finished well */
    long long failed;  /* children that exited non-zero */
    char program[LEARNER_VIDEO_PATH_MAX];
    char dir[LEARNER_VIDEO_PATH_MAX]; /* RUN_DIR/videos */
    char run_path[LEARNER_VIDEO_PATH_MAX];
    char path[LEARNER_VIDEO_PATH_MAX + 64]; /* the video being written */
} learner_video_t;

/* every 0: off (nothing is checked or created). Else finds the odac program beside this one and
 * creates RUN_PATH/videos. 0, or -1 with a message. */
int learner_video_init(learner_video_t *v, long long every, const char *run_path, char *err,
                       size_t errcap);
/* Counts one evaluation; 1 when a video is due and none is being made (the caller then saves its
 * checkpoint and calls learner_video_start). */
int learner_video_on_eval(learner_video_t *v);
/* Starts the child that films the checkpoint in RUN_PATH, named after updates. 0, or -1 with a
 * message (nothing is running then). */
int learner_video_start(learner_video_t *v, long long updates, char *err, size_t errcap);
/* Reaps a finished child and logs how it went; wait: block until it has finished. */
void learner_video_poll(learner_video_t *v, int wait);

#endif
