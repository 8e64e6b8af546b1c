/* experiment_k8s: an experiment grid as Kubernetes manifests (see experiment_k8s.h). The pods use
 * the project's image, user, namespace and optional run-token Secret as deploy/k8s does; each
 * runs one ordinary `odac run` (learner, shard, actor in the pod) through `odac experiment
 * --cell`, so a retried index resumes its cell from the checkpoints on the shared claim and a
 * finished cell is never rerun (its state/<run-id>.done). */
#include "experiment_k8s.h"
#include "launcher_fs.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Cells' pods are named <job>-<index>-<suffix>; the job name stays short enough for that. */
#define JOB_NAME_MAX 40

void exp_k8s_name(const char *spec_name, char *out, size_t cap) {
    size_t n = 0;
    const char *prefix = "exp-";
    for (const char *p = prefix; *p && n + 1 < cap; p++) out[n++] = *p;
    for (const char *p = spec_name; *p && n + 1 < cap; p++) {
        char c = (char)tolower((unsigned char)*p);
        out[n++] = isalnum((unsigned char)c) ? c : '-';
    }
    while (n > 0 && out[n - 1] == '-') n--; /* a name ends with a letter or digit */
    out[n] = '\0';
}

/* An image reference: registry/name:tag or @digest characters only (no quoting needed). */
static int plain_image(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 255) return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-/:@", *p)) return 0;
    return 1;
}

static int write_file(const char *dir, const char *name, const char *text, char *err,
                      size_t errcap) {
    char path[EXP_PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return exp_fail(err, errcap, "cannot write %s: %s", path, strerror(errno));
    int ok = fputs(text, f) >= 0;
    ok &= fclose(f) == 0;
    if (!ok) return exp_fail(err, errcap, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* The pod template both Jobs share: the odac image as its non-root user, the spec's ConfigMap at
 * /etc/odac-experiment and the shared claim at EXP_K8S_DATA, running odac experiment with args. */
static void pod_template(FILE *f, const char *job, const char *component, const char *image,
                         const char *args, const char *cpu) {
    fprintf(f,
            "  template:\n"
            "    metadata:\n"
            "      labels:\n"
            "        app.kubernetes.io/name: odac-experiment\n"
            "        app.kubernetes.io/instance: %s\n"
            "        app.kubernetes.io/component: %s\n"
            "    spec:\n"
            "      restartPolicy: Never\n"
            "      # SIGTERM reaches odac run's children, which checkpoint and exit.\n"
            "      terminationGracePeriodSeconds: 60\n"
            "      securityContext:\n"
            "        runAsNonRoot: true\n"
            "        runAsUser: 10001\n"
            "        runAsGroup: 10001\n"
            "        fsGroup: 10001\n"
            "      containers:\n"
            "        - name: %s\n"
            "          image: %s\n"
            "          imagePullPolicy: IfNotPresent\n"
            "          args: [\"odac\", \"experiment\", \"/etc/odac-experiment/spec.json\", %s,\n"
            "                 \"--runs-dir\", \"" EXP_K8S_DATA "/runs\",\n"
            "                 \"--results-dir\", \"" EXP_K8S_DATA "/results\"]\n"
            "          env:\n"
            "            # The token every run's actors carry (deploy/k8s's optional Secret).\n"
            "            - name: ODAC_RUN_TOKEN\n"
            "              valueFrom:\n"
            "                secretKeyRef:\n"
            "                  name: odac-run-token\n"
            "                  key: token\n"
            "                  optional: true\n"
            "          volumeMounts:\n"
            "            - name: spec\n"
            "              mountPath: /etc/odac-experiment\n"
            "              readOnly: true\n"
            "            - name: data\n"
            "              mountPath: " EXP_K8S_DATA "\n"
            "          resources:\n"
            "            requests:\n"
            "              cpu: \"%s\"\n"
            "              memory: 2Gi\n"
            "      volumes:\n"
            "        - name: spec\n"
            "          configMap:\n"
            "            name: %s-spec\n"
            "        - name: data\n"
            "          persistentVolumeClaim:\n"
            "            claimName: odac-experiments\n",
            job, component, component, image, args, cpu, job);
}

int exp_k8s_write(const char *dir, const exp_spec_t *spec, const char *spec_text, const char *image,
                  char *err, size_t errcap) {
    if (!plain_image(image))
        return exp_fail(err, errcap,
                        "--image '%.64s': an image reference of letters, digits and ._-/:@", image);
    if (launcher_mkdir_p(dir) != 0)
        return exp_fail(err, errcap, "cannot create %s: %s", dir, strerror(errno));
    char job[JOB_NAME_MAX + 1];
    exp_k8s_name(spec->name, job, sizeof job);

    if (write_file(dir, "namespace.yaml",
                   "# The namespace of deploy/k8s: experiments run beside (or instead of) its "
                   "run.\n"
                   "apiVersion: v1\n"
                   "kind: Namespace\n"
                   "metadata:\n"
                   "  name: odac\n",
                   err, errcap) != 0)
        return -1;
    char kust[2048];
    snprintf(kust, sizeof kust,
             "# odac experiment %s on Kubernetes (written by `odac experiment --k8s`):\n"
             "#   kubectl apply -k %s\n"
             "#   kubectl -n odac wait --for=condition=complete --timeout=-1s job/%s\n"
             "#   kubectl -n odac apply -f %s/report.yaml   # table.md, table.csv, <env>.png\n"
             "# The image: docker build -t odac -f deploy/Dockerfile . (push it where the\n"
             "# cluster pulls from and set images: here, as in deploy/k8s/kustomization.yaml).\n"
             "apiVersion: kustomize.config.k8s.io/v1beta1\n"
             "kind: Kustomization\n"
             "namespace: odac\n"
             "labels:\n"
             "  - pairs:\n"
             "      app.kubernetes.io/part-of: odac\n"
             "resources:\n"
             "  - namespace.yaml\n"
             "  - experiment.yaml\n",
             spec->name, dir, job, dir);
    if (write_file(dir, "kustomization.yaml", kust, err, errcap) != 0) return -1;

    char path[EXP_PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/experiment.yaml", dir);
    FILE *f = fopen(path, "w");
    if (!f) return exp_fail(err, errcap, "cannot write %s: %s", path, strerror(errno));
    fprintf(f,
            "# Experiment %s: %d cells (odac experiment SPEC --dry-run lists them in index "
            "order),\n"
            "# %d at once. Index k runs cell k as one `odac run` in its pod; a failed pod is\n"
            "# replaced (backoffLimit in all) and resumes its cell from the shared claim.\n"
            "apiVersion: v1\n"
            "kind: ConfigMap\n"
            "metadata:\n"
            "  name: %s-spec\n"
            "data:\n"
            "  spec.json: |\n",
            spec->name, spec->n_cells, spec->parallel, job);
    /* the spec verbatim as a block scalar: every line indented, nothing to escape */
    const char *line = spec_text;
    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ')) len--;
        fprintf(f, "    %.*s\n", (int)len, line);
        line = nl ? nl + 1 : line + strlen(line);
    }
    fprintf(f,
            "---\n"
            "# runs/ and results/ of every cell: pods on any node write here, so ReadWriteMany\n"
            "# (an NFS or CephFS class, for example: set storageClassName for your cluster).\n"
            "apiVersion: v1\n"
            "kind: PersistentVolumeClaim\n"
            "metadata:\n"
            "  name: odac-experiments\n"
            "spec:\n"
            "  accessModes: [\"ReadWriteMany\"]\n"
            "  resources:\n"
            "    requests:\n"
            "      storage: 20Gi\n"
            "---\n"
            "apiVersion: batch/v1\n"
            "kind: Job\n"
            "metadata:\n"
            "  name: %s\n"
            "spec:\n"
            "  completionMode: Indexed\n"
            "  completions: %d\n"
            "  parallelism: %d\n"
            "  # Pods lost (evicted, killed, a node gone) over all indexes; a cell whose own\n"
            "  # retries are spent ends its pod with exit 0 and is named by the report.\n"
            "  backoffLimit: %d\n",
            job, spec->n_cells, spec->parallel, spec->n_cells);
    pod_template(f, job, "cell", image, "\"--cell\", \"auto\"", "2");
    int ok = !ferror(f);
    ok &= fclose(f) == 0;
    if (!ok) return exp_fail(err, errcap, "cannot write %s: %s", path, strerror(errno));

    snprintf(path, sizeof path, "%s/report.yaml", dir);
    f = fopen(path, "w");
    if (!f) return exp_fail(err, errcap, "cannot write %s: %s", path, strerror(errno));
    fprintf(f,
            "# The table and curves of experiment %s from the shared claim, once job/%s is\n"
            "# complete: kubectl -n odac apply -f report.yaml; the files are in the claim's\n"
            "# results/%s/ (kubectl -n odac logs job/%s-report prints where).\n"
            "apiVersion: batch/v1\n"
            "kind: Job\n"
            "metadata:\n"
            "  name: %s-report\n"
            "  namespace: odac\n"
            "spec:\n"
            "  backoffLimit: 2\n",
            spec->name, job, spec->name, job, job);
    pod_template(f, job, "report", image, "\"--report\"", "500m");
    ok = !ferror(f);
    ok &= fclose(f) == 0;
    if (!ok) return exp_fail(err, errcap, "cannot write %s: %s", path, strerror(errno));
    return 0;
}
