/* ckpt_file: temp file + fsync + rename for atomic checkpoints, verified on load. */
#include "ckpt_file.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_BYTES 24

struct ckpt_writer {
    char path[4096], tmp[4200];
    FILE *f;
    uint32_t magic, version;
    uint64_t len;
    uint64_t hash;
    uint8_t pending[8]; /* bytes not yet folded into the hash (hash works on 8-byte words) */
    int n_pending;
    int failed;
    char error[256];
};

struct ckpt_reader {
    uint8_t *data;
    size_t len, pos;
};

static const uint64_t HASH_SEED = 0x6f6461632d636b70ULL; /* "odac-ckp" */
static const uint64_t HASH_MUL = 0x9e3779b97f4a7c15ULL;

static inline uint64_t rotl64(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}
static inline uint64_t mix_word(uint64_t h, uint64_t w) {
    return rotl64(h ^ (w * HASH_MUL), 29) * 0xbf58476d1ce4e5b9ULL;
}

static uint64_t hash_finish(uint64_t h, const uint8_t *tail, int n, uint64_t total) {
    uint64_t w = 0;
    memcpy(&w, tail, (size_t)n);
    if (n) h = mix_word(h, w);
    h ^= total;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

uint64_t ckpt_checksum(const void *data, size_t len) {
    const uint8_t *p = data;
    uint64_t h = HASH_SEED;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = mix_word(h, w);
    }
    return hash_finish(h, p + i, (int)(len - i), len);
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
    uint8_t header[HEADER_BYTES] = {0};
    if (fwrite(header, 1, sizeof header, w->f) != sizeof header) w->failed = errno ? errno : EIO;
    w->magic = magic;
    w->version = version;
    w->hash = HASH_SEED;
    return w;
}

int ckpt_writer_write(ckpt_writer_t *w, const void *data, size_t len) {
    if (w->failed) return -1;
    if (len && fwrite(data, 1, len, w->f) != len) {
        w->failed = errno ? errno : EIO;
        return -1;
    }
    const uint8_t *p = data;
    w->len += len;
    while (len > 0 && w->n_pending > 0) { /* complete a partial word first */
        w->pending[w->n_pending++] = *p++;
        len--;
        if (w->n_pending == 8) {
            uint64_t word;
            memcpy(&word, w->pending, 8);
            w->hash = mix_word(w->hash, word);
            w->n_pending = 0;
        }
    }
    for (; len >= 8; len -= 8, p += 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        w->hash = mix_word(w->hash, word);
    }
    memcpy(w->pending + w->n_pending, p, len);
    w->n_pending += (int)len;
    return 0;
}

static void put_u32(uint8_t *p, uint32_t v) {
    memcpy(p, &v, 4);
}
static void put_u64(uint8_t *p, uint64_t v) {
    memcpy(p, &v, 8);
}

int ckpt_writer_commit(ckpt_writer_t **wp, char *err, size_t errcap) {
    ckpt_writer_t *w = *wp;
    *wp = NULL;
    int rc = -1;
    if (w->failed) {
        snprintf(err, errcap, "checkpoint %s: write failed: %s", w->tmp, strerror(w->failed));
        goto out;
    }
    uint8_t header[HEADER_BYTES];
    put_u32(header, w->magic);
    put_u32(header + 4, w->version);
    put_u64(header + 8, w->len);
    put_u64(header + 16, hash_finish(w->hash, w->pending, w->n_pending, w->len));
    if (fflush(w->f) != 0 || fseek(w->f, 0, SEEK_SET) != 0 ||
        fwrite(header, 1, sizeof header, w->f) != sizeof header || fflush(w->f) != 0 ||
        fsync(fileno(w->f)) != 0) {
        snprintf(err, errcap, "checkpoint %s: write/fsync failed: %s", w->tmp, strerror(errno));
        goto out;
    }
    if (fclose(w->f) != 0) {
        w->f = NULL;
        snprintf(err, errcap, "checkpoint %s: close failed: %s", w->tmp, strerror(errno));
        goto out;
    }
    w->f = NULL;
    if (rename(w->tmp, w->path) != 0) {
        snprintf(err, errcap, "checkpoint %s: rename failed: %s", w->path, strerror(errno));
        goto out;
    }
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
    uint8_t header[HEADER_BYTES];
    if (fread(header, 1, sizeof header, f) != sizeof header) {
        snprintf(err, errcap, "checkpoint %s: truncated header", path);
        goto fail;
    }
    uint32_t got_magic, got_version;
    uint64_t len, sum;
    memcpy(&got_magic, header, 4);
    memcpy(&got_version, header + 4, 4);
    memcpy(&len, header + 8, 8);
    memcpy(&sum, header + 16, 8);
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
    if (fstat(fileno(f), &st) != 0 || (uint64_t)st.st_size != HEADER_BYTES + len) {
        snprintf(err, errcap, "checkpoint %s: truncated or padded (%lld bytes, header says %llu)",
                 path, (long long)st.st_size, (unsigned long long)(HEADER_BYTES + len));
        goto fail;
    }
    r = calloc(1, sizeof *r);
    r->data = malloc(len ? len : 1);
    if (!r || !r->data) {
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
    memcpy(out, r->data + r->pos, len);
    r->pos += len;
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
