/* zmq_uv: see zmq_uv.h. */
#include "zmq_uv.h"
#include <stdio.h>
#include <zmq.h>

int zmq_uv_poll_start(uv_loop_t *loop, uv_poll_t *h, void *sock, void *data, uv_poll_cb cb,
                      char *err, size_t errcap) {
    int fd;
    size_t len = sizeof fd;
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) != 0) {
        snprintf(err, errcap, "ZMQ_FD: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    int rc = uv_poll_init(loop, h, fd);
    if (rc == 0) {
        h->data = data;
        rc = uv_poll_start(h, UV_READABLE, cb);
    }
    if (rc != 0) {
        snprintf(err, errcap, "uv_poll: %s", uv_strerror(rc));
        return -1;
    }
    return 0;
}

int zmq_uv_readable(void *sock) {
    int events = 0;
    size_t len = sizeof events;
    return zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN);
}
