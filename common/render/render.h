/* render: pictures of an env's current state with its goal drawn as markers. MuJoCo envs are
 * drawn by MuJoCo's own renderer (mjv_/mjr_) into an offscreen framebuffer of an EGL context that
 * render_new creates on Mesa's surfaceless platform (no display or GPU needed; Debian's libmujoco
 * loads OpenGL at run time); box2d is drawn in 2-D (arena, obstacle, the path so far, goal,
 * robot). Frames are RGB, 3 bytes a pixel, top row first. Also a PNG writer (libpng) and a video
 * writer that pipes frames into the ffmpeg program (H.264 in an MP4). Not thread-safe. */
#ifndef ODAC_RENDER_H
#define ODAC_RENDER_H
#include <stddef.h>
#include <stdint.h>
#include "env.h"

typedef struct render render_t;

/* A renderer of width x height frames (even, 16..4096) for envs like env (its kind: MuJoCo
 * model assets are uploaded once; every env of the same kind can then be drawn). NULL with a
 * message (e.g. no EGL display: see the packages in deploy/setup.sh). */
render_t *render_new(env_t *env, int width, int height, char *err, size_t errcap);
void render_free(render_t *r); /* accepts NULL */
/* Draws env's current state and goal (goal_dim floats) into rgb (height * width * 3). path
 * (n_path points of the achieved goal so far, goal_dim floats each, may be NULL) is drawn by
 * box2d. 0, or -1 with a message. */
int render_frame(render_t *r, env_t *env, const float *goal, const float *path, int n_path,
                 uint8_t *rgb, char *err, size_t errcap);

/* Writes an RGB image as a PNG file. 0, or -1 with a message. */
int render_write_png(const char *path, const uint8_t *rgb, int width, int height, char *err,
                     size_t errcap);

typedef struct render_video render_video_t;
/* Starts `ffmpeg` (found on PATH) encoding width x height RGB frames at fps into path. NULL
 * with a message when ffmpeg cannot be started. */
render_video_t *render_video_open(const char *path, int width, int height, int fps, char *err,
                                  size_t errcap);
int render_video_frame(render_video_t *v, const uint8_t *rgb, char *err, size_t errcap);
/* Ends the stream and waits for ffmpeg; 0 when it wrote the file, -1 with a message. Frees *v
 * and sets it to NULL (accepts NULL). */
int render_video_close(render_video_t **v, char *err, size_t errcap);

#endif
