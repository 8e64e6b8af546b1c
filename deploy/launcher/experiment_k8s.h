/* experiment_k8s: the Kubernetes manifests of an experiment grid (`odac experiment SPEC --k8s
 * DIR`): one Indexed Job whose index k runs cell k (`odac experiment SPEC --cell auto`, the order
 * of --dry-run) with completions = cells and parallelism = the spec's parallel, the spec in a
 * ConfigMap, a ReadWriteMany claim holding runs/ and results/ for every pod, and a report Job
 * (applied once the grid is complete) that writes the table and the curves from that tree. */
#ifndef ODAC_EXPERIMENT_K8S_H
#define ODAC_EXPERIMENT_K8S_H
#include "experiment_spec.h"
#include <stddef.h>

/* Where the pods mount the shared claim, and the runs and results trees inside it. */
#define EXP_K8S_DATA "/var/lib/odac/experiments"

/* Writes DIR/kustomization.yaml, DIR/namespace.yaml, DIR/experiment.yaml (ConfigMap, claim,
 * Indexed Job) and DIR/report.yaml (not in the kustomization: applied after the grid) for the
 * parsed spec and its text, pods running image. 0, or -1 with a message. */
int exp_k8s_write(const char *dir, const exp_spec_t *spec, const char *spec_text, const char *image,
                  char *err, size_t errcap);

/* The spec's name as a Kubernetes object name (lowercase, '.' and '_' as '-'), at most cap - 1
 * characters. */
void exp_k8s_name(const char *spec_name, char *out, size_t cap);

#endif
