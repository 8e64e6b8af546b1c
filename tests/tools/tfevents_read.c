/* tfevents-read: an independent reader of TensorBoard event files, for the tests. It checks the
 * record framing (uint64 length, masked CRC32C of the length, data, masked CRC32C of the data)
 * with its own bitwise CRC32C (not the writer's ISA-L), decodes each Event with protobuf-c and
 * prints one line per record:
 *   file_version VERSION
 *   session_start STEP
 *   scalars STEP TAG=VALUE ...      (VALUE with %.9g: the float exactly)
 * With --csv progress.csv it instead checks the files against the CSV: the scalar events of the
 * files in order, after TensorBoard's purge rule (a SessionLog START at step S drops the events
 * read before it with step >= S), must be the CSV's rows in order: step = the updates cell,
 * one scalar per column whose cell is not "nan", named as the column, equal to strtof(cell).
 * Exit 0 when everything checks, 1 with a message on the first problem.
 * Usage: tfevents-read [--csv progress.csv] FILE...
 * tests/test_learner_tfevents.c includes this file with TFEVENTS_READ_NO_MAIN. */
#include "tensorboard.pb-c.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TFR_MAX_TAGS 64
#define TFR_MAX_EVENTS 4096

typedef struct {
    int kind; /* 0 file_version, 1 session_start, 2 scalars */
    int64_t step;
    int n;
    char tag[TFR_MAX_TAGS][64];
    float value[TFR_MAX_TAGS];
    char version[64];
} tfr_event_t;

static uint32_t tfr_crc32c(const uint8_t *p, size_t n) {
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint32_t tfr_masked(const uint8_t *p, size_t n) {
    uint32_t c = tfr_crc32c(p, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static uint64_t tfr_le(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Appends the events of path to out (count *n, capacity cap). 0, or -1 with a message. */
static int tfr_read_file(const char *path, tfr_event_t *out, int *n, int cap, char *err,
                         size_t errcap) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "%s: cannot open", path);
        return -1;
    }
    uint8_t head[12], tail[4];
    int rc = 0, record = 0;
    size_t got;
    while ((got = fread(head, 1, sizeof head, f)) > 0) {
        if (got != sizeof head) {
            snprintf(err, errcap, "%s: record %d: torn header (%zu bytes)", path, record, got);
            rc = -1;
            break;
        }
        uint64_t len = tfr_le(head, 8);
        if ((uint32_t)tfr_le(head + 8, 4) != tfr_masked(head, 8)) {
            snprintf(err, errcap, "%s: record %d: length CRC mismatch", path, record);
            rc = -1;
            break;
        }
        if (len > (1u << 24)) {
            snprintf(err, errcap, "%s: record %d: length %llu", path, record,
                     (unsigned long long)len);
            rc = -1;
            break;
        }
        uint8_t *data = malloc(len ? len : 1);
        if (!data || fread(data, 1, len, f) != len || fread(tail, 1, 4, f) != 4) {
            snprintf(err, errcap, "%s: record %d: truncated", path, record);
            free(data);
            rc = -1;
            break;
        }
        if ((uint32_t)tfr_le(tail, 4) != tfr_masked(data, len)) {
            snprintf(err, errcap, "%s: record %d: data CRC mismatch", path, record);
            free(data);
            rc = -1;
            break;
        }
        Tensorboard__Event *ev = tensorboard__event__unpack(NULL, len, data);
        free(data);
        if (!ev) {
            snprintf(err, errcap, "%s: record %d: not an Event", path, record);
            rc = -1;
            break;
        }
        if (*n >= cap) {
            snprintf(err, errcap, "%s: more than %d events", path, cap);
            tensorboard__event__free_unpacked(ev, NULL);
            rc = -1;
            break;
        }
        tfr_event_t *e = &out[(*n)++];
        memset(e, 0, sizeof *e);
        e->step = ev->step;
        if (ev->what_case == TENSORBOARD__EVENT__WHAT_FILE_VERSION) {
            e->kind = 0;
            snprintf(e->version, sizeof e->version, "%s", ev->file_version);
        } else if (ev->what_case == TENSORBOARD__EVENT__WHAT_SESSION_LOG &&
                   ev->session_log->status == TENSORBOARD__SESSION_LOG__SESSION_STATUS__START) {
            e->kind = 1;
        } else if (ev->what_case == TENSORBOARD__EVENT__WHAT_SUMMARY &&
                   ev->summary->n_value <= TFR_MAX_TAGS) {
            e->kind = 2;
            for (size_t i = 0; i < ev->summary->n_value; i++) {
                Tensorboard__Summary__Value *v = ev->summary->value[i];
                if (v->value_case != TENSORBOARD__SUMMARY__VALUE__VALUE_SIMPLE_VALUE) {
                    snprintf(err, errcap, "%s: record %d: value '%s' is not a simple_value", path,
                             record, v->tag);
                    rc = -1;
                }
                snprintf(e->tag[e->n], sizeof e->tag[e->n], "%s", v->tag);
                e->value[e->n++] = v->simple_value;
            }
        } else {
            snprintf(err, errcap, "%s: record %d: unexpected event", path, record);
            rc = -1;
        }
        tensorboard__event__free_unpacked(ev, NULL);
        if (rc) break;
        if (record == 0 && (e->kind != 0 || strncmp(e->version, "brain.Event:", 12) != 0)) {
            snprintf(err, errcap, "%s: the first record is not a file_version brain.Event:N", path);
            rc = -1;
            break;
        }
        record++;
    }
    fclose(f);
    if (rc == 0 && record == 0) {
        snprintf(err, errcap, "%s: empty", path);
        rc = -1;
    }
    return rc;
}

/* The scalar events of the files in order, after the purge rule: indexes into ev, count. */
static int tfr_effective(const tfr_event_t *ev, int n, int *keep) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (ev[i].kind == 1) {
            int j = 0;
            for (int m = 0; m < k; m++)
                if (ev[keep[m]].step < ev[i].step) keep[j++] = keep[m];
            k = j;
        } else if (ev[i].kind == 2) {
            keep[k++] = i;
        }
    }
    return k;
}

/* Splits a CSV line (modified) into at most max cells; returns the count. */
static int tfr_split(char *line, char **cells, int max) {
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max;) {
        cells[n++] = p;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static int tfr_check_csv(const char *csv, const tfr_event_t *ev, const int *keep, int k, char *err,
                         size_t errcap) {
    FILE *f = fopen(csv, "r");
    if (!f) {
        snprintf(err, errcap, "%s: cannot open", csv);
        return -1;
    }
    char header[8192], line[8192], *names[TFR_MAX_TAGS], *cells[TFR_MAX_TAGS];
    if (!fgets(header, sizeof header, f)) {
        fclose(f);
        snprintf(err, errcap, "%s: no header", csv);
        return -1;
    }
    int cols = tfr_split(header, names, TFR_MAX_TAGS), row = 0, rc = 0, steps_col = -1;
    for (int c = 0; c < cols; c++)
        if (!strcmp(names[c], "updates")) steps_col = c;
    long long checked = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        int n = tfr_split(line, cells, TFR_MAX_TAGS);
        if (n != cols) {
            snprintf(err, errcap, "%s row %d: %d cells, header has %d", csv, row + 1, n, cols);
            rc = -1;
            break;
        }
        if (row >= k) {
            snprintf(err, errcap, "%s row %d: no scalar event for it (%d events)", csv, row + 1, k);
            rc = -1;
            break;
        }
        const tfr_event_t *e = &ev[keep[row]];
        if (steps_col < 0 || e->step != atoll(cells[steps_col])) {
            snprintf(err, errcap, "row %d: event step %lld, updates cell '%s'", row + 1,
                     (long long)e->step, steps_col < 0 ? "?" : cells[steps_col]);
            rc = -1;
            break;
        }
        int want = 0;
        for (int c = 0; c < cols && rc == 0; c++) {
            if (!strcmp(cells[c], "nan")) continue;
            want++;
            int found = -1;
            for (int t = 0; t < e->n; t++)
                if (!strcmp(e->tag[t], names[c])) found = t;
            float v = strtof(cells[c], NULL);
            if (found < 0 || !(e->value[found] == v)) {
                snprintf(err, errcap, "row %d column %s: csv '%s', event %s%.9g", row + 1, names[c],
                         cells[c], found < 0 ? "missing " : "",
                         found < 0 ? 0.0 : (double)e->value[found]);
                rc = -1;
            }
            checked++;
        }
        if (rc == 0 && want != e->n) {
            snprintf(err, errcap, "row %d: %d scalars in the event, %d non-nan cells", row + 1,
                     e->n, want);
            rc = -1;
        }
        row++;
    }
    fclose(f);
    if (rc == 0 && row != k) {
        snprintf(err, errcap, "%d scalar events, %s has %d rows", k, csv, row);
        rc = -1;
    }
    if (rc == 0)
        printf("checked %d rows, %lld values: every non-nan cell of %s is its event's scalar\n",
               row, checked, csv);
    return rc;
}

#ifndef TFEVENTS_READ_NO_MAIN
int main(int argc, char **argv) {
    const char *csv = NULL;
    int first = 1;
    if (argc > 2 && !strcmp(argv[1], "--csv")) {
        csv = argv[2];
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: tfevents-read [--csv progress.csv] FILE...\n");
        return 2;
    }
    tfr_event_t *ev = malloc(sizeof *ev * TFR_MAX_EVENTS);
    int *keep = malloc(sizeof *keep * TFR_MAX_EVENTS);
    int n = 0, rc = 0;
    char err[512];
    if (!ev || !keep) return 1;
    for (int i = first; i < argc && rc == 0; i++)
        rc = tfr_read_file(argv[i], ev, &n, TFR_MAX_EVENTS, err, sizeof err);
    if (rc == 0 && csv) {
        rc = tfr_check_csv(csv, ev, keep, tfr_effective(ev, n, keep), err, sizeof err);
    } else if (rc == 0) {
        for (int i = 0; i < n; i++) {
            if (ev[i].kind == 0) printf("file_version %s\n", ev[i].version);
            if (ev[i].kind == 1) printf("session_start %lld\n", (long long)ev[i].step);
            if (ev[i].kind != 2) continue;
            printf("scalars %lld", (long long)ev[i].step);
            for (int t = 0; t < ev[i].n; t++) printf(" %s=%.9g", ev[i].tag[t], ev[i].value[t]);
            printf("\n");
        }
    }
    if (rc) fprintf(stderr, "tfevents-read: %s\n", err);
    free(ev);
    free(keep);
    return rc ? 1 : 0;
}
#endif
