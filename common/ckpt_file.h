/* ckpt_file: checkpoint files that are versioned, checksummed and written atomically.
 * A writer streams into "<path>.tmp", then commit fsyncs it and renames it over <path>, so the
 * previous good file is never touched before the new one is complete. A reader verifies kind,
 * version, length and checksum of the whole file before handing out a single byte.
 * Layout (container format 2, little-endian): u32 "ODCK", u32 container format (2), u32 kind
 * (magic), u32 kind version, u64 payload length, u64 XXH64 of the payload (seed 0, libxxhash),
 * payload. Files of container format 1 (before odac used XXH64: u32 kind, u32 version, u64 length,
 * u64 home-made hash) are recognised and refused with a message naming that format. */
#ifndef ODAC_CKPT_FILE_H
#define ODAC_CKPT_FILE_H
#include <stddef.h>
#include <stdint.h>

#define CKPT_CONTAINER_MAGIC 0x4b43444fu /* "ODCK" */
#define CKPT_CONTAINER_FORMAT 2u
#define CKPT_HEADER_BYTES 32
/* The largest payload a reader accepts (it reads the whole file into memory to verify it). */
#define CKPT_MAX_PAYLOAD_BYTES (64ull << 30)

typedef struct ckpt_writer ckpt_writer_t;
typedef struct ckpt_reader ckpt_reader_t;

/* Opens <path>.tmp for writing; NULL with a message on failure. magic names the file's kind. */
ckpt_writer_t *ckpt_writer_open(const char *path, uint32_t magic, uint32_t version, char *err,
                                size_t errcap);
/* Appends len bytes; 0 or -1 (the error is kept and reported by commit). */
int ckpt_writer_write(ckpt_writer_t *w, const void *data, size_t len);
/* Finishes the file, fsyncs, renames over path, fsyncs the directory; frees *w and sets it NULL.
 * 0, or -1 with a message (then <path> is untouched and the temp file removed). */
int ckpt_writer_commit(ckpt_writer_t **w, char *err, size_t errcap);
/* Discards a writer and its temp file; accepts NULL. */
void ckpt_writer_abort(ckpt_writer_t **w);

/* Opens and fully verifies a checkpoint; NULL with a message (missing, wrong kind or version,
 * older container format, truncated, checksum mismatch). A missing file sets *missing = 1 when
 * missing is non-NULL. */
ckpt_reader_t *ckpt_reader_open(const char *path, uint32_t magic, uint32_t version, int *missing,
                                char *err, size_t errcap);
/* Copies the next len bytes; -1 if fewer remain (a shorter payload than its reader expects). */
int ckpt_reader_read(ckpt_reader_t *r, void *out, size_t len);
/* Copies len bytes found offset bytes past the current position, without moving it; -1 if they
 * lie past the end. */
int ckpt_reader_peek(const ckpt_reader_t *r, size_t offset, void *out, size_t len);
size_t ckpt_reader_remaining(const ckpt_reader_t *r);
void ckpt_reader_close(ckpt_reader_t **r);

/* The checksum used in the files: XXH64 with seed 0 (exposed for tests and fuzz seeds). */
uint64_t ckpt_checksum(const void *data, size_t len);

/* ---- fault injection, for tests only ---- */
/* The points of a commit where a crash leaves a distinct state on disk. */
typedef enum {
    CKPT_AT_PAYLOAD_WRITTEN, /* <path>.tmp holds the payload, its header still zero */
    CKPT_AT_BEFORE_RENAME,   /* <path>.tmp complete and fsynced, <path> still the old file */
    CKPT_AT_AFTER_RENAME,    /* <path> is the new file, the directory not yet fsynced */
} ckpt_point_t;
/* Installs a function every commit calls at each point (NULL removes it). A test's hook may
 * _exit() to simulate a crash there, or stall. Process-wide, inherited by fork. */
typedef void (*ckpt_hook_fn)(ckpt_point_t point, const char *path);
void ckpt_file_set_hook(ckpt_hook_fn hook);

#endif
