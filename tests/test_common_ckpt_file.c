/* Checkpoint files: round trip, streamed checksum equals the one-shot checksum, and corrupt,
 * truncated, wrong-kind or wrong-version files are refused; an aborted write leaves the old file.
 */
#include "ckpt_file.h"
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC 0x54534554u /* "TEST" */

static char path[600];
static char err[512];

static void write_file(const uint8_t *data, size_t len, size_t chunk) {
    ckpt_writer_t *w = ckpt_writer_open(path, MAGIC, 3, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    for (size_t off = 0; off < len; off += chunk)
        CU_ASSERT_EQUAL(ckpt_writer_write(w, data + off, off + chunk > len ? len - off : chunk), 0);
    CU_ASSERT_EQUAL(ckpt_writer_commit(&w, err, sizeof err), 0);
    CU_ASSERT_PTR_NULL(w);
}

static void fill(uint8_t *data, size_t len, unsigned seed) {
    for (size_t i = 0; i < len; i++) data[i] = (uint8_t)((i * 131u + seed * 7u) ^ (i >> 5));
}

static void test_round_trip_any_chunking(void) {
    uint8_t data[1000], back[1000];
    fill(data, sizeof data, 1);
    size_t chunks[] = {1, 3, 8, 13, 1000};
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        write_file(data, sizeof data, chunks[c]);
        ckpt_reader_t *r = ckpt_reader_open(path, MAGIC, 3, NULL, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CU_ASSERT_EQUAL(ckpt_reader_remaining(r), sizeof data);
        CU_ASSERT_EQUAL(ckpt_reader_read(r, back, sizeof back), 0);
        CU_ASSERT_EQUAL(memcmp(data, back, sizeof data), 0);
        CU_ASSERT_EQUAL(ckpt_reader_read(r, back, 1), -1); /* nothing past the end */
        ckpt_reader_close(&r);
        CU_ASSERT_PTR_NULL(r);
    }
}

static void flip_byte(long offset) {
    FILE *f = fopen(path, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, offset, SEEK_SET);
    int c = fgetc(f);
    fseek(f, offset, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
}

static void test_refuses_bad_files(void) {
    uint8_t data[256];
    fill(data, sizeof data, 2);
    int missing = 0;
    char missing_path[700];
    snprintf(missing_path, sizeof missing_path, "%s.absent", path);
    CU_ASSERT_PTR_NULL(ckpt_reader_open(missing_path, MAGIC, 3, &missing, err, sizeof err));
    CU_ASSERT_EQUAL(missing, 1);

    write_file(data, sizeof data, 256);
    CU_ASSERT_PTR_NULL(ckpt_reader_open(path, MAGIC + 1, 3, &missing, err, sizeof err));
    CU_ASSERT_EQUAL(missing, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not this kind"));
    CU_ASSERT_PTR_NULL(ckpt_reader_open(path, MAGIC, 4, NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "version"));

    flip_byte(24 + 100); /* payload byte */
    CU_ASSERT_PTR_NULL(ckpt_reader_open(path, MAGIC, 3, NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "checksum"));

    write_file(data, sizeof data, 256);
    CU_ASSERT_EQUAL(truncate(path, 24 + 200), 0);
    CU_ASSERT_PTR_NULL(ckpt_reader_open(path, MAGIC, 3, NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "truncated"));
    CU_ASSERT_EQUAL(truncate(path, 10), 0);
    CU_ASSERT_PTR_NULL(ckpt_reader_open(path, MAGIC, 3, NULL, err, sizeof err));
}

static void test_abort_keeps_previous_file(void) {
    uint8_t old_data[64], new_data[64], back[64];
    fill(old_data, sizeof old_data, 3);
    fill(new_data, sizeof new_data, 4);
    write_file(old_data, sizeof old_data, 64);
    ckpt_writer_t *w = ckpt_writer_open(path, MAGIC, 3, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    ckpt_writer_write(w, new_data, 32); /* a crash here must not touch the old file */
    ckpt_writer_abort(&w);
    ckpt_reader_t *r = ckpt_reader_open(path, MAGIC, 3, NULL, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(ckpt_reader_read(r, back, sizeof back), 0);
    CU_ASSERT_EQUAL(memcmp(back, old_data, sizeof back), 0);
    ckpt_reader_close(&r);
}

int main(void) {
    snprintf(path, sizeof path, "%s/file.ckpt", test_tmpdir("ckpt"));
    const test_case_t cases[] = {
        {"round trip with any chunking", test_round_trip_any_chunking},
        {"refuses missing, foreign, corrupt, truncated", test_refuses_bad_files},
        {"abort keeps the previous file", test_abort_keeps_previous_file},
        {NULL, NULL}};
    return test_run_suite("ckpt_file", cases);
}
