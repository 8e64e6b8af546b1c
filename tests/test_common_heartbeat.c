/* heartbeat: disabled with no path; the first beat creates the file; later beats within the
 * period do not touch it again. */
#include "heartbeat.h"
#include "testutil.h"
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_beats(void) {
    heartbeat_t hb;
    heartbeat_init(&hb, NULL);
    CU_ASSERT_EQUAL(heartbeat_beat(&hb), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/beat", test_tmpdir("heartbeat"));
    heartbeat_init(&hb, path);
    CU_ASSERT_EQUAL(heartbeat_beat(&hb), 0);
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(unlink(path), 0);
    CU_ASSERT_EQUAL(heartbeat_beat(&hb), 0); /* within the period: no touch */
    CU_ASSERT_NOT_EQUAL(stat(path, &st), 0);
    hb.last_s -= 2 * HEARTBEAT_PERIOD_S; /* as if the period had passed */
    CU_ASSERT_EQUAL(heartbeat_beat(&hb), 0);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    heartbeat_init(&hb, "/nonexistent-dir/beat");
    CU_ASSERT_EQUAL(heartbeat_beat(&hb), -1);
}

int main(void) {
    const test_case_t cases[] = {{"beats", test_beats}, {NULL, NULL}};
    return test_run_suite("heartbeat", cases);
}
