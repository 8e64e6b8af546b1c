/* nn_policy: the tanh-squashed diagonal Gaussian policy head and the diagonal Gaussian
 * log-density, with their backward passes. The one idea: with u = mean + std * noise, the
 * Gaussian term of log pi is -noise^2/2 - log_std - log(2 pi)/2 exactly, and the tanh correction
 * log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)) stays finite for any u, so the forward never
 * divides by std nor takes the log of a vanishing 1 - tanh^2; its derivative in u is -2 tanh(u). */
#include "nn.h"
#include <math.h>

#define HALF_LOG_2PI 0.91893853320467274178f
#define LOG_2 0.69314718055994530942f

static inline float clamp_log_std(float x) {
    return x < NN_LOG_STD_MIN ? NN_LOG_STD_MIN : (x > NN_LOG_STD_MAX ? NN_LOG_STD_MAX : x);
}

/* softplus(x) = log(1 + e^x) without overflow. */
static inline float softplus(float x) {
    return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}

void nn_tanh_gaussian_forward(const float *head, const float *noise, int B, int A, float *action,
                              float *log_prob, float *u) {
    for (int i = 0; i < B; i++) {
        const float *mean = head + (size_t)i * 2 * A, *log_std = mean + A;
        const float *eps = noise + (size_t)i * A;
        float lp = 0.0f;
        for (int j = 0; j < A; j++) {
            float ls = clamp_log_std(log_std[j]);
            float uj = mean[j] + expf(ls) * eps[j];
            if (u) u[(size_t)i * A + j] = uj;
            if (action) action[(size_t)i * A + j] = tanhf(uj);
            /* log N(u; mean, std) - log(1 - tanh(u)^2) */
            lp += -0.5f * eps[j] * eps[j] - ls - HALF_LOG_2PI -
                  2.0f * (LOG_2 - uj - softplus(-2.0f * uj));
        }
        if (log_prob) log_prob[i] = lp;
    }
}

void nn_tanh_gaussian_backward(const float *head, const float *noise, const float *u,
                               const float *d_action, const float *d_log_prob, int B, int A,
                               float *d_head) {
    for (int i = 0; i < B; i++) {
        const float *log_std = head + (size_t)i * 2 * A + A;
        const float *eps = noise + (size_t)i * A, *ui = u + (size_t)i * A;
        float *d_mean = d_head + (size_t)i * 2 * A, *d_log_std = d_mean + A;
        float dlp = d_log_prob ? d_log_prob[i] : 0.0f;
        for (int j = 0; j < A; j++) {
            float t = tanhf(ui[j]);
            /* d/du of action is 1 - t^2; of log_prob (its tanh correction) is 2 t. */
            float du = 2.0f * t * dlp;
            if (d_action) du += d_action[(size_t)i * A + j] * (1.0f - t * t);
            d_mean[j] = du;
            float raw = log_std[j];
            if (raw < NN_LOG_STD_MIN || raw > NN_LOG_STD_MAX) {
                d_log_std[j] = 0.0f;
            } else {
                /* u depends on log_std through std * noise; the Gaussian term adds -1. */
                d_log_std[j] = du * expf(raw) * eps[j] - dlp;
            }
        }
    }
}

void nn_tanh_gaussian_mode(const float *head, int B, int A, float *action) {
    for (int i = 0; i < B; i++) {
        const float *mean = head + (size_t)i * 2 * A;
        for (int j = 0; j < A; j++) action[(size_t)i * A + j] = tanhf(mean[j]);
    }
}

void nn_gaussian_log_density(const float *x, const float *mean, const float *log_std,
                             int log_std_stride, int B, int D, float *out) {
    for (int i = 0; i < B; i++) {
        const float *xi = x + (size_t)i * D, *mi = mean + (size_t)i * D;
        const float *ls = log_std + (size_t)i * log_std_stride;
        float s = 0.0f;
        for (int j = 0; j < D; j++) {
            float z = (xi[j] - mi[j]) * expf(-ls[j]);
            s += -0.5f * z * z - ls[j] - HALF_LOG_2PI;
        }
        out[i] = s;
    }
}

void nn_gaussian_log_density_backward(const float *x, const float *mean, const float *log_std,
                                      int log_std_stride, const float *dout, int B, int D,
                                      float *d_mean, float *d_log_std) {
    for (int i = 0; i < B; i++) {
        const float *xi = x + (size_t)i * D, *mi = mean + (size_t)i * D;
        const float *ls = log_std + (size_t)i * log_std_stride;
        float *dls = d_log_std ? d_log_std + (size_t)i * log_std_stride : NULL;
        for (int j = 0; j < D; j++) {
            float inv_std = expf(-ls[j]);
            float z = (xi[j] - mi[j]) * inv_std;
            /* d/dmean = z / std; d/dlog_std = z^2 - 1. */
            if (d_mean) d_mean[(size_t)i * D + j] = dout[i] * z * inv_std;
            if (dls) dls[j] += dout[i] * (z * z - 1.0f);
        }
    }
}
