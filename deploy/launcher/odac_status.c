/* odac_status: `odac status ENDPOINT` asks a running learner (its --status-endpoint) how the run is
 * doing and prints it: counters, the last evaluation, the last progress row (rates, alpha,
 * losses), the shards' stats and the connected actors with their policy lag; --json for one JSON
 * object. A DEALER sends one StatusRequest and waits --timeout-ms for the Status, which is
 * decoded with the wire layer's validation like every other message; with --keys the connection
 * runs CURVE, presenting DIR/<key-name>.key. No answer in time (nothing there, or a learner that
 * does not admit the key) is an error naming the endpoint. */
#include "odac_status.h"
#include "curve.h"
#include "flags.h"
#include "wire.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *usage = "usage: odac status ENDPOINT [options]\n"
                           "Asks a running learner's status endpoint (printed by odac run at "
                           "start) how the run is doing.";

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static void print_text(const Odac__Status *st) {
    printf("run %s: env %s, variant %s, %.1f s, %u learner thread(s)\n", st->run_id, st->env_name,
           st->variant, st->wall_time_s, st->learner_threads);
    printf("updates %llu | env steps %llu of %llu | weights version %llu\n",
           (unsigned long long)st->updates, (unsigned long long)st->env_steps,
           (unsigned long long)st->max_env_steps, (unsigned long long)st->publish_version);
    if (st->last_eval) {
        const Odac__EvalReport *e = st->last_eval;
        printf("last evaluation: policy %llu, %u episodes, final distance %.4f +- %.4f, success "
               "%.2f; best %.4f",
               (unsigned long long)e->policy_version, e->episodes, (double)e->final_distance_mean,
               (double)e->final_distance_std, (double)e->success_rate, st->best_eval);
        for (size_t d = 0; d < e->n_diag_mean; d++)
            printf("%s%.4f", d ? ", " : "; diagnostics ", (double)e->diag_mean[d]);
        printf("%s\n", st->target_distance > 0 ? "" : " (no target distance)");
    } else {
        printf("last evaluation: none yet\n");
    }
    if (st->n_progress_names) {
        printf("last progress row:");
        for (size_t c = 0; c < st->n_progress_names; c++)
            printf("%s%s %.5g", c % 6 ? ", " : "\n  ", st->progress_names[c],
                   st->progress_values[c]);
        printf("\n");
    } else {
        printf("last progress row: none yet\n");
    }
    printf("shards (%zu):\n", st->n_shard_endpoints);
    printf("  %-28s %10s %10s %8s %8s %9s %8s %9s\n", "endpoint", "size", "inserted", "batches",
           "waits", "timed_out", "refused", "in_flight");
    for (size_t k = 0; k < st->n_shard_endpoints; k++)
        printf("  %-28s %10llu %10llu %8llu %8llu %9llu %8llu %9u%s\n", st->shard_endpoints[k],
               (unsigned long long)st->shard_size_transitions[k],
               (unsigned long long)st->shard_inserted_transitions[k],
               (unsigned long long)st->shard_batches[k],
               (unsigned long long)st->shard_sample_waits[k],
               (unsigned long long)st->shard_requests_timed_out[k],
               (unsigned long long)st->shard_requests_refused[k], st->shard_in_flight[k],
               st->shard_silent[k] ? "  (not answering)" : "");
    printf("actors (%zu):\n", st->n_actor_ids);
    printf("  %-8s %12s %10s %10s %10s %8s %14s\n", "id", "env_steps", "episodes", "policy", "lag",
           "dropped", "last_stats_s");
    for (size_t i = 0; i < st->n_actor_ids; i++)
        printf("  %-8u %12llu %10llu %10llu %10llu %8llu %14.1f\n", st->actor_ids[i],
               (unsigned long long)st->actor_env_steps[i],
               (unsigned long long)st->actor_episodes[i],
               (unsigned long long)st->actor_policy_versions[i],
               (unsigned long long)st->actor_policy_lags[i],
               (unsigned long long)st->actor_episodes_dropped[i], st->actor_seconds_since_stats[i]);
    printf("rejected: %llu wire messages, %llu actor stats without the run's token\n",
           (unsigned long long)st->rejected_wire, (unsigned long long)st->rejected_token);
}

/* A number, or null for NaN and infinities (JSON has neither). */
static void add_number(cJSON *o, const char *name, double v) {
    if (isfinite(v))
        cJSON_AddNumberToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

static int print_json(const Odac__Status *st) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return -1;
    cJSON_AddStringToObject(root, "run_id", st->run_id);
    cJSON_AddStringToObject(root, "env", st->env_name);
    cJSON_AddStringToObject(root, "variant", st->variant);
    add_number(root, "wall_time_s", st->wall_time_s);
    add_number(root, "learner_threads", (double)st->learner_threads);
    add_number(root, "updates", (double)st->updates);
    add_number(root, "env_steps", (double)st->env_steps);
    add_number(root, "max_env_steps", (double)st->max_env_steps);
    add_number(root, "target_distance", st->target_distance);
    add_number(root, "publish_version", (double)st->publish_version);
    add_number(root, "best_eval", st->best_eval);
    if (st->last_eval) {
        cJSON *e = cJSON_AddObjectToObject(root, "last_eval"), *d = cJSON_CreateArray();
        add_number(e, "episodes", st->last_eval->episodes);
        add_number(e, "final_distance_mean", st->last_eval->final_distance_mean);
        add_number(e, "final_distance_std", st->last_eval->final_distance_std);
        add_number(e, "success_rate", st->last_eval->success_rate);
        add_number(e, "policy_version", (double)st->last_eval->policy_version);
        for (size_t k = 0; k < st->last_eval->n_diag_mean; k++)
            cJSON_AddItemToArray(d, cJSON_CreateNumber(st->last_eval->diag_mean[k]));
        cJSON_AddItemToObject(e, "diag_mean", d);
    } else {
        cJSON_AddNullToObject(root, "last_eval");
    }
    cJSON *p = cJSON_AddObjectToObject(root, "progress");
    for (size_t c = 0; c < st->n_progress_names; c++)
        add_number(p, st->progress_names[c], st->progress_values[c]);
    cJSON *shards = cJSON_AddArrayToObject(root, "shards");
    for (size_t k = 0; k < st->n_shard_endpoints; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "endpoint", st->shard_endpoints[k]);
        add_number(o, "size_transitions", (double)st->shard_size_transitions[k]);
        add_number(o, "inserted_transitions", (double)st->shard_inserted_transitions[k]);
        add_number(o, "batches", (double)st->shard_batches[k]);
        add_number(o, "sample_waits", (double)st->shard_sample_waits[k]);
        add_number(o, "requests_timed_out", (double)st->shard_requests_timed_out[k]);
        add_number(o, "requests_refused", (double)st->shard_requests_refused[k]);
        add_number(o, "requests_in_flight", st->shard_in_flight[k]);
        cJSON_AddBoolToObject(o, "answering", !st->shard_silent[k]);
        cJSON_AddItemToArray(shards, o);
    }
    cJSON *actors = cJSON_AddArrayToObject(root, "actors");
    for (size_t i = 0; i < st->n_actor_ids; i++) {
        cJSON *o = cJSON_CreateObject();
        add_number(o, "id", st->actor_ids[i]);
        add_number(o, "env_steps", (double)st->actor_env_steps[i]);
        add_number(o, "episodes", (double)st->actor_episodes[i]);
        add_number(o, "policy_version", (double)st->actor_policy_versions[i]);
        add_number(o, "policy_lag", (double)st->actor_policy_lags[i]);
        add_number(o, "episodes_dropped", (double)st->actor_episodes_dropped[i]);
        add_number(o, "seconds_since_stats", st->actor_seconds_since_stats[i]);
        cJSON_AddItemToArray(actors, o);
    }
    add_number(root, "rejected_wire", (double)st->rejected_wire);
    add_number(root, "rejected_token", (double)st->rejected_token);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) return -1;
    printf("%s\n", text);
    cJSON_free(text);
    return 0;
}

int odac_status_main(int argc, char **argv) {
    struct {
        long long timeout_ms;
        int json;
        char keys[FLAGS_STR_MAX], key_name[FLAGS_STR_MAX];
    } o = {3000, 0, "", "learner"};
    const flag_t table[] = {
        {"timeout-ms", FLAG_INT, &o.timeout_ms, 1, 600000, "how long to wait for the answer"},
        {"json", FLAG_BOOL, &o.json, 0, -1, "print one JSON object"},
        {"keys", FLAG_STRING, o.keys, 0, -1,
         "the run's CURVE key directory (odac run: runs/<id>/keys): server.pub and a client key"},
        {"key-name", FLAG_STRING, o.key_name, 0, -1,
         "which client key of --keys to present (one in the learner's allowed_clients)"},
    };
    const int n_table = sizeof table / sizeof *table;
    char err[1024];
    const char *endpoint;
    int n_pos;
    int rc = flags_parse_one(table, n_table, argc, argv, usage, &endpoint, &n_pos, err, sizeof err);
    if (rc == 1) return 0;
    if (rc != 0) {
        fprintf(stderr, "odac status: %s\n", err);
        return 2;
    }
    if (!endpoint) {
        fprintf(stderr,
                "odac status: expected one endpoint, e.g. tcp://127.0.0.1:15557 (got %d)\n%s\n",
                n_pos, usage);
        return 2;
    }
    if (o.keys[0] && curve_enable(NULL, o.keys, o.key_name, err, sizeof err) != 0) {
        fprintf(stderr, "odac status: --keys: %s\n", err);
        return 2;
    }
    void *ctx = zmq_ctx_new();
    if (!ctx) {
        fprintf(stderr, "odac status: zmq_ctx_new: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    int status = 1;
    void *sock = wire_socket_limited(ctx, ZMQ_DEALER, endpoint, 0, 1, 0, WIRE_MAX_STATUS_BYTES, err,
                                     sizeof err);
    if (!sock) {
        fprintf(stderr, "odac status: %s\n", err);
        zmq_ctx_term(ctx);
        return 2;
    }
    Odac__StatusRequest req = ODAC__STATUS_REQUEST__INIT;
    req.protocol_version = WIRE_PROTOCOL_VERSION;
    double t0 = now_ms();
    wire_msg_t m;
    int got = 0;
    if (wire_send(sock, NULL, WIRE_TAG_STATUS_REQUEST, &req.base, ZMQ_DONTWAIT) != 0) {
        fprintf(stderr, "odac status: cannot send to %s: %s\n", endpoint,
                zmq_strerror(zmq_errno()));
        goto out;
    }
    got = wire_recv(sock, &m, (int)o.timeout_ms);
    if (got != 1) {
        fprintf(
            stderr,
            "odac status: no answer from %s within %lld ms (no learner there, a learner without "
            "--status-endpoint, or one with CURVE keys that are not ours: see --keys)\n",
            endpoint, o.timeout_ms);
        goto out;
    }
    char tag[WIRE_TAG_MAX];
    wire_reject_t reason;
    Odac__Status *st = NULL;
    if (m.n_parts == 2 && !strcmp(wire_msg_tag(&m, 0, tag), WIRE_TAG_STATUS))
        st = wire_decode_status(wire_msg_data(&m, 1), wire_msg_size(&m, 1), &reason, err,
                                sizeof err);
    else
        snprintf(err, sizeof err, "a message of %d parts, tag '%.31s'", m.n_parts, tag);
    wire_msg_close(&m);
    if (!st) {
        fprintf(stderr, "odac status: %s answered with something that is not a status: %s\n",
                endpoint, err);
        goto out;
    }
    status = o.json ? (print_json(st) ? 1 : 0) : (print_text(st), 0);
    if (!o.json) printf("(answered in %.1f ms)\n", now_ms() - t0);
    odac__status__free_unpacked(st, NULL);
out:
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return status;
}
