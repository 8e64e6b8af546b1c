/* learner_video: films the learner's evaluation policy through `odac eval` in a child process
 * (learner_video.h). A child, not this process, so that rendering and encoding never hold up the
 * updates, and the video is made by the same code as a user's `odac eval --video`. */
#include "learner_video.h"
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* 1 when PATH holds an executable ffmpeg, which odac eval --video pipes its frames into. */
static int have_ffmpeg(void) {
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        char candidate[LEARNER_VIDEO_PATH_MAX];
        snprintf(candidate, sizeof candidate, "%.*s/ffmpeg", (int)(len ? len : 1),
                 len ? path : ".");
        if (access(candidate, X_OK) == 0) return 1;
        path += len;
        if (*path == ':') path++;
    }
    return 0;
}

int learner_video_init(learner_video_t *v, long long every, const char *run_path, char *err,
                       size_t errcap) {
    memset(v, 0, sizeof *v);
    v->every = every;
    if (every <= 0) return 0;
    char self[LEARNER_VIDEO_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        snprintf(err, errcap, "--video-every: cannot find this program (/proc/self/exe): %s",
                 strerror(errno));
        return -1;
    }
    self[n] = '\0';
    snprintf(v->program, sizeof v->program, "%.4000s/odac", dirname(self));
    if (access(v->program, X_OK) != 0) {
        snprintf(err, errcap,
                 "--video-every needs the odac program beside odac-learner: %.3000s: %s",
                 v->program, strerror(errno));
        return -1;
    }
    if (!have_ffmpeg()) {
        snprintf(err, errcap,
                 "--video-every needs the ffmpeg program on PATH (Debian's ffmpeg package; the "
                 "container image leaves it out: film its runs with odac eval --video elsewhere)");
        return -1;
    }
    snprintf(v->run_path, sizeof v->run_path, "%.4000s", run_path);
    snprintf(v->dir, sizeof v->dir, "%.4000s/videos", run_path);
    if (mkdir(v->dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errcap, "--video-every: cannot create %.3000s: %s", v->dir, strerror(errno));
        return -1;
    }
    return 0;
}

int learner_video_on_eval(learner_video_t *v) {
    if (v->every <= 0) return 0;
    v->evals++;
    return v->evals >= v->every && v->pid == 0;
}

int learner_video_start(learner_video_t *v, long long updates, char *err, size_t errcap) {
    char log_path[sizeof v->path];
    snprintf(v->path, sizeof v->path, "%s/update_%09lld.mp4", v->dir, updates);
    snprintf(log_path, sizeof log_path, "%s/update_%09lld.log", v->dir, updates);
    v->evals = 0;
    /* Every option of odac eval that matters is given, so ODAC_<NAME> variables meant for the
     * run's other processes cannot change what is filmed (but ODAC_MODELS_DIR still applies). */
    char video_arg[sizeof v->path + 16];
    snprintf(video_arg, sizeof video_arg, "--video=%s", v->path);
    char *argv[] = {v->program,
                    "eval",
                    v->run_path,
                    "--env=",
                    "--episodes=1",
                    "--seed=0",
                    "--goal-mode=fixed",
                    "--num-envs=1",
                    "--json=false",
                    "--frames=",
                    "--trace=",
                    video_arg,
                    NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawn(&v->pid, v->program, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        v->pid = 0;
        snprintf(err, errcap, "cannot start %s: %s", v->program, strerror(rc));
        return -1;
    }
    return 0;
}

void learner_video_poll(learner_video_t *v, int wait) {
    if (v->pid <= 0) return;
    int status = 0;
    pid_t got;
    do got = waitpid(v->pid, &status, wait ? 0 : WNOHANG);
    while (got < 0 && errno == EINTR);
    if (got == 0) return; /* still filming */
    v->pid = 0;
    if (got > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        v->written++;
        log_info("video of the evaluation policy: %s", v->path);
    } else {
        v->failed++;
        log_warn("video %s failed (%s %d); its log is beside it", v->path,
                 got > 0 && WIFSIGNALED(status) ? "signal" : "exit",
                 got > 0 ? (WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status)) : -1);
    }
}
