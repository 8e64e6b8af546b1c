/* curve: CURVE keys, the per-socket options and the ZAP handler thread (see curve.h). */
#include "curve.h"
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_ALLOWED 4096
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

static struct {
    int enabled, have_server, have_client, zap_running;
    char server_public[CURVE_KEY_TEXT], server_secret[CURVE_KEY_TEXT];
    char client_public[CURVE_KEY_TEXT], client_secret[CURVE_KEY_TEXT];
    uint8_t (*allowed)[32];
    int n_allowed;
} g;
static atomic_ullong n_refused, n_admitted;

int curve_enabled(void) {
    return g.enabled;
}
unsigned long long curve_refused(void) {
    return atomic_load(&n_refused);
}
unsigned long long curve_admitted(void) {
    return atomic_load(&n_admitted);
}

/* ---- key files ---- */

static int valid_z85_key(const char *s) {
    uint8_t bin[32];
    return strlen(s) == 40 && zmq_z85_decode(bin, s) != NULL;
}

static int write_file(const char *path, const char *text, int mode, char *err, size_t errcap) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errcap, "%s: %s", path,
                 errno == EEXIST ? "exists (keys are never overwritten)" : strerror(errno));
        return -1;
    }
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n;
    if (close(fd) != 0) ok = 0;
    if (!ok) {
        snprintf(err, errcap, "%s: write failed: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int curve_keygen(const char *dir, const char *name, char *err, size_t errcap) {
    if (!name[0] || strchr(name, '/') || name[0] == '.' || strlen(name) > 64) {
        snprintf(err, errcap, "key name '%s' must be a plain name", name);
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errcap, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    char pub[CURVE_KEY_TEXT], sec[CURVE_KEY_TEXT];
    if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, errcap, "zmq_curve_keypair: %s (libzmq without CURVE?)",
                 zmq_strerror(zmq_errno()));
        return -1;
    }
    char path[1024], text[256];
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    snprintf(text, sizeof text, "public %s\nsecret %s\n", pub, sec);
    if (write_file(path, text, 0600, err, errcap) != 0) return -1;
    snprintf(path, sizeof path, "%s/%s.pub", dir, name);
    snprintf(text, sizeof text, "%s\n", pub);
    if (write_file(path, text, 0644, err, errcap) != 0) return -1;
    if (strcmp(name, "server") != 0) {
        snprintf(path, sizeof path, "%s/allowed_clients", dir);
        FILE *f = fopen(path, "a");
        if (!f || fprintf(f, "%s  # %s\n", pub, name) < 0 || fclose(f) != 0) {
            snprintf(err, errcap, "%s: cannot append: %s", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Reads "public <z85>\nsecret <z85>" from path. 1 loaded, 0 absent, -1 bad. */
static int read_pair(const char *path, char *pub, char *sec, char *err, size_t errcap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077)) {
        fclose(f);
        snprintf(err, errcap, "%s: a secret key must not be readable by others (chmod 600)", path);
        return -1;
    }
    int n = fscanf(f, "public %40s secret %40s", pub, sec);
    fclose(f);
    if (n != 2 || !valid_z85_key(pub) || !valid_z85_key(sec)) {
        snprintf(err, errcap, "%s: expected 'public <40 Z85 chars>' and 'secret <...>'", path);
        return -1;
    }
    return 1;
}

static int read_public(const char *path, char *pub, char *err, size_t errcap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    int n = fscanf(f, "%40s", pub);
    fclose(f);
    if (n != 1 || !valid_z85_key(pub)) {
        snprintf(err, errcap, "%s: expected a public key of 40 Z85 characters", path);
        return -1;
    }
    return 1;
}

static int read_allowed(const char *path, char *err, size_t errcap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "%s: %s (the servers admit only the clients listed there)", path,
                 strerror(errno));
        return -1;
    }
    free(g.allowed);
    g.allowed = calloc(MAX_ALLOWED, sizeof *g.allowed);
    g.n_allowed = 0;
    if (!g.allowed) {
        fclose(f);
        snprintf(err, errcap, "out of memory for the allow-list");
        return -1;
    }
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char key[CURVE_KEY_TEXT + 1] = "";
        if (sscanf(line, " %41s", key) != 1 || key[0] == '#') continue;
        if (!valid_z85_key(key) || g.n_allowed == MAX_ALLOWED) {
            fclose(f);
            snprintf(err, errcap, "%s:%d: not a 40-character Z85 public key (or over %d keys)",
                     path, lineno, MAX_ALLOWED);
            return -1;
        }
        zmq_z85_decode(g.allowed[g.n_allowed++], key);
    }
    fclose(f);
    return 0;
}

/* ---- the ZAP handler ---- */

static int is_allowed(const uint8_t *key) {
    for (int i = 0; i < g.n_allowed; i++)
        if (memcmp(g.allowed[i], key, 32) == 0) return 1;
    return 0;
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void send_str(void *sock, const void *data, size_t n, int more) {
    zmq_send(sock, data, n, more ? ZMQ_SNDMORE : 0);
}

/* One ZAP request (RFC 27): version, request id, domain, address, routing id, mechanism,
 * credentials; admitted: CURVE with an allow-listed client key. */
static void *zap_main(void *arg) {
    void *rep = arg;
    double last_log = 0;
    unsigned long long unlogged = 0;
    for (;;) {
        zmq_msg_t part[8];
        int n = 0, more = 1, failed = 0;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, rep, 0) < 0) {
                zmq_msg_close(&m);
                if (zmq_errno() == ETERM) {
                    for (int i = 0; i < n; i++) zmq_msg_close(&part[i]);
                    zmq_close(rep);
                    return NULL;
                }
                failed = 1;
                break;
            }
            more = zmq_msg_more(&m);
            if (n < 8)
                part[n++] = m;
            else
                zmq_msg_close(&m);
        }
        if (failed || n < 6) {
            for (int i = 0; i < n; i++) zmq_msg_close(&part[i]);
            continue;
        }
        int curve = zmq_msg_size(&part[5]) == 5 && !memcmp(zmq_msg_data(&part[5]), "CURVE", 5);
        int ok =
            curve && n >= 7 && zmq_msg_size(&part[6]) == 32 && is_allowed(zmq_msg_data(&part[6]));
        send_str(rep, "1.0", 3, 1);
        send_str(rep, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), 1);
        send_str(rep, ok ? "200" : "400", 3, 1);
        send_str(rep, ok ? "OK" : "not an allowed key", ok ? 2 : 18, 1);
        send_str(rep, "", 0, 1);
        send_str(rep, "", 0, 0);
        if (ok) {
            atomic_fetch_add(&n_admitted, 1);
        } else {
            unsigned long long k = atomic_fetch_add(&n_refused, 1) + 1;
            double t = mono_s();
            char addr[64] = "", key[CURVE_KEY_TEXT] = "(none)";
            size_t an =
                zmq_msg_size(&part[3]) < sizeof addr - 1 ? zmq_msg_size(&part[3]) : sizeof addr - 1;
            memcpy(addr, zmq_msg_data(&part[3]), an);
            addr[an] = '\0';
            if (curve && n >= 7 && zmq_msg_size(&part[6]) == 32)
                zmq_z85_encode(key, zmq_msg_data(&part[6]), 32);
            if (t - last_log >= 1.0) {
                log_warn("refused a connection from %s: %s key %s is not in allowed_clients "
                         "(%llu refused in all, %llu not logged since the last line)",
                         addr, curve ? "CURVE" : "non-CURVE", key, k, unlogged);
                last_log = t;
                unlogged = 0;
            } else {
                unlogged++;
            }
        }
        for (int i = 0; i < n; i++) zmq_msg_close(&part[i]);
    }
}

int curve_enable(void *zctx, const char *dir, const char *client, char *err, size_t errcap) {
    char path[1024];
    memset(g.server_public, 0, sizeof g.server_public);
    g.have_server = g.have_client = 0;
    snprintf(path, sizeof path, "%s/server.key", dir);
    int rc = read_pair(path, g.server_public, g.server_secret, err, errcap);
    if (rc < 0) return -1;
    g.have_server = rc;
    if (!g.have_server) {
        snprintf(path, sizeof path, "%s/server.pub", dir);
        rc = read_public(path, g.server_public, err, errcap);
        if (rc < 0) return -1;
        if (rc == 0) {
            snprintf(err, errcap, "%s/: neither server.key nor server.pub (run odac keygen)", dir);
            return -1;
        }
    }
    if (client) {
        snprintf(path, sizeof path, "%s/%s.key", dir, client);
        rc = read_pair(path, g.client_public, g.client_secret, err, errcap);
        if (rc < 0) return -1;
        if (rc == 0) {
            snprintf(err, errcap, "%s: missing (this process connects as '%s')", path, client);
            return -1;
        }
        g.have_client = 1;
    }
    if (g.have_server && zctx) {
        snprintf(path, sizeof path, "%s/allowed_clients", dir);
        if (read_allowed(path, err, errcap) != 0) return -1;
        void *rep = zmq_socket(zctx, ZMQ_REP);
        int linger = 0;
        if (rep) zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof linger);
        if (!rep || zmq_bind(rep, ZAP_ENDPOINT) != 0) {
            snprintf(err, errcap, "ZAP handler: %s", zmq_strerror(zmq_errno()));
            if (rep) zmq_close(rep);
            return -1;
        }
        pthread_t th;
        if (pthread_create(&th, NULL, zap_main, rep) != 0) {
            snprintf(err, errcap, "ZAP handler: cannot start its thread");
            zmq_close(rep);
            return -1;
        }
        pthread_detach(th);
        g.zap_running = 1;
    }
    g.enabled = 1;
    log_info("CURVE on (keys in %s): %s%s%s%s; %d allowed client key(s)", dir,
             g.zap_running ? "binds as the server" : "", g.zap_running && client ? ", " : "",
             client ? "connects presenting " : "", client ? client : "", g.n_allowed);
    return 0;
}

int curve_apply(void *sock, int bind, char *err, size_t errcap) {
    if (!g.enabled) return 0;
    if (bind) {
        if (!g.zap_running) { /* without a ZAP handler libzmq would admit any CURVE client */
            snprintf(err, errcap, "CURVE: this process binds but has no server.key");
            return -1;
        }
        int one = 1;
        if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
            zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, g.server_secret, 40) != 0 ||
            zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "odac", 4) != 0) {
            snprintf(err, errcap, "CURVE server options: %s", zmq_strerror(zmq_errno()));
            return -1;
        }
        return 0;
    }
    if (!g.have_client) {
        snprintf(err, errcap, "CURVE: this process connects but has no client key");
        return -1;
    }
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, g.server_public, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, g.client_public, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, g.client_secret, 40) != 0) {
        snprintf(err, errcap, "CURVE client options: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

int curve_endpoint_is_local(const char *ep) {
    if (!strncmp(ep, "inproc://", 9) || !strncmp(ep, "ipc://", 6)) return 1;
    if (strncmp(ep, "tcp://", 6) != 0) return 0;
    const char *h = ep + 6;
    return !strncmp(h, "127.", 4) || !strncmp(h, "localhost:", 10) || !strncmp(h, "[::1]:", 6);
}

int curve_check_exposure(const char *const *endpoints, int n, int have_keys, int insecure,
                         char *err, size_t errcap) {
    if (have_keys || insecure) return 0;
    for (int i = 0; i < n; i++) {
        char list[4096];
        snprintf(list, sizeof list, "%s", endpoints[i] ? endpoints[i] : "");
        char *save = NULL;
        for (char *ep = strtok_r(list, ",", &save); ep; ep = strtok_r(NULL, ",", &save))
            if (!curve_endpoint_is_local(ep)) {
                snprintf(err, errcap,
                         "%s is off loopback and no --keys are given: anyone who reaches it "
                         "could insert, sample, subscribe or end the run. Give --keys DIR (odac "
                         "keygen) or --insecure to run without authentication",
                         ep);
                return -1;
            }
    }
    return 0;
}
