/* Checkpoint files: round trip, the checksum is XXH64 (published test vectors) and the streamed
 * one in the header equals the one-shot one; corrupt, truncated, wrong-kind, wrong-version and
 * format-1 files are refused; an aborted write, or a crash at any point of a commit, leaves either
 * the old file or the new one, whole. */
#include "ckpt_file.h"
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

    flip_byte(CKPT_HEADER_BYTES + 100); /* payload byte */
    CU_ASSERT_PTR_NULL(ckpt_reader_open(path, MAGIC, 3, NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "checksum"));

    write_file(data, sizeof data, 256);
    CU_ASSERT_EQUAL(truncate(path, CKPT_HEADER_BYTES + 200), 0);
    CU_ASSERT_PTR_NULL(ckpt_reader_open(path, MAGIC, 3, NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "truncated"));
    CU_ASSERT_EQUAL(truncate(path, 10), 0);
    CU_ASSERT_PTR_NULL(ckpt_reader_open(path, MAGIC, 3, NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "truncated"));

    /* A length field larger than the file (and than any payload we accept). */
    write_file(data, sizeof data, 256);
    FILE *f = fopen(path, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 16, SEEK_SET);
    uint8_t huge[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    fwrite(huge, 1, sizeof huge, f);
    fclose(f);
    CU_ASSERT_PTR_NULL(ckpt_reader_open(path, MAGIC, 3, NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "truncated or padded"));
}

/* XXH64 with seed 0 against values published for the reference implementation (ClickHouse's
 * xxHash64 tests, tests/queries/0_stateless/00803_xxhash.sql, which agree with xxhsum -H1). */
static void test_checksum_is_xxh64(void) {
    CU_ASSERT_EQUAL(ckpt_checksum("", 0), 0xef46db3751d8e999ull);
    CU_ASSERT_EQUAL(ckpt_checksum("ABC", 3), 0xe66ae7354fcfee98ull);
    CU_ASSERT_EQUAL(ckpt_checksum("xxhash", 6), 0x32dd38952c4bc720ull);
    /* The header holds the checksum streamed over uneven writes, equal to the one-shot one. */
    uint8_t data[5000];
    fill(data, sizeof data, 9);
    write_file(data, sizeof data, 37);
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    uint8_t header[CKPT_HEADER_BYTES];
    CU_ASSERT_EQUAL(fread(header, 1, sizeof header, f), sizeof header);
    fclose(f);
    uint64_t stored = 0;
    for (int i = 7; i >= 0; i--) stored = (stored << 8) | header[24 + i];
    CU_ASSERT_EQUAL(stored, ckpt_checksum(data, sizeof data));
    uint32_t container = (uint32_t)header[0] | (uint32_t)header[1] << 8 |
                         (uint32_t)header[2] << 16 | (uint32_t)header[3] << 24;
    CU_ASSERT_EQUAL(container, CKPT_CONTAINER_MAGIC);
}

/* A file in the old layout (u32 kind first) is refused with a message naming that format. */
static void test_refuses_format_1(void) {
    uint8_t old[24 + 16] = {0};
    uint32_t magic = MAGIC, version = 3;
    uint64_t len = 16;
    memcpy(old, &magic, 4);
    memcpy(old + 4, &version, 4);
    memcpy(old + 8, &len, 8);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fwrite(old, 1, sizeof old, f);
    fclose(f);
    CU_ASSERT_PTR_NULL(ckpt_reader_open(path, MAGIC, 3, NULL, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "container format 1"));
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

static ckpt_point_t crash_point;

static void crash_hook(ckpt_point_t point, const char *p) {
    (void)p;
    if (point == crash_point) _exit(77);
}

/* Writes new_data in a child that dies at point; returns what the file holds afterwards (0: the
 * old payload, 1: the new one, -1: neither or unreadable). */
static int crash_during_commit(ckpt_point_t point, const uint8_t *old_data, const uint8_t *new_data,
                               size_t len) {
    write_file(old_data, len, len);
    pid_t pid = fork();
    if (pid == 0) {
        crash_point = point;
        ckpt_file_set_hook(crash_hook);
        ckpt_writer_t *w = ckpt_writer_open(path, MAGIC, 3, err, sizeof err);
        if (!w) _exit(1);
        ckpt_writer_write(w, new_data, len);
        ckpt_writer_commit(&w, err, sizeof err);
        _exit(0); /* the hook did not fire */
    }
    int status = 0;
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 77);
    uint8_t back[256];
    ckpt_reader_t *r = ckpt_reader_open(path, MAGIC, 3, NULL, err, sizeof err);
    if (!r) return -1;
    int which = -1;
    if (ckpt_reader_remaining(r) == len && ckpt_reader_read(r, back, len) == 0)
        which = !memcmp(back, old_data, len) ? 0 : !memcmp(back, new_data, len) ? 1 : -1;
    ckpt_reader_close(&r);
    return which;
}

static void test_crash_points(void) {
    uint8_t old_data[256], new_data[256];
    fill(old_data, sizeof old_data, 5);
    fill(new_data, sizeof new_data, 6);
    CU_ASSERT_EQUAL(crash_during_commit(CKPT_AT_PAYLOAD_WRITTEN, old_data, new_data, 256), 0);
    CU_ASSERT_EQUAL(crash_during_commit(CKPT_AT_BEFORE_RENAME, old_data, new_data, 256), 0);
    CU_ASSERT_EQUAL(crash_during_commit(CKPT_AT_AFTER_RENAME, old_data, new_data, 256), 1);
    /* The temp file a crash leaves behind is not a checkpoint and is overwritten next time. */
    write_file(new_data, sizeof new_data, 256);
    ckpt_reader_t *r = ckpt_reader_open(path, MAGIC, 3, NULL, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ckpt_reader_close(&r);
}

int main(void) {
    snprintf(path, sizeof path, "%s/file.ckpt", test_tmpdir("ckpt"));
    const test_case_t cases[] = {
        {"round trip with any chunking", test_round_trip_any_chunking},
        {"refuses missing, foreign, corrupt, truncated", test_refuses_bad_files},
        {"abort keeps the previous file", test_abort_keeps_previous_file},
        {"checksum is XXH64 (published vectors)", test_checksum_is_xxh64},
        {"refuses container format 1", test_refuses_format_1},
        {"a crash at any commit point leaves one whole file", test_crash_points},
        {NULL, NULL}};
    return test_run_suite("ckpt_file", cases);
}
