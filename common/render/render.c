/* render: frames of envs (see render.h). The one idea: one offscreen EGL context per renderer
 * (Mesa's surfaceless platform, so the same code serves a desktop, a container and a CI machine
 * without a display), MuJoCo's scene built from whichever env of the kind is drawn, the goal
 * added to that scene as marker spheres before mjr_render; box2d needs no OpenGL at all. */
#include "render.h"
#include "env_internal.h"
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mujoco/mujoco.h>
#include <png.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct render {
    int width, height;
    char env_name[ENV_NAME_MAX];
    /* MuJoCo envs only */
    EGLDisplay display;
    EGLContext context;
    int mujoco;
    mjvScene scene;
    mjvCamera camera;
    mjvOption option;
    mjrContext con;
    uint8_t *flipped; /* (height, width, 3) as OpenGL reads it, bottom row first */
};

/* The EGL display is opened once per process and never terminated: terminating it unloads
 * Mesa's driver, whose allocations then look leaked to LeakSanitizer. */
static EGLDisplay g_display = EGL_NO_DISPLAY;

static int egl_open(render_t *r, char *err, size_t errcap) {
    if (g_display != EGL_NO_DISPLAY) {
        r->display = g_display;
        goto have_display;
    }
    PFNEGLGETPLATFORMDISPLAYEXTPROC get_display =
        (PFNEGLGETPLATFORMDISPLAYEXTPROC)eglGetProcAddress("eglGetPlatformDisplayEXT");
    r->display = get_display ? get_display(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, NULL)
                             : EGL_NO_DISPLAY;
    if (r->display == EGL_NO_DISPLAY) r->display = eglGetDisplay(EGL_DEFAULT_DISPLAY);
    EGLint major, minor;
    if (r->display == EGL_NO_DISPLAY || !eglInitialize(r->display, &major, &minor)) {
        snprintf(err, errcap,
                 "render: no EGL display (error 0x%x; Debian: libegl1 libegl-mesa0 "
                 "libgl1-mesa-dri)",
                 (unsigned)eglGetError());
        r->display = EGL_NO_DISPLAY;
        return -1;
    }
    g_display = r->display;
have_display:;
    /* 8-bit colour and a depth buffer (MuJoCo's offscreen framebuffer is its own; the config
     * only has to allow an OpenGL context). */
    const EGLint want[] = {EGL_SURFACE_TYPE,
                           EGL_PBUFFER_BIT,
                           EGL_RED_SIZE,
                           8,
                           EGL_GREEN_SIZE,
                           8,
                           EGL_BLUE_SIZE,
                           8,
                           EGL_DEPTH_SIZE,
                           24,
                           EGL_RENDERABLE_TYPE,
                           EGL_OPENGL_BIT,
                           EGL_NONE};
    EGLConfig config;
    EGLint n = 0;
    if (!eglChooseConfig(r->display, want, &config, 1, &n) || n < 1 ||
        !eglBindAPI(EGL_OPENGL_API)) {
        snprintf(err, errcap, "render: EGL has no OpenGL config (error 0x%x)",
                 (unsigned)eglGetError());
        return -1;
    }
    r->context = eglCreateContext(r->display, config, EGL_NO_CONTEXT, NULL);
    if (r->context == EGL_NO_CONTEXT ||
        !eglMakeCurrent(r->display, EGL_NO_SURFACE, EGL_NO_SURFACE, r->context)) {
        snprintf(err, errcap, "render: cannot make an OpenGL context current (EGL error 0x%x)",
                 (unsigned)eglGetError());
        return -1;
    }
    return 0;
}

render_t *render_new(env_t *env, int width, int height, char *err, size_t errcap) {
    if (width < 16 || height < 16 || width > 4096 || height > 4096 || width % 2 || height % 2) {
        snprintf(err, errcap, "render: frame size %dx%d (even, 16..4096 each)", width, height);
        return NULL;
    }
    render_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errcap, "render: out of memory");
        return NULL;
    }
    r->width = width;
    r->height = height;
    r->display = EGL_NO_DISPLAY;
    r->context = EGL_NO_CONTEXT;
    snprintf(r->env_name, sizeof r->env_name, "%s", env_spec(env)->name);
    env_mj_t *mj = env_mj_of(env);
    if (!mj) return r; /* box2d: drawn in 2-D */
    r->flipped = malloc((size_t)width * height * 3);
    if (!r->flipped) {
        snprintf(err, errcap, "render: out of memory");
        render_free(r);
        return NULL;
    }
    if (egl_open(r, err, errcap) != 0) {
        render_free(r);
        return NULL;
    }
    mjModel *m = mj->model;
    m->vis.global.offwidth = width; /* the offscreen buffer mjr_makeContext allocates */
    m->vis.global.offheight = height;
    mjv_defaultScene(&r->scene);
    mjv_defaultCamera(&r->camera);
    mjv_defaultOption(&r->option);
    mjr_defaultContext(&r->con);
    mjv_makeScene(m, &r->scene, 4000);
    mjr_makeContext(m, &r->con, mjFONTSCALE_100);
    mjr_setBuffer(mjFB_OFFSCREEN, &r->con);
    r->mujoco = 1;
    if (r->con.offWidth < width || r->con.offHeight < height) {
        snprintf(err, errcap, "render: offscreen buffer %dx%d, asked %dx%d", r->con.offWidth,
                 r->con.offHeight, width, height);
        render_free(r);
        return NULL;
    }
    mjv_defaultFreeCamera(m, &r->camera); /* aimed in draw_mujoco */
    r->camera.azimuth = 150;
    r->camera.elevation = -35;
    return r;
}

void render_free(render_t *r) {
    if (!r) return;
    if (r->mujoco) {
        mjr_freeContext(&r->con);
        mjv_freeScene(&r->scene);
    }
    if (r->display != EGL_NO_DISPLAY) {
        eglMakeCurrent(r->display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
        if (r->context != EGL_NO_CONTEXT) eglDestroyContext(r->display, r->context);
    }
    free(r->flipped);
    free(r);
}

/* ---- box2d in 2-D ---- */

typedef struct {
    uint8_t *rgb;
    int w, h;
    double scale, cx, cy; /* pixels per unit, image centre */
} canvas_t;

static void to_px(const canvas_t *c, double x, double y, double *px, double *py) {
    *px = c->cx + x * c->scale;
    *py = c->cy - y * c->scale;
}

static void fill_rect(canvas_t *c, double x0, double y0, double x1, double y1, const uint8_t *col) {
    double ax, ay, bx, by;
    to_px(c, x0, y1, &ax, &ay);
    to_px(c, x1, y0, &bx, &by);
    for (int y = (int)fmax(0, ay); y < (int)fmin(c->h, by); y++)
        for (int x = (int)fmax(0, ax); x < (int)fmin(c->w, bx); x++)
            memcpy(c->rgb + ((size_t)y * c->w + x) * 3, col, 3);
}

/* A disc of radius r (world units), or a ring of that radius when ring > 0 (its width, px). */
static void disc(canvas_t *c, double x, double y, double r, double ring, const uint8_t *col) {
    double px, py, pr = r * c->scale;
    to_px(c, x, y, &px, &py);
    for (int yy = (int)fmax(0, py - pr - 1); yy <= (int)fmin(c->h - 1, py + pr + 1); yy++)
        for (int xx = (int)fmax(0, px - pr - 1); xx <= (int)fmin(c->w - 1, px + pr + 1); xx++) {
            double d = hypot(xx - px, yy - py);
            if (d <= pr && (ring <= 0 || d >= pr - ring))
                memcpy(c->rgb + ((size_t)yy * c->w + xx) * 3, col, 3);
        }
}

static void line(canvas_t *c, double x0, double y0, double x1, double y1, const uint8_t *col) {
    double len = hypot(x1 - x0, y1 - y0) * c->scale;
    int n = (int)len + 1;
    for (int i = 0; i <= n; i++) {
        double t = (double)i / n;
        disc(c, x0 + t * (x1 - x0), y0 + t * (y1 - y0), 1.2 / c->scale, 0, col);
    }
}

static void draw_box2d(render_t *r, env_t *env, const float *goal, const float *path, int n_path,
                       uint8_t *rgb) {
    static const uint8_t white[3] = {255, 255, 255}, wall[3] = {40, 40, 40},
                         obstacle[3] = {150, 150, 150}, trail[3] = {60, 110, 220},
                         robot[3] = {30, 160, 70}, target[3] = {220, 40, 40};
    canvas_t c = {
        rgb, r->width, r->height, fmin(r->width, r->height) / 9.4, r->width / 2.0, r->height / 2.0};
    memset(rgb, 0, (size_t)r->width * r->height * 3);
    fill_rect(&c, -4.6, -4.6, 4.6, 4.6, wall);  /* the arena's wall ... */
    fill_rect(&c, -4.5, -4.5, 4.5, 4.5, white); /* ... and the floor the disc covers */
    fill_rect(&c, -2, -2, 2, 2, obstacle);
    for (int k = 1; k < n_path; k++)
        line(&c, path[2 * (k - 1)], path[2 * (k - 1) + 1], path[2 * k], path[2 * k + 1], trail);
    if (n_path > 0) /* the robot where the path ends: a disc of radius 0.5 */
        disc(&c, path[2 * (n_path - 1)], path[2 * (n_path - 1) + 1], 0.5, 0, robot);
    float threshold = env_spec(env)->success_threshold;
    disc(&c, goal[0], goal[1], threshold, 2.0, target); /* success: the centre inside the ring */
    disc(&c, goal[0], goal[1], 0.08, 0, target);
}

/* ---- MuJoCo ---- */

/* The goal's points in the world: where the goal asks the torso, block, hand or object to be. */
static int goal_points(const render_t *r, const mjModel *m, const float *goal, int goal_dim,
                       double pts[2][3]) {
    if (!strcmp(r->env_name, "sawyer-push")) { /* (hand xy, puck xy) on the table */
        for (int k = 0; k < 2; k++)
            pts[k][0] = goal[2 * k], pts[k][1] = goal[2 * k + 1], pts[k][2] = m->stat.center[2];
        return 2;
    }
    int n = goal_dim >= 6 && strcmp(r->env_name, "ant") ? 2 : 1; /* window, faucet: two */
    for (int k = 0; k < n; k++)
        for (int i = 0; i < 3; i++) pts[k][i] = goal_dim >= 3 * (k + 1) ? goal[3 * k + i] : 0;
    return n;
}

static int draw_mujoco(render_t *r, env_t *env, const float *goal, uint8_t *rgb, char *err,
                       size_t errcap) {
    env_mj_t *mj = env_mj_of(env);
    if (!mj || strcmp(env_spec(env)->name, r->env_name) != 0) {
        snprintf(err, errcap, "render: made for %s, asked to draw %s", r->env_name,
                 env_spec(env)->name);
        return -1;
    }
    if (!eglMakeCurrent(r->display, EGL_NO_SURFACE, EGL_NO_SURFACE, r->context)) {
        snprintf(err, errcap, "render: EGL context lost (0x%x)", (unsigned)eglGetError());
        return -1;
    }
    mjModel *m = mj->model;
    mjData *d = mj->data;
    mj_forward(m, d); /* positions of the current state for drawing */
    double pts[2][3];
    int n = goal_points(r, m, goal, env_spec(env)->goal_dim, pts);
    /* The arm tasks are looked at from 0.9 m around the goal's points (the hand and the object
     * stay near them); ant from far enough to see its torso and the goal's. */
    if (!strcmp(r->env_name, "ant")) {
        double dx = d->qpos[0] - pts[0][0], dy = d->qpos[1] - pts[0][1];
        r->camera.lookat[0] = (d->qpos[0] + pts[0][0]) / 2;
        r->camera.lookat[1] = (d->qpos[1] + pts[0][1]) / 2;
        r->camera.lookat[2] = 0.5;
        r->camera.distance = fmax(5.0, 1.6 * hypot(dx, dy));
    } else {
        for (int i = 0; i < 3; i++) r->camera.lookat[i] = (pts[0][i] + pts[n - 1][i]) / 2;
        r->camera.distance = 0.9;
    }
    mjv_updateScene(m, d, &r->option, NULL, &r->camera, mjCAT_ALL, &r->scene);
    static const float colors[2][4] = {{0.9f, 0.15f, 0.15f, 0.8f}, {0.15f, 0.3f, 0.95f, 0.8f}};
    for (int k = 0; k < n && r->scene.ngeom < r->scene.maxgeom; k++) {
        mjvGeom *g = r->scene.geoms + r->scene.ngeom++;
        mjtNum size[3] = {!strcmp(r->env_name, "ant") ? 0.25 : 0.02, 0, 0};
        mjtNum pos[3] = {pts[k][0], pts[k][1], pts[k][2]};
        mjv_initGeom(g, mjGEOM_SPHERE, size, pos, NULL, colors[k]);
        g->category = mjCAT_DECOR;
    }
    mjrRect viewport = {0, 0, r->width, r->height};
    mjr_render(viewport, &r->scene, &r->con);
    mjr_readPixels(r->flipped, NULL, viewport, &r->con);
    size_t row = (size_t)r->width * 3;
    for (int y = 0; y < r->height; y++)
        memcpy(rgb + (size_t)y * row, r->flipped + (size_t)(r->height - 1 - y) * row, row);
    return 0;
}

int render_frame(render_t *r, env_t *env, const float *goal, const float *path, int n_path,
                 uint8_t *rgb, char *err, size_t errcap) {
    if (!r->mujoco) {
        if (strcmp(env_spec(env)->name, "box2d") != 0) {
            snprintf(err, errcap, "render: made for box2d, asked to draw %s", env_spec(env)->name);
            return -1;
        }
        draw_box2d(r, env, goal, path, n_path, rgb);
        return 0;
    }
    return draw_mujoco(r, env, goal, rgb, err, errcap);
}

/* ---- PNG ---- */

int render_write_png(const char *path, const uint8_t *rgb, int width, int height, char *err,
                     size_t errcap) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errcap, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        snprintf(err, errcap, "cannot write %s: libpng failed", path);
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, rgb + (size_t)y * width * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0) {
        snprintf(err, errcap, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- video through ffmpeg ---- */

struct render_video {
    pid_t pid;
    int fd; /* ffmpeg's stdin */
    size_t frame_bytes;
    char path[1024];
};

render_video_t *render_video_open(const char *path, int width, int height, int fps, char *err,
                                  size_t errcap) {
    render_video_t *v = calloc(1, sizeof *v);
    if (!v) {
        snprintf(err, errcap, "video: out of memory");
        return NULL;
    }
    snprintf(v->path, sizeof v->path, "%s", path);
    v->frame_bytes = (size_t)width * height * 3;
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(err, errcap, "video: pipe: %s", strerror(errno));
        free(v);
        return NULL;
    }
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    char size[32], rate[16];
    snprintf(size, sizeof size, "%dx%d", width, height);
    snprintf(rate, sizeof rate, "%d", fps);
    char *argv[] = {"ffmpeg",   "-loglevel", "error",      "-nostdin", "-y",      "-f",
                    "rawvideo", "-pix_fmt",  "rgb24",      "-s",       size,      "-r",
                    rate,       "-i",        "pipe:0",     "-c:v",     "libx264", "-pix_fmt",
                    "yuv420p",  "-movflags", "+faststart", v->path,    NULL};
    /* -nostdin stops ffmpeg reading keys from the terminal; pipe:0 is still its input. */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    extern char **environ;
    int rc = posix_spawnp(&v->pid, "ffmpeg", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    if (rc != 0) {
        snprintf(err, errcap,
                 "video: cannot start ffmpeg: %s (Debian: apt-get install ffmpeg; --frames DIR "
                 "writes PNGs without it)",
                 strerror(rc));
        close(fds[1]);
        free(v);
        return NULL;
    }
    v->fd = fds[1];
    signal(SIGPIPE, SIG_IGN); /* an ffmpeg that died is reported by the write, not a signal */
    return v;
}

int render_video_frame(render_video_t *v, const uint8_t *rgb, char *err, size_t errcap) {
    size_t done = 0;
    while (done < v->frame_bytes) {
        ssize_t n = write(v->fd, rgb + done, v->frame_bytes - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            snprintf(err, errcap, "video %s: ffmpeg stopped reading: %s", v->path, strerror(errno));
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

int render_video_close(render_video_t **vp, char *err, size_t errcap) {
    if (!vp || !*vp) return 0;
    render_video_t *v = *vp;
    close(v->fd);
    int status = 0, rc = 0;
    while (waitpid(v->pid, &status, 0) < 0)
        if (errno != EINTR) {
            status = -1;
            break;
        }
    if (status != 0) {
        snprintf(err, errcap, "video %s: ffmpeg failed (status %d)", v->path, status);
        rc = -1;
    }
    free(v);
    *vp = NULL;
    return rc;
}
