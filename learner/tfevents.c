/* tfevents: TensorBoard event files in TensorFlow's record format (see tfevents.h). The one
 * idea: a record is framed in a buffer owned by the writer (length, its masked CRC32C, the packed
 * Event, its masked CRC32C) and written with one fwrite and a flush, so the file only ever grows
 * by whole records unless the process dies inside that write. */
#include "tfevents.h"
#include "tensorboard.pb-c.h"
#include <errno.h>
#include <fcntl.h>
#include <isa-l/crc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TFEVENTS_FILE_VERSION "brain.Event:2"
#define TFEVENTS_MAX_SCALARS 256

struct tfevents {
    FILE *f;
    char path[4096];
    uint8_t *buf; /* one framed record */
    size_t cap;
};

uint32_t tfevents_crc32c(const void *data, size_t n) {
    /* ISA-L's crc32_iscsi neither inverts the initial value nor the result; CRC32C does both. */
    uint32_t crc = ~0u;
    const unsigned char *p = data;
    while (n > 0) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
        crc = crc32_iscsi((unsigned char *)p, chunk, crc);
        p += chunk;
        n -= (size_t)chunk;
    }
    return ~crc;
}

uint32_t tfevents_masked_crc32c(const void *data, size_t n) {
    uint32_t crc = tfevents_crc32c(data, n);
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static int write_event(tfevents_t *w, const Tensorboard__Event *ev, char *err, size_t errcap) {
    size_t len = tensorboard__event__get_packed_size(ev);
    size_t need = 8 + 4 + len + 4;
    if (need > w->cap) {
        uint8_t *b = realloc(w->buf, need);
        if (!b) {
            snprintf(err, errcap, "%s: out of memory for a %zu-byte event", w->path, len);
            return -1;
        }
        w->buf = b;
        w->cap = need;
    }
    uint8_t *p = w->buf;
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)((uint64_t)len >> (8 * i));
    put_le32(p + 8, tfevents_masked_crc32c(p, 8));
    tensorboard__event__pack(ev, p + 12);
    put_le32(p + 12 + len, tfevents_masked_crc32c(p + 12, len));
    if (fwrite(p, 1, need, w->f) != need || fflush(w->f) != 0) {
        snprintf(err, errcap, "%s: write failed: %s", w->path, strerror(errno));
        clearerr(w->f);
        return -1;
    }
    return 0;
}

tfevents_t *tfevents_open(const char *dir, char *err, size_t errcap) {
    tfevents_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errcap, "tfevents: out of memory");
        return NULL;
    }
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    for (char *c = host; *c; c++)
        if (*c == '/') *c = '_';
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int fd = -1;
    for (int k = 0; k < 1000 && fd < 0; k++) {
        if (k == 0)
            snprintf(w->path, sizeof w->path, "%s/events.out.tfevents.%lld.%s", dir,
                     (long long)now.tv_sec, host);
        else
            snprintf(w->path, sizeof w->path, "%s/events.out.tfevents.%lld.%s.%d", dir,
                     (long long)now.tv_sec, host, k);
        fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0 || !(w->f = fdopen(fd, "w"))) {
        snprintf(err, errcap, "cannot create the event file %s: %s", w->path, strerror(errno));
        if (fd >= 0) close(fd);
        tfevents_close(&w);
        return NULL;
    }
    Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
    ev.wall_time = (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
    ev.what_case = TENSORBOARD__EVENT__WHAT_FILE_VERSION;
    ev.file_version = (char *)TFEVENTS_FILE_VERSION; /* packed, not modified */
    if (write_event(w, &ev, err, errcap) != 0) {
        tfevents_close(&w);
        return NULL;
    }
    return w;
}

const char *tfevents_path(const tfevents_t *w) {
    return w->path;
}

void tfevents_close(tfevents_t **w) {
    if (!w || !*w) return;
    if ((*w)->f) fclose((*w)->f);
    free((*w)->buf);
    free(*w);
    *w = NULL;
}

int tfevents_write_scalars(tfevents_t *w, int64_t step, double wall_time, const char *const *tags,
                           const float *values, int n, char *err, size_t errcap) {
    if (n < 0 || n > TFEVENTS_MAX_SCALARS) {
        snprintf(err, errcap, "tfevents: %d scalars in one event (at most %d)", n,
                 TFEVENTS_MAX_SCALARS);
        return -1;
    }
    Tensorboard__Summary__Value vals[TFEVENTS_MAX_SCALARS], *ptrs[TFEVENTS_MAX_SCALARS];
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(values[i])) continue;
        tensorboard__summary__value__init(&vals[k]);
        vals[k].tag = (char *)tags[i]; /* packed, not modified */
        vals[k].value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_SIMPLE_VALUE;
        vals[k].simple_value = values[i];
        ptrs[k] = &vals[k];
        k++;
    }
    Tensorboard__Summary sum = TENSORBOARD__SUMMARY__INIT;
    sum.n_value = (size_t)k;
    sum.value = ptrs;
    Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
    ev.wall_time = wall_time;
    ev.step = step;
    ev.what_case = TENSORBOARD__EVENT__WHAT_SUMMARY;
    ev.summary = &sum;
    return write_event(w, &ev, err, errcap);
}

int tfevents_write_session_start(tfevents_t *w, int64_t step, double wall_time, char *err,
                                 size_t errcap) {
    Tensorboard__SessionLog log = TENSORBOARD__SESSION_LOG__INIT;
    log.status = TENSORBOARD__SESSION_LOG__SESSION_STATUS__START;
    Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
    ev.wall_time = wall_time;
    ev.step = step;
    ev.what_case = TENSORBOARD__EVENT__WHAT_SESSION_LOG;
    ev.session_log = &log;
    return write_event(w, &ev, err, errcap);
}
