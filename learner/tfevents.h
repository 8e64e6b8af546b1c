/* tfevents: a TensorBoard event file writer (runs/<run-id>/events.out.tfevents.<time>.<host>).
 * The file is TensorFlow's record format: per record a little-endian uint64 length, the masked
 * CRC32C of those 8 bytes, the serialized Event (proto/tensorboard.proto), the masked CRC32C of
 * the Event; masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8. The first record holds the file
 * version; each call then appends one Event and flushes it, so TensorBoard sees rows as they come
 * and a crash leaves at most a torn last record (which readers skip). CRC32C is ISA-L's
 * (crc32_iscsi, Debian's libisal). Every file is new (never appended to or truncated), so a
 * resumed run leaves the files of its earlier runs as they were. */
#ifndef ODAC_TFEVENTS_H
#define ODAC_TFEVENTS_H
#include <stddef.h>
#include <stdint.h>

typedef struct tfevents tfevents_t;

/* Creates a new event file in dir (events.out.tfevents.<unix seconds>.<hostname>, with a suffix
 * .1, .2, ... when that name exists) and writes its file_version record. NULL with a message.
 * tfevents_path gives the file's path. */
tfevents_t *tfevents_open(const char *dir, char *err, size_t errcap);
const char *tfevents_path(const tfevents_t *w);
/* Closes the file and frees w (accepts NULL and *w NULL; sets *w to NULL). */
void tfevents_close(tfevents_t **w);

/* One Event holding n scalars (tag[i], value[i]) at step, wall_time in seconds since the epoch;
 * non-finite values are left out (TensorBoard draws no point there). 0, or -1 with a message
 * (the record was not written completely). */
int tfevents_write_scalars(tfevents_t *w, int64_t step, double wall_time, const char *const *tags,
                           const float *values, int n, char *err, size_t errcap);
/* A SessionLog START at step: TensorBoard then discards what earlier files of the run hold for
 * later steps (a resumed run redoes them). 0, or -1 with a message. */
int tfevents_write_session_start(tfevents_t *w, int64_t step, double wall_time, char *err,
                                 size_t errcap);

/* CRC32C (Castagnoli, as iSCSI and TensorFlow use it) of n bytes, and its masked form. */
uint32_t tfevents_crc32c(const void *data, size_t n);
uint32_t tfevents_masked_crc32c(const void *data, size_t n);

#endif
