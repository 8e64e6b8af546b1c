/* ckpt_file: temp file + fsync + rename for atomic checkpoints, verified on load, checksummed
 * with libxxhash's XXH64 (used header-only through XXH_INLINE_ALL: no runtime library). */
#include "ckpt_file.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

struct ckpt_writer {
    char path[4096], tmp[4200];
    FILE *f;
    uint32_t magic, version;
    uint64_t len;
    XXH64_state_t hash;
    int failed;
};

struct ckpt_reader {
    uint8_t *data;
    size_t len, pos;
};

static ckpt_hook_fn hook;

void ckpt_file_set_hook(ckpt_hook_fn fn) {
    hook = fn;
}

static void at(ckpt_point_t point, const char *path) {
    if (hook) hook(point, path);
}

uint64_t ckpt_checksum(const void *data, size_t len) {
    return XXH64(data, len, 0);
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

ckpt_writer_t *ckpt_writer_open(const char *path, uint32_t magic, uint32_t version, char *err,
                                size_t errcap) {
    ckpt_writer_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errcap, "checkpoint %s: out of memory", path);
        return NULL;
    }
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        snprintf(err, errcap, "checkpoint %s: cannot create: %s", w->tmp, strerror(errno));
        free(w);
        return NULL;
    }
    setvbuf(w->f, NULL, _IOFBF, 1 << 20);
    uint8_t header[CKPT_HEADER_BYTES] = {0};
    if (fwrite(header, 1, sizeof header, w->f) != sizeof header) w->failed = errno ? errno : EIO;
    w->magic = magic;
    w->version = version;
    XXH64_reset(&w->hash, 0);
    return w;
}

int ckpt_writer_write(ckpt_writer_t *w, const void *data, size_t len) {
    if (w->failed) return -1;
    if (len == 0) return 0;
    if (fwrite(data, 1, len, w->f) != len) {
        w->failed = errno ? errno : EIO;
        return -1;
    }
    XXH64_update(&w->hash, data, len);
    w->len += len;
    return 0;
}

int ckpt_writer_commit(ckpt_writer_t **wp, char *err, size_t errcap) {
    ckpt_writer_t *w = *wp;
    *wp = NULL;
    int rc = -1;
    if (w->failed) {
        snprintf(err, errcap, "checkpoint %s: write failed: %s", w->tmp, strerror(w->failed));
        goto out;
    }
    if (fflush(w->f) != 0) {
        snprintf(err, errcap, "checkpoint %s: write failed: %s", w->tmp, strerror(errno));
        goto out;
    }
    at(CKPT_AT_PAYLOAD_WRITTEN, w->path);
    uint8_t header[CKPT_HEADER_BYTES];
    put_u32(header, CKPT_CONTAINER_MAGIC);
    put_u32(header + 4, CKPT_CONTAINER_FORMAT);
    put_u32(header + 8, w->magic);
    put_u32(header + 12, w->version);
    put_u64(header + 16, w->len);
    put_u64(header + 24, XXH64_digest(&w->hash));
    if (fseek(w->f, 0, SEEK_SET) != 0 || fwrite(header, 1, sizeof header, w->f) != sizeof header ||
        fflush(w->f) != 0 || fsync(fileno(w->f)) != 0) {
        snprintf(err, errcap, "checkpoint %s: write/fsync failed: %s", w->tmp, strerror(errno));
        goto out;
    }
    if (fclose(w->f) != 0) {
        w->f = NULL;
        snprintf(err, errcap, "checkpoint %s: close failed: %s", w->tmp, strerror(errno));
        goto out;
    }
    w->f = NULL;
    at(CKPT_AT_BEFORE_RENAME, w->path);
    if (rename(w->tmp, w->path) != 0) {
        snprintf(err, errcap, "checkpoint %s: rename failed: %s", w->path, strerror(errno));
        goto out;
    }
    at(CKPT_AT_AFTER_RENAME, w->path);
    /* Make the rename itself durable. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", w->path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    rc = 0;
out:
    if (w->f) fclose(w->f);
    if (rc != 0) unlink(w->tmp);
    free(w);
    return rc;
}

void ckpt_writer_abort(ckpt_writer_t **wp) {
    if (!wp || !*wp) return;
    ckpt_writer_t *w = *wp;
    if (w->f) fclose(w->f);
    unlink(w->tmp);
    free(w);
    *wp = NULL;
}

ckpt_reader_t *ckpt_reader_open(const char *path, uint32_t magic, uint32_t version, int *missing,
                                char *err, size_t errcap) {
    if (missing) *missing = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (missing && errno == ENOENT) *missing = 1;
        snprintf(err, errcap, "checkpoint %s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    ckpt_reader_t *r = NULL;
    uint8_t header[CKPT_HEADER_BYTES];
    size_t got = fread(header, 1, sizeof header, f);
    if (got >= 4 && get_u32(header) == magic) {
        snprintf(err, errcap,
                 "checkpoint %s: written by an older odac (checkpoint container format 1, its "
                 "own checksum); this build reads only container format %u (XXH64): not loaded",
                 path, CKPT_CONTAINER_FORMAT);
        goto fail;
    }
    if (got != sizeof header) {
        snprintf(err, errcap, "checkpoint %s: truncated header (%zu of %d bytes)", path, got,
                 CKPT_HEADER_BYTES);
        goto fail;
    }
    uint32_t container = get_u32(header), format = get_u32(header + 4);
    uint32_t got_magic = get_u32(header + 8), got_version = get_u32(header + 12);
    uint64_t len = get_u64(header + 16), sum = get_u64(header + 24);
    if (container != CKPT_CONTAINER_MAGIC) {
        snprintf(err, errcap, "checkpoint %s: not an odac checkpoint (starts %08x)", path,
                 container);
        goto fail;
    }
    if (format != CKPT_CONTAINER_FORMAT) {
        snprintf(err, errcap, "checkpoint %s: container format %u, this build reads %u", path,
                 format, CKPT_CONTAINER_FORMAT);
        goto fail;
    }
    if (got_magic != magic) {
        snprintf(err, errcap, "checkpoint %s: not this kind of checkpoint (magic %08x, want %08x)",
                 path, got_magic, magic);
        goto fail;
    }
    if (got_version != version) {
        snprintf(err, errcap, "checkpoint %s: format version %u, this build reads %u", path,
                 got_version, version);
        goto fail;
    }
    struct stat st;
    if (len > CKPT_MAX_PAYLOAD_BYTES || fstat(fileno(f), &st) != 0 ||
        (uint64_t)st.st_size != CKPT_HEADER_BYTES + len) {
        snprintf(err, errcap, "checkpoint %s: truncated or padded (%lld bytes, header says %llu)",
                 path, (long long)st.st_size, (unsigned long long)len + CKPT_HEADER_BYTES);
        goto fail;
    }
    r = calloc(1, sizeof *r);
    if (!r || !(r->data = malloc(len ? len : 1))) {
        snprintf(err, errcap, "checkpoint %s: out of memory for %llu bytes", path,
                 (unsigned long long)len);
        goto fail;
    }
    r->len = len;
    if (fread(r->data, 1, len, f) != len) {
        snprintf(err, errcap, "checkpoint %s: read failed", path);
        goto fail;
    }
    if (ckpt_checksum(r->data, len) != sum) {
        snprintf(err, errcap, "checkpoint %s: checksum mismatch (file is corrupt)", path);
        goto fail;
    }
    fclose(f);
    return r;
fail:
    fclose(f);
    if (r) free(r->data);
    free(r);
    return NULL;
}

int ckpt_reader_read(ckpt_reader_t *r, void *out, size_t len) {
    if (len > r->len - r->pos) return -1;
    if (len) memcpy(out, r->data + r->pos, len);
    r->pos += len;
    return 0;
}

int ckpt_reader_peek(const ckpt_reader_t *r, size_t offset, void *out, size_t len) {
    size_t left = r->len - r->pos;
    if (offset > left || len > left - offset) return -1;
    if (len) memcpy(out, r->data + r->pos + offset, len);
    return 0;
}

size_t ckpt_reader_remaining(const ckpt_reader_t *r) {
    return r->len - r->pos;
}

void ckpt_reader_close(ckpt_reader_t **rp) {
    if (!rp || !*rp) return;
    free((*rp)->data);
    free(*rp);
    *rp = NULL;
}
