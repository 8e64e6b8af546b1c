/* fuzz_ckpt_file: libFuzzer harness for the checkpoint container reader (common/ckpt_file.c):
 * any bytes as a whole file on disk, opened as kind FUZZ_MAGIC version 1 and, when accepted,
 * read back in chunks whose sizes come from the payload's first bytes. */
#include "fuzz_util.h"

#define FUZZ_MAGIC 0x5a5a5546u /* "FUZZ" */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/file.ckpt", fuzz_dir());
    fuzz_write(path, data, len);
    int missing = -1;
    ckpt_reader_t *r = ckpt_reader_open(path, FUZZ_MAGIC, 1, &missing, err, sizeof err);
    if (!r) {
        if (missing != 0 || !err[0]) abort(); /* the file exists; a refusal says why */
        return 0;
    }
    uint8_t buf[256];
    size_t total = ckpt_reader_remaining(r);
    if (len < CKPT_HEADER_BYTES || total != len - CKPT_HEADER_BYTES) abort();
    for (size_t i = 0; ckpt_reader_remaining(r) > 0; i++) {
        size_t k = 1 + (i < len ? data[CKPT_HEADER_BYTES + (i % (total ? total : 1)) % len] : 7);
        if (k > ckpt_reader_remaining(r)) k = ckpt_reader_remaining(r);
        if (ckpt_reader_peek(r, 0, buf, k) != 0 || ckpt_reader_read(r, buf, k) != 0) abort();
    }
    if (ckpt_reader_read(r, buf, 1) != -1 || ckpt_reader_peek(r, 0, buf, 1) != -1) abort();
    ckpt_reader_close(&r);
    return 0;
}
