/* zmq_uv: ZeroMQ sockets on a libuv loop, as the learner and the replay run them. ZMQ_FD only
 * signals edges (something changed), so a loop woken by it reads until zmq_uv_readable says the
 * socket is empty, and looks again after any send or receive before it sleeps. */
#ifndef ODAC_ZMQ_UV_H
#define ODAC_ZMQ_UV_H
#include <stddef.h>
#include <uv.h>

/* Watches sock's ZMQ_FD with h (uv_poll, readable) calling cb; h->data = data, which also marks
 * h as initialised (needing uv_close). 0, or -1 with a message. */
int zmq_uv_poll_start(uv_loop_t *loop, uv_poll_t *h, void *sock, void *data, uv_poll_cb cb,
                      char *err, size_t errcap);
/* A message waits on sock (ZMQ_EVENTS has ZMQ_POLLIN). */
int zmq_uv_readable(void *sock);

#endif
