/* ckpt_file: checkpoint files that are versioned, checksummed and written atomically.
 * A writer streams into "<path>.tmp", then commit fsyncs it and renames it over <path>, so the
 * previous good file is never touched before the new one is complete. A reader verifies kind,
 * version, length and checksum of the whole file before handing out a single byte.
 * Layout: u32 magic, u32 version, u64 payload length, u64 checksum, payload. */
#ifndef ODAC_CKPT_FILE_H
#define ODAC_CKPT_FILE_H
#include <stddef.h>
#include <stdint.h>

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
 * truncated, checksum mismatch). A missing file sets *missing = 1 when missing is non-NULL. */
ckpt_reader_t *ckpt_reader_open(const char *path, uint32_t magic, uint32_t version, int *missing,
                                char *err, size_t errcap);
/* Copies the next len bytes; -1 if fewer remain (a shorter payload than its reader expects). */
int ckpt_reader_read(ckpt_reader_t *r, void *out, size_t len);
size_t ckpt_reader_remaining(const ckpt_reader_t *r);
void ckpt_reader_close(ckpt_reader_t **r);

/* The checksum used in the files (64-bit, word-wise multiply-rotate hash), for tests. */
uint64_t ckpt_checksum(const void *data, size_t len);

#endif
