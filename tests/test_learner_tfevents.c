/* tfevents: the CRC32C against the published check values and an independent bitwise CRC; event
 * files read back by the independent reader of tests/tools/tfevents_read.c (framing, both CRCs,
 * protobuf-c decoding): the file version first, scalars bit-exact including 0 and negatives,
 * non-finite values left out, the session start; a second file in the same second gets its own
 * name and leaves the first byte-identical; a directory that does not exist is refused. */
#define TFEVENTS_READ_NO_MAIN
#include "tools/tfevents_read.c"
#include "testutil.h"
#include "tfevents.h"
#include <dirent.h>
#include <sys/stat.h>

static void test_crc32c(void) {
    /* RFC 3720 B.4 and the usual check value of CRC-32C. */
    CU_ASSERT_EQUAL(tfevents_crc32c("123456789", 9), 0xe3069283u);
    uint8_t zeros[32] = {0}, ones[32];
    memset(ones, 0xff, sizeof ones);
    CU_ASSERT_EQUAL(tfevents_crc32c(zeros, sizeof zeros), 0x8a9136aau);
    CU_ASSERT_EQUAL(tfevents_crc32c(ones, sizeof ones), 0x62a8ab43u);
    CU_ASSERT_EQUAL(tfevents_crc32c("", 0), 0u);
    uint8_t buf[3000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
    for (size_t n = 0; n <= sizeof buf; n += 37) {
        CU_ASSERT_EQUAL(tfevents_crc32c(buf, n), tfr_crc32c(buf, n));
        CU_ASSERT_EQUAL(tfevents_masked_crc32c(buf, n), tfr_masked(buf, n));
    }
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_write_read(void) {
    const char *dir = test_tmpdir("tfevents");
    char err[512];
    tfevents_t *w = tfevents_open(dir, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_PTR_NOT_NULL(strstr(tfevents_path(w), "/events.out.tfevents."));
    const char *tags[] = {"zero", "loss", "missing", "tiny", "inf", "count"};
    const float values[] = {0.0f, 1.5f, NAN, -3.25e-5f, INFINITY, 16777216.0f};
    CU_ASSERT_EQUAL(tfevents_write_scalars(w, 100, 1.7e9, tags, values, 6, err, sizeof err), 0);
    CU_ASSERT_EQUAL(tfevents_write_session_start(w, 7, 1.7e9 + 1, err, sizeof err), 0);
    CU_ASSERT_EQUAL(tfevents_write_scalars(w, 0, 1.7e9 + 2, tags, values, 1, err, sizeof err), 0);
    char path[4096];
    snprintf(path, sizeof path, "%s", tfevents_path(w));
    tfevents_close(&w);
    CU_ASSERT_PTR_NULL(w);
    tfevents_close(&w); /* accepts NULL */

    static tfr_event_t ev[16];
    int n = 0;
    CU_ASSERT_EQUAL_FATAL(tfr_read_file(path, ev, &n, 16, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    CU_ASSERT_EQUAL(ev[0].kind, 0);
    CU_ASSERT_STRING_EQUAL(ev[0].version, "brain.Event:2");
    CU_ASSERT_EQUAL(ev[1].kind, 2);
    CU_ASSERT_EQUAL(ev[1].step, 100);
    CU_ASSERT_EQUAL_FATAL(ev[1].n, 4); /* NaN and inf left out */
    const char *want_tags[] = {"zero", "loss", "tiny", "count"};
    const float want[] = {0.0f, 1.5f, -3.25e-5f, 16777216.0f};
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_STRING_EQUAL(ev[1].tag[i], want_tags[i]);
        CU_ASSERT_EQUAL(memcmp(&ev[1].value[i], &want[i], sizeof(float)), 0);
    }
    CU_ASSERT_EQUAL(ev[2].kind, 1);
    CU_ASSERT_EQUAL(ev[2].step, 7);
    CU_ASSERT_EQUAL(ev[3].kind, 2);
    CU_ASSERT_EQUAL(ev[3].step, 0);
    CU_ASSERT_EQUAL(ev[3].n, 1);
    /* The purge rule of the reader: the start at 7 drops the step-100 scalars. */
    int keep[16];
    CU_ASSERT_EQUAL(tfr_effective(ev, n, keep), 1);
    CU_ASSERT_EQUAL(keep[0], 3);

    /* A flipped byte in the data is caught by the data CRC. */
    long size = file_size(path);
    FILE *f = fopen(path, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, size - 6, SEEK_SET);
    int c = fgetc(f);
    fseek(f, size - 6, SEEK_SET);
    fputc(c ^ 0x01, f);
    fclose(f);
    n = 0;
    CU_ASSERT_EQUAL(tfr_read_file(path, ev, &n, 16, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "data CRC mismatch"));
}

static void test_new_files(void) {
    const char *dir = test_tmpdir("tfevents-new");
    char err[512], first[4096];
    tfevents_t *a = tfevents_open(dir, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    const char *tag = "x";
    float one = 1.0f;
    CU_ASSERT_EQUAL(tfevents_write_scalars(a, 1, 1.0, &tag, &one, 1, err, sizeof err), 0);
    snprintf(first, sizeof first, "%s", tfevents_path(a));
    tfevents_close(&a);
    long before = file_size(first);
    /* Opened again at once (the same second, most likely): a new name, the first untouched. */
    tfevents_t *b = tfevents_open(dir, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_STRING_NOT_EQUAL(tfevents_path(b), first);
    CU_ASSERT_EQUAL(tfevents_write_scalars(b, 2, 2.0, &tag, &one, 1, err, sizeof err), 0);
    tfevents_close(&b);
    CU_ASSERT_EQUAL(file_size(first), before);
    int files = 0;
    DIR *d = opendir(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    for (struct dirent *e; (e = readdir(d));) files += strstr(e->d_name, "tfevents") != NULL;
    closedir(d);
    CU_ASSERT_EQUAL(files, 2);

    CU_ASSERT_PTR_NULL(tfevents_open("/nonexistent-dir/for-events", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot create the event file"));
    const char *tags[300];
    float vals[300];
    for (int i = 0; i < 300; i++) tags[i] = "t", vals[i] = 0;
    tfevents_t *c = tfevents_open(dir, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(tfevents_write_scalars(c, 0, 0, tags, vals, 300, err, sizeof err), -1);
    tfevents_close(&c);
}

/* The reader's CSV check: rows match their events; a changed cell is caught. */
static void test_csv_check(void) {
    const char *dir = test_tmpdir("tfevents-csv");
    char err[512], csv[4096];
    tfevents_t *w = tfevents_open(dir, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    const char *tags[] = {"updates", "loss", "eval"};
    const float row1[] = {100, strtof("0.12346", NULL), NAN}, row2[] = {250, -2, 0.5f};
    CU_ASSERT_EQUAL(tfevents_write_scalars(w, 100, 1, tags, row1, 3, err, sizeof err), 0);
    CU_ASSERT_EQUAL(tfevents_write_scalars(w, 250, 2, tags, row2, 3, err, sizeof err), 0);
    static tfr_event_t ev[8];
    int n = 0, keep[8];
    CU_ASSERT_EQUAL_FATAL(tfr_read_file(tfevents_path(w), ev, &n, 8, err, sizeof err), 0);
    tfevents_close(&w);
    int k = tfr_effective(ev, n, keep);
    snprintf(csv, sizeof csv, "%s/progress.csv", dir);
    FILE *f = fopen(csv, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("updates,loss,eval\n100,0.12346,nan\n250,-2,0.5000\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(tfr_check_csv(csv, ev, keep, k, err, sizeof err), 0);
    f = fopen(csv, "w");
    fputs("updates,loss,eval\n100,0.12347,nan\n250,-2,0.5000\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(tfr_check_csv(csv, ev, keep, k, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "column loss"));
}

int main(void) {
    const test_case_t cases[] = {{"crc32c", test_crc32c},
                                 {"write and read back", test_write_read},
                                 {"a new file per open", test_new_files},
                                 {"csv check", test_csv_check},
                                 {NULL, NULL}};
    return test_run_suite("tfevents", cases);
}
